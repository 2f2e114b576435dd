#!/usr/bin/env bash
# Full-size run on CRCHistoPhenotypes: the paper's config (VGG16 with ImageNet weights, 256-channel heads,
# AdamW 1e-4 with weight decay 1e-4, batch 8 of 256 px random resized crops, 200 epochs keeping the lowest
# validation loss), every row of Tables 1 and 2 and the Fig. 3 sweep over q = 0.1 ... 0.9.
#
# ImageNet weights: Keras' VGG16 no-top file (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5), given
# as VGG_WEIGHTS (nothing is downloaded at run time); without it VGG16 starts from random weights and the
# tables say so. CRCHisto is 20x: image_scale=2 brings it to the paper's 40x (see crchisto_quick.sh). Cost: 18 networks of 200 epochs (9 steps each); a GPU is the sensible place for it.
# Interrupted runs continue with --resume.
#
# Usage: VGG_WEIGHTS=/path/to/vgg16_notop.h5 bash results/pointnet_cells/crchisto_full.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-runs/pointnet_crchisto_full}"
WEIGHTS=()
if [ -n "${VGG_WEIGHTS:-}" ]; then WEIGHTS=(--set "vgg_weights=$VGG_WEIGHTS"); fi
.venv/bin/python -m pointnet_cells reproduce --data crchisto --out "$OUT" --resume --q-sweep --set image_scale=2.0 "${WEIGHTS[@]}"
mkdir -p results/pointnet_cells/crchisto_full
cp "$OUT"/pointnet_cells/{table1,table2,q_sweep}.* "$OUT"/pointnet_cells/command.txt results/pointnet_cells/crchisto_full/
