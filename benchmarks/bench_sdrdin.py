"""S-DRDIN vs the two separate DRDIN models: training images/s and inference megapixels/s.

The paper's point (Table A.4): one joint model for detection and classification trains faster than
DRDIN-detection plus DRDIN-classification trained one after the other. Measured here:

* Training: ``Model.fit`` steps on random patches with S-DRDIN's losses (pixel-weighted
  cross-entropy + binary cross-entropy) for S-DRDIN, and for each single-task DRDIN network with its
  own loss; the "DRDIN pair" row is the two networks one after the other (time per image added).
  Paper config (224 px, base 16, depth 4, batch 4) and the quick preset (96 px, base 8, batch 8).
  Warm-up steps are excluded; images/s = steps x batch / seconds.
* Inference: ``SDRDINPredictor.maps`` (detection and class maps) on a random RGB image, tiled
  (512 px tiles with the receptive-field margin); megapixels/s = H x W / 1e6 / seconds.

Each timing is the best of ``--repeats`` runs. Results go to ``results/benchmarks/sdrdin.{md,csv}``.

Usage:
    python benchmarks/bench_sdrdin.py [--repeats 3] [--out results/benchmarks/sdrdin] [--quick]
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
from sdrdin import SDRDINConfig  # noqa: E402
from sdrdin.inference import SDRDINPredictor  # noqa: E402
from sdrdin.model import build_network, tasks_of  # noqa: E402
from sdrdin.train import _losses  # noqa: E402

N_CLASSES = 6


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _data(cfg, n):
    rng = np.random.default_rng(0)
    s = cfg.input_size
    x = rng.uniform(0, 255, (n, s, s, 3)).astype(np.float32)
    k = rng.integers(0, N_CLASSES + 1, (n, s, s))
    y = {"class": np.eye(N_CLASSES + 1, dtype=np.float32)[k], "det": (k < N_CLASSES).astype(np.float32)[..., None]}
    return x, y


def _network(cfg, row):
    keras.utils.set_random_seed(0)
    part = cfg.variant(row)
    return build_network(part if row == "S-DRDIN" else part.with_overrides(branches=row.split("-")[1]), N_CLASSES)


def bench_training(name, cfg, steps, repeats):
    n = cfg.batch_size * steps
    x, y = _data(cfg, n)
    rows, per_image = [], {}
    for row in ("S-DRDIN", "DRDIN-detection", "DRDIN-classification"):
        model = _network(cfg, row)
        tasks = tasks_of(model)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=_losses(cfg.variant(row), tasks))
        yy = {k: y[k] for k in tasks}
        model.fit(x[:cfg.batch_size * 2], {k: v[:cfg.batch_size * 2] for k, v in yy.items()},
                  batch_size=cfg.batch_size, epochs=1, verbose=0)
        best = min(_timed(lambda: model.fit(x, yy, batch_size=cfg.batch_size, epochs=1, verbose=0, shuffle=False))
                   for _ in range(repeats))
        per_image[row] = best / n
        rows.append({"task": "train step", "config": name, "model": row,
                     "size": f"{cfg.batch_size} x {cfg.input_size}x{cfg.input_size}", "seconds": best,
                     "throughput": n / best, "unit": "images/s", "params": model.count_params()})
    pair = per_image["DRDIN-detection"] + per_image["DRDIN-classification"]
    rows.append({"task": "train step", "config": name, "model": "DRDIN pair (detection + classification)",
                 "size": rows[-1]["size"], "seconds": pair * n, "throughput": 1 / pair, "unit": "images/s",
                 "params": rows[1]["params"] + rows[2]["params"]})
    return rows


def bench_inference(name, cfg, side, repeats):
    img = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    joint = _network(cfg, "S-DRDIN")
    det, cls = _network(cfg, "DRDIN-detection"), _network(cfg, "DRDIN-classification")
    rows = []
    for label, pred, params in (("S-DRDIN", SDRDINPredictor(joint, cfg, classifier=joint), joint.count_params()),
                                ("DRDIN pair (detection + classification)", SDRDINPredictor(det, cfg, classifier=cls),
                                 det.count_params() + cls.count_params())):
        pred.maps(img[:64, :64])   # builds the fully convolutional twins
        best = min(_timed(lambda: pred.maps(img)) for _ in range(repeats))
        rows.append({"task": "maps (det + class)", "config": name, "model": label,
                     "size": f"{side}x{side}" + (f" (tiled {pred.tile_size})" if side > pred.tile_size else ""),
                     "seconds": best, "throughput": side * side / 1e6 / best, "unit": "MP/s", "params": params})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="results/benchmarks/sdrdin")
    p.add_argument("--quick", action="store_true", help="smoke sizes (for tests)")
    a = p.parse_args(argv)
    t0 = time.time()
    configs = {"paper (224, base 16, depth 4, batch 4)": SDRDINConfig(),
               "quick (96, base 8, depth 4, batch 4)": SDRDINConfig.quick()}
    if a.quick:
        smoke = SDRDINConfig.quick(input_size=32, patch_stride=16, base_filters=4, depth=3, batch_size=2)
        configs = {"smoke (32, base 4, depth 3, batch 2)": smoke}
    rows = []
    steps = 1 if a.quick else 5
    sides = (128,) if a.quick else (1024,)
    for name, cfg in configs.items():
        rows += bench_training(name, cfg, steps, a.repeats)
        for side in sides:
            rows += bench_inference(name, cfg, side, a.repeats)
    df = pd.DataFrame(rows).set_index("task")
    meta = {
        "what": "S-DRDIN (one joint network) vs DRDIN-detection + DRDIN-classification (two networks), "
                "random weights",
        "command": "python benchmarks/bench_sdrdin.py" + (" --quick" if a.quick else "") + f" --repeats {a.repeats}",
        "hardware": hardware_summary(),
        "libraries": f"keras {keras.__version__}, backend {keras.backend.backend()}",
        "timing": f"best of {a.repeats} runs after warm-up, wall-clock seconds; CPU, default thread pools",
        "data": "random images and targets (throughput does not depend on content)",
        "total wall time": f"{time.time() - t0:.0f} s",
    }
    write_table(df, a.out, "sdrdin: joint vs separate networks, training and inference throughput", meta,
                floatfmt=".4g")
    print(df.to_string())


if __name__ == "__main__":
    main()
