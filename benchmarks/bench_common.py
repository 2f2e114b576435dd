"""Times common.deconv.richardson_lucy and common.matching.match_points against library baselines.

* Lucy-Richardson (2 iterations, MapDe's 11x11 mapping filter as PSF) vs
  ``skimage.restoration.richardson_lucy(..., clip=False)`` on square maps of growing size, and on a
  batch of 16 tiles (scikit-image loops over them), in float64 and in float32 (network outputs).
* Matching (radius 6 px, maximum-cardinality then minimum-distance) vs a dense Hungarian baseline:
  ``scipy.optimize.linear_sum_assignment`` on the full N x N distance matrix with far pairs priced
  above any total, which gives the same optimum. Points: N annotations uniform at a density of one
  cell per 100 px^2, predictions = annotations + N(0, 2 px) noise with 10% dropped and 10% spurious.

Each timing is the best of ``--repeats`` runs. Results go to ``results/benchmarks/common.{md,csv}``.

Usage:
    python benchmarks/bench_common.py [--repeats 3] [--out results/benchmarks/common] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np
import pandas as pd
import scipy
import skimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from skimage.restoration import richardson_lucy as sk_rl

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.deconv import richardson_lucy  # noqa: E402
from common.labels import mapping_filter  # noqa: E402
from common.matching import match_points  # noqa: E402
from common.reporting import hardware_summary, write_table  # noqa: E402


def best_of(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_deconv(sizes, repeats):
    rng = np.random.default_rng(0)
    psf = mapping_filter()
    rows = []
    for dtype in (np.float64, np.float32):
        for size in sizes:
            img = rng.random((size, size)).astype(dtype)
            t_ours, a = best_of(lambda: richardson_lucy(img, psf, 2), repeats)
            t_sk, b = best_of(lambda: sk_rl(img, psf.astype(dtype), num_iter=2, clip=False), repeats)
            rows.append({"task": "Lucy-Richardson", "size": f"{size}x{size} {np.dtype(dtype).name}", "ours_s": t_ours,
                         "baseline_s": t_sk, "baseline": "skimage.restoration.richardson_lucy",
                         "max_abs_diff": float(np.abs(a - b).max())})
        batch = rng.random((16, 256, 256)).astype(dtype)
        t_ours, a = best_of(lambda: richardson_lucy(batch, psf, 2), repeats)
        t_sk, b = best_of(lambda: np.stack([sk_rl(x, psf.astype(dtype), num_iter=2, clip=False) for x in batch]),
                          repeats)
        rows.append({"task": "Lucy-Richardson", "size": f"16 x 256x256 batch {np.dtype(dtype).name}",
                     "ours_s": t_ours, "baseline_s": t_sk, "baseline": "skimage.restoration.richardson_lucy (loop)",
                     "max_abs_diff": float(np.abs(a - b).max())})
    return rows


def make_points(n, rng):
    side = np.sqrt(n * 100.0)
    gt = rng.uniform(0, side, (n, 2))
    keep = rng.random(n) > 0.1
    pred = gt[keep] + rng.normal(0, 2.0, (keep.sum(), 2))
    pred = np.concatenate([pred, rng.uniform(0, side, (n // 10, 2))])
    return pred, gt


def dense_hungarian(pred, gt, radius):
    d = cdist(pred, gt)
    big = radius * (min(d.shape) + 1) + 1.0
    cost = np.where(d <= radius, d, big)
    r, c = linear_sum_assignment(cost)
    return int((cost[r, c] < big).sum())


def bench_matching(sizes, dense_max, repeats):
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        pred, gt = make_points(n, rng)
        t_ours, res = best_of(lambda: match_points(pred, gt, 6.0), repeats)
        if n <= dense_max:
            t_dense, tp_dense = best_of(lambda: dense_hungarian(pred, gt, 6.0), repeats)
            note = "same TP" if tp_dense == res.tp else f"TP differs: dense {tp_dense} vs ours {res.tp}"
        else:
            t_dense, note = float("nan"), "dense matrix too large (not run)"
        rows.append({"task": "matching r=6", "size": f"{n} points", "ours_s": t_ours, "baseline_s": t_dense,
                     "baseline": "dense linear_sum_assignment", "max_abs_diff": np.nan, "note": note})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="results/benchmarks/common")
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    args = ap.parse_args(argv)
    sizes_rl = [256, 512] if args.quick else [256, 512, 1024, 2000, 4000]
    sizes_m = [100, 1000] if args.quick else [100, 1000, 3000, 6000, 20_000, 100_000]
    t0 = time.time()
    rows = bench_deconv(sizes_rl, args.repeats) + bench_matching(sizes_m, 6000, args.repeats)
    df = pd.DataFrame(rows).set_index("task")
    df["speed-up"] = df["baseline_s"] / df["ours_s"]
    cols = ["size", "ours_s", "baseline_s", "speed-up", "baseline", "max_abs_diff", "note"]
    df = df[[c for c in cols if c in df.columns]]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string())
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    meta = {
        "command": "python benchmarks/bench_common.py" + (" --quick" if args.quick else "")
                   + f" --repeats {args.repeats}",
        "hardware": hardware_summary(),
        "libraries": f"scipy {scipy.__version__}, scikit-image {skimage.__version__}, opencv {cv2.__version__}",
        "timing": f"best of {args.repeats} runs, wall-clock seconds; OMP_NUM_THREADS={threads}",
        "data": "random maps (deconvolution); random points, 1 cell / 100 px^2, 2 px jitter, "
                "10% missed, 10% spurious (matching)",
        "total wall time": f"{time.time() - t0:.0f} s",
    }
    write_table(df, args.out, title="common: Lucy-Richardson and point matching vs library baselines", meta=meta,
                floatfmt=".4g")
    print(f"written to {args.out}.md / .csv")


if __name__ == "__main__":
    main()
