"""Time of calibration (the threshold and peak-distance search on validation maps), before and after
the local maxima are found once per peak distance (issue 27).

``python -m mapde train --model mapde --data bccd --quick --epochs 2`` spent more than 6 minutes
calibrating on BCCD's 87 validation images, because every threshold of the sweep recomputed a maximum
filter (``peak_points``). This benchmark loads a trained MapDe run (default: the mapde-crchisto preset's
folder, so the maps have real peaks), computes its maps of the BCCD validation images once, then times
``predictor.calibrate(val, maps)`` - every location method's search - with this checkout's code or
another's (``--code``, to time the code before the change back to back).

Usage:
    python benchmarks/bench_calibration.py --code ../before --out /tmp/calib_before
    python benchmarks/bench_calibration.py --baseline /tmp/calib_before.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# --code DIR (read before the imports): time another checkout's code with this script (before / after)
import checkout  # noqa: E402

CODE = checkout.use()
from common.logs import quiet_tensorflow  # noqa: E402

quiet_tensorflow()

import pandas as pd  # noqa: E402

from common import contract  # noqa: E402
from common.reporting import hardware_summary, write_table  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="bccd")
    p.add_argument("--run", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mapde",
                                                 "presets", "mapde-crchisto"), help="a MapDe run folder")
    p.add_argument("--images", type=int, default=None, help="only the first N validation images")
    p.add_argument("--code", default=None, help="time another checkout's code with this script")
    p.add_argument("--baseline", default=None, metavar="CSV", help="a CSV this script wrote with --code")
    p.add_argument("--out", default="results/benchmarks/calibration")
    a = p.parse_args(argv)
    t_all = time.time()
    paper = contract.get("mapde")
    val = paper.load_split(a.data, "val", 0)
    if a.images:
        val = type(val)(list(val)[:a.images], val.description)
    pred = paper.load(a.run)
    t = time.time()
    maps = [pred.maps(s.image) for s in val]
    t_maps = time.time() - t
    t = time.time()
    cal = pred.calibrate(val, maps)
    t_cal = time.time() - t
    row = {"code": checkout.label(CODE, a.code is not None), "data": f"{a.data} val",
           "images": len(val), "methods": len(cal.params), "settings tried": len(cal.sweep),
           "calibrate s": round(t_cal, 2), "maps s (not in calibrate)": round(t_maps, 2)}
    df = pd.DataFrame([row])
    if a.baseline:
        df = pd.concat([pd.read_csv(a.baseline), df], ignore_index=True)
    meta = {"what": "MapDePredictor.calibrate(val, maps) over every location method (deconv raw and label "
                    f"estimate, peak with its distance grid, feat) of the run {a.run}",
            "command": "python benchmarks/bench_calibration.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "hardware": hardware_summary(), "wall time": f"{time.time() - t_all:.0f} s"}
    if a.baseline:
        meta["before"] = (f"the --code rows come from {a.baseline}, written by `bench_calibration.py --code CHECKOUT "
                          "--out ...` on the same machine just before this run (background work paused)")
    write_table(df.set_index("code"), a.out, "Calibration time", meta, floatfmt=".2f")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
