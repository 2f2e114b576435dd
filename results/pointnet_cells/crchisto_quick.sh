#!/usr/bin/env bash
# The recorded CRCHistoPhenotypes run on a 2-core CPU: the quick preset (VGG16 at width 0.25 from random
# weights, 128 px crops, 40 epochs, AdamW 1e-3) on CRCHisto's sfcn-opi split (70 train / 10 val / 20 test
# images of 500 x 500 px, 4 classes; dots without a class are detection-only), Table 2's rows and the U-Net
# density competitor. Run it with the environment's python first on PATH (e.g. PATH=.venv/bin:$PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m pointnet_cells reproduce --quick --data crchisto --out runs/pointnet_crchisto_quick "$@"
