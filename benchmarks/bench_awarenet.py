"""Throughput of AwareNet's detector on this machine: training images/s and inference megapixels/s.

* Training: ``Model.fit`` steps of the weighted-Dice detector on random 256x256 batches of 16
  (the paper's config: base 16, depth 4) and on the quick preset (96x96, base 8, depth 3, batch 8);
  warm-up steps are excluded; images/s = steps x batch / seconds.
* Inference: ``AwareNetPredictor.maps`` on a random RGB image, one pass up to 1024 px
  and tiled (1024 px tiles, the receptive-field margin, batched) beyond; megapixels/s = H x W / 1e6 / seconds.

Each timing is the best of ``--repeats`` runs. Results go to ``results/benchmarks/awarenet.{md,csv}``.

Usage:
    python benchmarks/bench_awarenet.py [--repeats 3] [--out results/benchmarks/awarenet] [--quick]
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

from awarenet import AwareNetConfig, build_detector  # noqa: E402
from awarenet.inference import AwareNetPredictor  # noqa: E402
from awarenet.losses import WeightedDiceLoss  # noqa: E402
from common.reporting import hardware_summary, write_table  # noqa: E402


def bench_training(name, cfg, steps, repeats):
    rng = np.random.default_rng(0)
    n = cfg.batch_size * steps
    x = rng.random((n, cfg.input_size, cfg.input_size, 3), dtype=np.float32)
    y = np.concatenate([(rng.random((n, cfg.input_size, cfg.input_size, 1)) > 0.9),
                        rng.random((n, cfg.input_size, cfg.input_size, 1))], -1).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_detector(cfg)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=WeightedDiceLoss())
    model.fit(x[:cfg.batch_size * 2], y[:cfg.batch_size * 2], batch_size=cfg.batch_size, epochs=1, verbose=0)
    best = min(_timed(lambda: model.fit(x, y, batch_size=cfg.batch_size, epochs=1, verbose=0, shuffle=False))
               for _ in range(repeats))
    return {"task": "train step", "config": name,
            "size": f"{cfg.batch_size} x {cfg.input_size}x{cfg.input_size}", "seconds": best,
            "throughput": n / best, "unit": "images/s", "params": model.count_params()}


def bench_inference(name, cfg, side, repeats):
    keras.utils.set_random_seed(0)
    model = build_detector(cfg)
    img = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    pred = AwareNetPredictor(model)
    pred.maps(img[:64, :64])  # builds the fully convolutional twin
    best = min(_timed(lambda: pred.maps(img)) for _ in range(repeats))
    return {"task": "probability map", "config": name, "size": f"{side}x{side}"
            + (f" (tiled {pred.tile_size}, margin {pred.margin})" if side > pred.tile_size else ""), "seconds": best,
            "throughput": side * side / 1e6 / best, "unit": "MP/s", "params": model.count_params()}


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="results/benchmarks/awarenet")
    p.add_argument("--quick", action="store_true", help="smoke sizes (for tests)")
    a = p.parse_args(argv)
    t0 = time.time()
    configs = {"paper (256, base 16, depth 4)": AwareNetConfig(),
               "quick (96, base 8, depth 3)": AwareNetConfig.quick()}
    rows = []
    steps = 1 if a.quick else 4
    sides = (256,) if a.quick else (256, 1024, 2048)
    for name, cfg in configs.items():
        if a.quick:
            import dataclasses

            cfg = dataclasses.replace(cfg, batch_size=2)
        rows.append(bench_training(name, cfg, steps, a.repeats))
        for side in sides:
            rows.append(bench_inference(name, cfg, side, a.repeats))
    df = pd.DataFrame(rows).set_index("task")
    meta = {
        "command": "python benchmarks/bench_awarenet.py" + (" --quick" if a.quick else "")
                   + f" --repeats {a.repeats}",
        "hardware": hardware_summary(),
        "libraries": f"keras {keras.__version__}, backend {keras.backend.backend()}",
        "timing": f"best of {a.repeats} runs after warm-up, wall-clock seconds; CPU, default thread pools",
        "data": "random images and targets (throughput does not depend on content)",
        "total wall time": f"{time.time() - t0:.0f} s",
    }
    write_table(df, a.out, "awarenet: detector training and inference throughput", meta, floatfmt=".4g")
    print(df.to_string())


if __name__ == "__main__":
    main()
