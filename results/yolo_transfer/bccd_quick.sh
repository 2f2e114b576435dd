#!/usr/bin/env bash
# The recorded BCCD run on a 2-core CPU: the quick preset's network (YOLOv3-tiny, half width) at BCCD's
# letterboxed 416 px, the quick preset's 30 target epochs per row, stage 1 of 25 epochs; target mAP 0.5 set before
# the run, not searched. The sources are the quick preset's (PD-L1 cells, then H&E nuclei: the order chosen on
# synthetic validation, results/yolo_transfer/source_selection.md). Run it with the environment's python first on PATH (e.g. PATH=.venv/bin:$PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m yolo_transfer reproduce --quick --data bccd --set input_size=416 \
  --set "multiscale_sizes=[320,352,384,416,448,480,512]" --set source_epochs=25 --set target_map=0.5 \
  --out runs/bccd_quick "$@"
