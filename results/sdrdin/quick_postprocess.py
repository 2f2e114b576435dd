"""Section 2.5's constants for the quick preset, chosen on validation data only.

For every blob-located pipeline of a finished ``python -m sdrdin reproduce --quick`` run (U-Net,
DRDIN, S-DRDIN-gradient, S-DRDIN; split 0), this sweeps on that split's VALIDATION images:

* detection: ``min_area`` x ``peak_window`` (the threshold tuned for F1 at 10 px at each setting, as
  the pipeline does), giving validation detection F1;
* classification: ``vote_box`` (eq. 3's square) at the best detection setting, giving validation
  weighted classification F1 of the detected annotated cells.

The constants the quick preset uses are the ones with the best MEAN validation F1 over the four
pipelines (so no row picks its own), and the test split is never read. Writes
``quick_postprocess_{detection,classification}.{md,csv}`` beside this script.

Usage:
    python results/sdrdin/quick_postprocess.py RUN   # RUN = <out>/sdrdin of a reproduce --quick run
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from common.logs import quiet_tensorflow  # noqa: E402

quiet_tensorflow()

import pandas as pd  # noqa: E402

from common.evaluation import score  # noqa: E402
from common.reporting import hardware_summary, write_table  # noqa: E402
from sdrdin.paper import PAPER, load  # noqa: E402
from sdrdin.reproduce import resplit  # noqa: E402

MIN_AREA = (50, 20, 10, 5, 2)
PEAK_WINDOW = (15, 11, 9, 7, 5, 3)
VOTE_BOX = (49, 25, 15, 9, 5, 3, 1)
PIPELINES = ("U-Net", "DRDIN", "S-DRDIN-gradient", "S-DRDIN")


def main(run: str) -> None:
    t0 = time.time()
    base = load(os.path.join(run, "runs", "split0", "S-DRDIN")).config
    tr, va, _ = PAPER.load_splits(base.data, base.seed)
    _, val = resplit(tr, va, base.seed, base.val_fraction)
    rows = []
    for pipe in PIPELINES:
        pred = load(os.path.join(run, "runs", "split0", pipe))
        maps = [pred.maps(s.image) for s in val]
        best = None
        for ma in MIN_AREA:
            for pw in PEAK_WINDOW:
                pred.config = pred.config.with_overrides(min_area=ma, peak_window=pw)
                params = next(iter(pred.calibrate(val, maps=maps).params.values()))
                rows.append({"pipeline": pipe, "stage": "detection", "min_area": ma, "peak_window": pw,
                             "vote_box": None, "threshold": params["threshold"], "val F1": params["F1"]})
                if best is None or params["F1"] > best[2]:
                    best = (ma, pw, params["F1"], params["threshold"])
        ma, pw, _, thr = best
        for box in VOTE_BOX:
            pred.config = pred.config.with_overrides(min_area=ma, peak_window=pw, vote_box=box)
            dets = [pred.detect(m, s.image, threshold=thr) for m, s in zip(maps, val)]
            rows.append({"pipeline": pipe, "stage": "classification", "min_area": ma, "peak_window": pw,
                         "vote_box": box, "threshold": thr,
                         "val F1": float(score(dets, val, [base.match_radius]).iloc[0]["Class F1"])})
        print(pipe, "done", flush=True)
    df = pd.DataFrame(rows)
    det = df[df.stage == "detection"].groupby(["min_area", "peak_window"])["val F1"].mean().rename("mean val F1")
    df["vote_box"] = df["vote_box"].astype("Int64")
    cls = df[df.stage == "classification"].groupby("vote_box")["val F1"].mean().rename("mean val class F1")
    wide = df[df.stage == "detection"].pivot_table(index=["min_area", "peak_window"], columns="pipeline",
                                                    values="val F1")[list(PIPELINES)]
    wide = wide.join(det).sort_values("mean val F1", ascending=False)
    cwide = df[df.stage == "classification"].pivot_table(index="vote_box", columns="pipeline",
                                                          values="val F1")[list(PIPELINES)].join(cls)
    cwide = cwide.sort_values("mean val class F1", ascending=False)
    (ma, pw), box = det.idxmax(), cls.idxmax()
    meta = {"what": "validation F1 of section 2.5's constants on a quick run's trained networks (split 0); "
                    f"best mean: min_area {ma}, peak_window {pw}, vote_box {box}",
            "data": f"{base.data}: the validation images of split 0 ({len(val)} images, "
                    f"{sum(len(s.points) for s in val)} cells); the test split is not read",
            "run": run, "command": f"python results/sdrdin/quick_postprocess.py {run}",
            "hardware": hardware_summary(), "wall time": f"{time.time() - t0:.0f} s"}
    here = os.path.dirname(os.path.abspath(__file__))
    wide.index = [f"min_area {a}, peak_window {w}" for a, w in wide.index]
    wide.index.name = "setting"
    write_table(wide, os.path.join(here, "quick_postprocess_detection"),
                "S-DRDIN quick preset: detection constants on validation", meta, floatfmt=".3f")
    write_table(cwide, os.path.join(here, "quick_postprocess_classification"),
                "S-DRDIN quick preset: eq. 3 vote box on validation", meta, floatfmt=".3f")
    print(wide.head(8).to_string())
    print(cwide.to_string())


if __name__ == "__main__":
    main(sys.argv[1])
