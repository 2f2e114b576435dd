"""YOLOv3 and YOLOv3-tiny at 416 x 416: training images/s and inference images/s.

The paper's claim is about training time (6.8 h from scratch vs 2.5 h with transfer); part of the
transfer saving is that stage 3 trains only ``multiscale`` and ``detection``. Measured here:

* Training: ``Model.fit`` steps with the YOLO loss on random images and the targets of random boxes,
  every module trainable ("scratch") and with ``darknet`` frozen ("transfer stage 3"); warm-up steps
  excluded; images/s = steps x batch / seconds.
* Inference: ``YoloPredictor.predict_many`` (letterbox, forward, decode, per-class NMS) on random
  640 x 480 images (BCCD's size), batch 8; images/s.

Each timing is the best of ``--repeats`` runs. Results go to ``results/benchmarks/yolo.{md,csv}``.

Usage:
    python benchmarks/bench_yolo.py [--repeats 3] [--out results/benchmarks/yolo] [--quick]
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
from yolo_transfer import YoloConfig, build_yolo, set_trainable_modules  # noqa: E402
from yolo_transfer.data import encode_targets  # noqa: E402
from yolo_transfer.inference import YoloPredictor  # noqa: E402
from yolo_transfer.train import compile_yolo  # noqa: E402


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _data(model, cfg, n):
    rng = np.random.default_rng(0)
    s = cfg.input_size
    x = rng.uniform(0, 255, (n, s, s, 3)).astype(np.float32)
    ys = [[] for _ in model.strides]
    for _ in range(n):
        xy = rng.uniform(0, s - 60, (20, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(8, 60, (20, 2))], 1)
        for k, t in enumerate(encode_targets(boxes, rng.integers(0, 3, 20), model.scale_anchors(), model.strides, s,
                                             3, cfg.max_boxes)):
            ys[k].append(t)
    return x, tuple(np.stack(y) for y in ys)


def bench_training(name, cfg, steps, repeats):
    rows = []
    for label, modules in (("scratch (all modules)", ("darknet", "multiscale", "detection")),
                           ("transfer stage 3 (darknet frozen)", ("multiscale", "detection"))):
        keras.utils.set_random_seed(0)
        model = build_yolo(cfg)
        set_trainable_modules(model, modules)
        compile_yolo(model, cfg)
        n = cfg.batch_size * steps
        x, y = _data(model, cfg, n)
        model.fit(x[:cfg.batch_size * 2], tuple(t[:cfg.batch_size * 2] for t in y), batch_size=cfg.batch_size,
                  epochs=1, verbose=0)
        best = min(_timed(lambda: model.fit(x, y, batch_size=cfg.batch_size, epochs=1, verbose=0, shuffle=False))
                   for _ in range(repeats))
        rows.append({"task": "train step", "config": name, "model": label,
                     "size": f"{cfg.batch_size} x {cfg.input_size}x{cfg.input_size}", "seconds": best,
                     "throughput": n / best, "unit": "images/s", "params": model.count_params(),
                     "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights))})
    return rows


def bench_inference(name, cfg, n, repeats):
    keras.utils.set_random_seed(0)
    model = build_yolo(cfg)
    pred = YoloPredictor(model, cfg, class_names=("RBC", "WBC", "Platelets"))
    imgs = list(np.random.default_rng(1).integers(0, 256, (n, 480, 640, 3), dtype=np.uint8))
    pred.predict_many(imgs[:2], threshold=cfg.eval_score)
    best = min(_timed(lambda: pred.predict_many(imgs, threshold=cfg.eval_score)) for _ in range(repeats))
    return [{"task": "predict (letterbox + decode + NMS)", "config": name, "model": cfg.model,
             "size": f"{n} x 640x480 -> {cfg.input_size}", "seconds": best, "throughput": n / best,
             "unit": "images/s", "params": model.count_params(), "trainable": np.nan}]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="results/benchmarks/yolo")
    p.add_argument("--quick", action="store_true", help="smoke sizes (for tests)")
    a = p.parse_args(argv)
    t0 = time.time()
    configs = {"YOLOv3 (Darknet-53, 416, batch 8)": YoloConfig(),
               "YOLOv3-tiny (416, batch 8)": YoloConfig(model="tiny"),
               "quick preset (tiny, width 0.5, 256, batch 8)": YoloConfig.quick()}
    if a.quick:
        configs = {"smoke (tiny, width 0.125, 64, batch 2)": YoloConfig(model="tiny", width=0.125, input_size=64,
                                                                        batch_size=2)}
    rows = []
    for name, cfg in configs.items():
        rows += bench_training(name, cfg, 1 if a.quick else 3, a.repeats)
        rows += bench_inference(name, cfg, 2 if a.quick else 8, a.repeats)
    df = pd.DataFrame(rows).set_index("task")
    meta = {
        "what": "YOLOv3 and YOLOv3-tiny (3 classes), random weights: training and inference throughput",
        "command": "python benchmarks/bench_yolo.py" + (" --quick" if a.quick else "") + f" --repeats {a.repeats}",
        "hardware": hardware_summary(),
        "libraries": f"keras {keras.__version__}, backend {keras.backend.backend()}",
        "timing": f"best of {a.repeats} runs after warm-up, wall-clock seconds; CPU, default thread pools",
        "data": "random images, 20 random boxes per image (throughput does not depend on content)",
        "total wall time": f"{time.time() - t0:.0f} s",
    }
    write_table(df, a.out, "yolo_transfer: training and inference throughput", meta, floatfmt=".4g")
    print(df.to_string())


if __name__ == "__main__":
    main()
