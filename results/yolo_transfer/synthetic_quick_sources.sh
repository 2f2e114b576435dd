#!/usr/bin/env bash
# Which offline source stands in for MS COCO in stage 1: the transfer row of the quick preset on synthetic
# blood (seed 0) with three stage-1 sources, each run by the same command but for --set source1 / source2,
# then one table of them (synthetic_quick_sources/sources.md). Scratch does not depend on the source: its
# row is in synthetic_quick. Run it with the environment's python first on PATH (e.g. PATH=.venv/bin:$PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=runs/yolo_sources
run() {  # name source1 source2
  python -m yolo_transfer reproduce --quick --rows transfer --set "source1=$2" --set "source2=$3" \
    --out "$out/$1" "${@:4}"
}
run he_first synthetic:he:boxes=1 synthetic:pdl1:boxes=1 "$@"
run shapes_first synthetic:shapes synthetic:pdl1:boxes=1 "$@"
run pdl1_first synthetic:pdl1:boxes=1 synthetic:he:boxes=1 "$@"
python - "$out" <<'PY'
import sys, pandas as pd
from common.reporting import to_markdown
out = sys.argv[1]
rows = []
for name, s1, s2 in (("he_first", "synthetic:he:boxes=1", "synthetic:pdl1:boxes=1"),
                     ("shapes_first", "synthetic:shapes", "synthetic:pdl1:boxes=1"),
                     ("pdl1_first", "synthetic:pdl1:boxes=1", "synthetic:he:boxes=1")):
    t = pd.read_csv(f"{out}/{name}/yolo_transfer/training_time.csv").set_index("Row").loc["transfer"]
    d = pd.read_csv(f"{out}/{name}/yolo_transfer/detection.csv").set_index("Class").loc["mAP"]
    rows.append({"stage 1 source (for COCO)": s1, "stage 2 source (for VOC)": s2,
                 "epochs to target 0.3": t["epochs to target (ours)"],
                 "seconds to target": round(t["seconds to target (ours)"], 1),
                 "best val mAP@0.5": round(t["best val mAP@0.5 (ours)"], 3),
                 "test mAP@0.5": round(d["AP@0.5 transfer (ours)"], 3)})
df = pd.DataFrame(rows)
df.to_csv(f"{out}/sources.csv", index=False)
with open(f"{out}/sources.md", "w") as f:
    f.write(to_markdown(df.set_index("stage 1 source (for COCO)")) + "\n")
print(to_markdown(df.set_index("stage 1 source (for COCO)")))
PY
