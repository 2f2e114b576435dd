#!/usr/bin/env bash
# Full-size S-DRDIN run on CRCHistoPhenotypes: the paper's config (224x224 patches every 120 px,
# base 16, depth 4, Adam 1e-3, batch 4, 100 epochs keeping the best validation loss; section 2.5's
# constants: components >= 50 px, 15 x 15 maxima, 49 x 49 class vote), all five pipelines of Tables
# 2-3 (U-Net pair, CONCORDe-Net + SC-CNN, DRDIN pair, S-DRDIN-gradient, S-DRDIN) on 3 re-splits of
# train + val, as the paper reports (mean +- std).
#
# CRCHisto has 4 cell types and 500 x 500 images at 0.5 um/px (the paper: 6 types of mIHC at
# 0.44 um/px), so Table A.5 lists CRCHisto's classes and the paper's per-class values are not beside it.
# Cost: train + val (80 images) re-split 56:24, 16 patches per image, so 224 steps of 4 patches per
# epoch and 22,400 steps per network per split; a GPU is the sensible place for it.
# Interrupted runs continue with --resume (every network's run folder keeps its last-NNNN.keras
# checkpoint, state.json and history.csv).
#
# Usage: bash results/sdrdin/crchisto_full.sh [OUT]   (default runs/sdrdin_crchisto_full)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-runs/sdrdin_crchisto_full}"
.venv/bin/python -m sdrdin reproduce --data crchisto --out "$OUT" --resume
mkdir -p results/sdrdin/crchisto_full
cp "$OUT"/sdrdin/{table2,table3,table_a4,table_a5,results_per_split}.* results/sdrdin/crchisto_full/
