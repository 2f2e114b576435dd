"""MapDe in bfloat16 against float32 (issue 27): validation F1 and time of the same run at both precisions.

``MapDePredictor(precision="bfloat16")`` (``--precision bfloat16``) computes in bfloat16 with float32 weights
and outputs; on CPUs with AMX / AVX512-BF16 it runs about 2.5 times faster. This script predicts the
CRCHisto validation split with a MapDe run at both precisions with the run's calibrated post-processing
and records each method's F1 at 8 px and the time. Only validation images are read.

Usage (from the repository root)::

    python results/mapde/precision.py --run mapde-crchisto --out results/mapde/precision
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a trained MapDe run folder or preset name")
    p.add_argument("--out", default="results/mapde/precision")
    p.add_argument("--data-root", default=None)
    a = p.parse_args(argv)
    from common.logs import quiet_tensorflow

    quiet_tensorflow()
    import numpy as np
    import pandas as pd

    import mapde
    from common import contract
    from common.matching import detection_scores
    from common.reporting import hardware_summary, write_table

    t_all = time.time()
    paper = contract.get("mapde")
    val = paper.load_split("crchisto", "val", 0, a.data_root)
    rows, ref = [], None
    for precision in ("float32", "bfloat16"):
        pred = mapde.load(a.run, precision=precision)
        pred.maps(val[0].image)   # builds the inference function
        t = time.time()
        maps = [pred.maps(s.image) for s in val]
        row = {"precision": precision, "val seconds": time.time() - t}
        ref = ref or maps
        row["max abs map change"] = max(float(np.max(np.abs(x["map"] - y["map"]))) for x, y in zip(maps, ref))
        for method in pred.methods:
            dets = [pred.detect(mp, s.image, method=method) for mp, s in zip(maps, val)]
            row[f"val F1 {method}"] = detection_scores([d.points for d in dets], [s.points for s in val], 8).f1
        rows.append(row)
        print(row, flush=True)
    write_table(pd.DataFrame(rows).set_index("precision"), a.out, "MapDe at float32 and bfloat16: validation F1 at "
                "8 px", meta={
                    "data": f"crchisto, validation split ({len(val)} images of 500 px); no test image read",
                    "model": f"{a.run} (MapDe width {pred.config.width:g}), post-processing as calibrated (float32)",
                    "command": "python results/mapde/precision.py " + " ".join(argv or sys.argv[1:]),
                    "hardware": hardware_summary(), "wall time": f"{time.time() - t_all:.0f} s"}, floatfmt=".4f")
    return 0


if __name__ == "__main__":
    sys.exit(main())
