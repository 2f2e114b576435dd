#!/usr/bin/env bash
# Full-size AwareNet run on CRCHistoPhenotypes: the paper's config (256x256 input, base 16, depth 4,
# Adam 1e-4, batch 16, up to 300 epochs with patience 50 on the validation loss), all five Table 2
# rows, then the classifier (up to 300 epochs, patience 30) with ROC/AUC and UMAP.
#
# Cost measured on the 2-core AMD EPYC CPU: 52 s per detector epoch (17 steps of 16 crops), so up to
# ~4.3 h per row and ~22 h for the five rows; a GPU is the sensible place for it. Interrupted runs
# continue with --resume (each row's run folder keeps its last-NNNN.keras checkpoint, state.json and history.csv,
# and resumes bit-identically).
#
# Usage: bash results/awarenet/crchisto_full.sh [OUT]   (default runs/crchisto_full)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-runs/crchisto_full}"
.venv/bin/python -m awarenet reproduce --data crchisto --out "$OUT" --resume
mkdir -p results/awarenet/crchisto_full
cp "$OUT"/awarenet/{table2,classification}.{md,csv} results/awarenet/crchisto_full/
