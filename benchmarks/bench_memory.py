"""Peak memory and time of each paper's ``predict`` on one large image (issue 24: bounded memory).

For every registered paper, a run of its quick preset (the quick architecture, trained one short epoch
on 4 synthetic images of 256 px: weights do not change memory) predicts one ``--size`` x ``--size`` RGB image
(default 6000: an H&E-like mosaic of CRCHisto tiles when the data is present, else the paper's synthetic
images) through ``cellrepro <paper> predict IMAGE --model RUN`` in a fresh process. Recorded: the
child's peak resident memory (its ``VmHWM``, ``benchmarks/peak.py``), the same for a 256 x 256 image
(start-up, libraries and model: the floor), wall seconds, cells found. With ``--presets`` the installed
presets are measured too. With ``--trained`` each run trains its full quick preset instead, so that the
predictor finds cells and its post-processing (S-DRDIN's class vote) is exercised; with ``--code DIR ...``
each named checkout trains and predicts its own runs (before / after a change), one row per checkout.

Usage:
    python benchmarks/bench_memory.py [--size 6000] [--papers sdrdin mapde ...] [--presets] [--trained]
                                      [--code DIR ...]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

#: Config fields that only set how long a run trains (the quick architecture is kept).
SHORT = {"epochs": 1, "steps_per_epoch": 2, "counter_epochs": 1, "classifier_epochs": 1, "sccnn_epochs": 1,
         "sccnn_patches": 256, "density_epochs": 1, "source_epochs": 1, "stage2_epochs": 1, "n_thresholds": 6}


def make_image(path: str, side: int) -> str:
    """A ``side`` x ``side`` PNG: CRCHisto tiles side by side (or random texture without the data)."""
    import cv2

    try:
        from common.datasets import load
        tiles = [s.image for s in load("crchisto", "train")]
    except Exception:   # the data is absent: memory does not depend on the content
        rng = np.random.default_rng(0)
        tiles = [rng.integers(0, 255, (500, 500, 3), dtype=np.uint8)]
    img = np.zeros((side, side, 3), np.uint8)
    k = 0
    for y in range(0, side, 500):
        for x in range(0, side, 500):
            t = tiles[k % len(tiles)]
            k += 1
            img[y:y + 500, x:x + 500] = t[:min(500, side - y), :min(500, side - x)]
    cv2.imwrite(path, img[..., ::-1])
    return path


def cells_found(out: str) -> int:
    import pandas as pd

    for name in sorted(os.listdir(out)):
        if name.startswith("big") and name.endswith(".csv"):
            return len(pd.read_csv(os.path.join(out, name)))
    return -1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=6000)
    p.add_argument("--papers", nargs="+", default=None, help="default: every registered paper but the template")
    p.add_argument("--presets", action="store_true", help="also measure every installed preset")
    p.add_argument("--trained", action="store_true", help="train each quick preset in full, not one short epoch")
    p.add_argument("--code", nargs="+", type=os.path.abspath, default=[ROOT], metavar="DIR",
                   help="checkouts measured, each training its own runs (default: this one)")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "benchmarks", "memory"))
    a = p.parse_args(argv)
    import pandas as pd
    from checkout import label
    from peak import run_measured

    from common.contract import papers
    from common.presets import presets
    from common.reporting import hardware_summary, write_table

    t0 = time.time()
    registry = papers()
    names = a.papers or [n for n in sorted(registry) if n != "paper_template"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = make_image(os.path.join(tmp, "big.png"), a.size)
        small = make_image(os.path.join(tmp, "small.png"), 256)
        models = []   # (paper, model, what, code)
        for (k, code), name in itertools.product(enumerate(a.code), names):
            paper = registry[name]
            fields = set(paper.config_class().field_types())
            short = {} if a.trained else {k: v for k, v in SHORT.items() if k in fields}
            run = os.path.join(tmp, "runs", str(k), name)
            sets = [x for k, v in short.items() for x in ("--set", f"{k}={v}")]
            t = time.time()
            data = [] if a.trained else ["--data", "synthetic:images=4:size=256"]
            run_measured([name, "train", "--quick", *data, *sets, "--out", run, "--verbose", "0"], code)
            print(f"{name}: trained the quick architecture in {time.time() - t:.0f} s", flush=True)
            models.append((name, run, f"quick, {paper.default_row}", code))
        if a.presets:
            models += [(pr.paper, pn, f"preset {pn}", code) for pn, pr in sorted(presets().items()) for code in a.code]
        for paper, model, what, code in models:
            out_s, out_b = (os.path.join(tmp, "o", label(code, False), model.replace("/", "_"), x) for x in "sb")
            _, floor = run_measured([paper, "predict", small, "--model", model, "--out", out_s], code)
            wall, peak = run_measured([paper, "predict", big, "--model", model, "--out", out_b], code)
            rows.append({"paper": paper, "model": what, "code": label(code, code != ROOT),
                         "image": f"{a.size} x {a.size}",
                         "peak RSS GB": round(peak, 2), "floor GB (256 px)": round(floor, 2),
                         "above floor GB": round(peak - floor, 2), "seconds": round(wall, 1),
                         "cells": cells_found(out_b)})
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    meta = {"what": f"peak resident memory of `cellrepro <paper> predict IMAGE --model RUN` on one {a.size} x {a.size} "
                    "RGB image, each in a fresh process (VmHWM); floor = the same on a 256 x 256 image",
            "models": "each paper's quick preset (default row) trained in full on its synthetic data "
                      "(`train --quick`)" if a.trained else
                      "each paper's quick architecture (default row) trained one short epoch on its synthetic data "
                      f"(4 images of 256 px; {', '.join(f'{k}={v}' for k, v in SHORT.items())} where the config "
                      "has them)",
            "code": "each run trains and predicts under the same checkout: " +
                    ", ".join(label(c, c != ROOT) for c in a.code),
            "image": "CRCHisto training tiles side by side (research use only), or random texture without the data",
            "command": "python benchmarks/bench_memory.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "hardware": hardware_summary(), "wall time": f"{time.time() - t0:.0f} s"}
    write_table(df.set_index("paper"), a.out, f"Peak memory of predict on a {a.size} x {a.size} image", meta,
                floatfmt=".2f")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
