"""Inference seconds per 1920 x 1080 image: the point-proposal model vs a density-regression model.

The paper (Table 1) reports 0.11 s per 1920 x 1080 patch for its model and 2.31-3.04 s for the
density-regression competitors on an NVIDIA A100, and calls its model "nearly 23 times" faster than
Zhang et al.'s. Measured here, side by side on this machine:

* ours: ``PointPredictor.predict`` (pad to a multiple of 32, VGG16 + PFA + heads, threshold, argmax)
  at the paper's width (VGG16, 256-channel heads), the image in one pass and, with ``tile_size``
  512, in tiles;
* a density-regression competitor (U-Net, 1 + C maps): ``DensityPredictor.predict`` (network, local
  maxima, class at each peak), the image in one pass;
* the network forward pass alone for both, so post-processing is not hidden in the total.

Random weights (speed does not depend on them); each timing is the best of ``--repeats`` runs after
a warm-up. Results go to ``results/benchmarks/pointnet.{md,csv}``.

Usage:
    python benchmarks/bench_pointnet.py [--repeats 3] [--out results/benchmarks/pointnet] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common.logs import quiet_tensorflow  # noqa: E402

quiet_tensorflow()   # no TensorFlow start-up lines in the benchmark output

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.reporting import hardware_summary, write_table  # noqa: E402
from pointnet_cells import PointNetConfig  # noqa: E402
from pointnet_cells.inference import DensityPredictor, PointPredictor  # noqa: E402
from pointnet_cells.model import build_density_model, build_point_model  # noqa: E402

NAMES = ("PD-L1+ tumour", "PD-L1- tumour", "PD-L1+ non-tumour", "PD-L1- non-tumour")


def _best(fn, repeats):
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def bench(cfg, label, image, repeats):
    h, w = image.shape[:2]
    keras.utils.set_random_seed(0)
    rows = []
    point = build_point_model(cfg.variant("ours"), len(NAMES), verbose=False)
    pp = {"method": "proposals", "params": {"proposals": {"threshold": 0.5}}}
    for tile, how in ((max(h, w) + 32, "one pass"), (512, "512 px tiles")):
        pred = PointPredictor(point, cfg.with_overrides(tile_size=tile), pp, NAMES)
        rows.append({"model": "ours (Baseline+PFA+IC)", "config": label, "stage": f"predict, {how}",
                     "seconds": _best(lambda: pred.predict(image), repeats), "params": point.count_params()})
    x = image[None].astype(np.float32)
    xp = np.pad(x, ((0, 0), (0, (-h) % 32), (0, (-w) % 32), (0, 0)))
    rows.append({"model": "ours (Baseline+PFA+IC)", "config": label, "stage": "network forward",
                 "seconds": _best(lambda: point(xp, training=False), repeats), "params": point.count_params()})
    dcfg = cfg.variant("UNet")
    dens = build_density_model(dcfg, len(NAMES))
    dpp = {"method": "peaks", "params": {"peaks": {"threshold": 0.5, "min_distance": 4}}}
    dpred = DensityPredictor(dens, dcfg.with_overrides(tile_size=max(h, w) + 32), dpp, NAMES)
    rows.append({"model": "UNet density (1 + C maps)", "config": label, "stage": "predict, one pass",
                 "seconds": _best(lambda: dpred.predict(image), repeats), "params": dens.count_params()})
    xd = np.pad(x, ((0, 0), (0, (-h) % 8), (0, (-w) % 8), (0, 0)))
    rows.append({"model": "UNet density (1 + C maps)", "config": label, "stage": "network forward",
                 "seconds": _best(lambda: dens(xd, training=False), repeats), "params": dens.count_params()})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="results/benchmarks/pointnet")
    p.add_argument("--quick", action="store_true", help="smoke sizes (for tests)")
    a = p.parse_args(argv)
    t0 = time.time()
    rng = np.random.default_rng(0)
    if a.quick:
        image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
        configs = {"smoke (width 1/16, 96 x 128)": PointNetConfig(width=0.0625, head_channels=8, density_width=0.0625)}
    else:
        image = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
        configs = {"paper widths (VGG16, 256-channel heads; U-Net 32-256)": PointNetConfig(),
                   "quick preset widths": PointNetConfig.quick()}
    rows = []
    for label, cfg in configs.items():
        rows += bench(cfg, label, image, a.repeats)
    df = pd.DataFrame(rows).set_index("model")
    ratio = {}
    for label in configs:
        sub = df[df["config"] == label]
        ours = float(sub[sub["stage"] == "predict, one pass"].iloc[0]["seconds"])
        dens = float(sub[sub["stage"] == "predict, one pass"].iloc[1]["seconds"])
        ratio[label] = dens / ours
    h, w = image.shape[:2]
    meta = {
        "what": f"seconds per {w} x {h} RGB image, 4 classes, random weights",
        "density / ours (predict, one pass)": "; ".join(f"{k}: {v:.2f}x" for k, v in ratio.items()),
        "paper": "0.11 s (ours) vs 2.31-3.04 s (density models) per 1920 x 1080 patch on an NVIDIA A100",
        "command": "python benchmarks/bench_pointnet.py" + (" --quick" if a.quick else "") + f" --repeats {a.repeats}",
        "hardware": hardware_summary(),
        "libraries": f"keras {keras.__version__}, backend {keras.backend.backend()}",
        "timing": f"best of {a.repeats} runs after a warm-up, wall-clock seconds; CPU, default thread pools",
        "total wall time": f"{time.time() - t0:.0f} s",
    }
    write_table(df, a.out, "pointnet_cells: inference time per image, point proposals vs density regression", meta,
                floatfmt=".4g")
    print(df.to_string())


if __name__ == "__main__":
    main()
