#!/usr/bin/env bash
# The paper-size BCCD run: YOLOv3 (Darknet-53) at 416 px, the paper config (100 target epochs, stage 1 and 2 of
# 50 epochs each on the synthetic stand-in sources, multi-scale 320-608 in stage 2), scratch vs transfer.
# GPU-sized (about 10x the CPU quick run's compute per image); not run yet. With real COCO weights, pass
# --weights yolov3.weights (converted Darknet file) to replace stages 1 and 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m yolo_transfer reproduce --data bccd --out runs/bccd_full "$@"
