"""Time of MapDe on a 2000 x 2000 image on this machine, split into network and post-processing.

The paper reports about 5 s for a 2000 x 2000 image on a GTX 1080 Ti (section 3). Here:

* Network: ``MapDePredictor.maps`` with the full-width MapDe (``MapDeConfig()``, 184 M parameters,
  random weights: speed does not depend on them), tiled into 252 x 252 inputs (batched) with the
  predictor's margin (63 px) dropped at inner tile edges (the tile count is in the table).
* Post-processing on the same output: the Proposed method (sigmoid label estimate, Lucy-Richardson
  with the 11 x 11 filter, 2 iterations, threshold, centroids), MapDe-Peak (``peak_local_max``) and
  MapDe-feat (guided filter of layer L-1, threshold, centroids).

Each timing is the best of ``--repeats`` runs. Results go to ``results/benchmarks/mapde.{md,csv}``.

Usage:
    python benchmarks/bench_mapde.py [--repeats 1] [--out results/benchmarks/mapde] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

# --code DIR (read before the imports): time another checkout's code with this script (before / after)
import checkout  # noqa: E402

CODE = checkout.use()
from common.logs import quiet_tensorflow  # noqa: E402

quiet_tensorflow()   # no TensorFlow start-up lines in the benchmark output

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.reporting import hardware_summary, write_table  # noqa: E402
from common.tiling import tile_grid  # noqa: E402
from mapde import MapDeConfig, build_mapde, locate, location_map  # noqa: E402
from mapde.inference import MapDePredictor  # noqa: E402


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _source(fn) -> str:
    import inspect

    return inspect.getsource(fn)


def run(side: int, width: float, repeats: int, bf16: bool = False) -> pd.DataFrame:
    cfg = MapDeConfig(width=width)
    keras.utils.set_random_seed(0)
    model = build_mapde(cfg)
    pred = MapDePredictor(model, cfg)
    img = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    pred.maps(img[:252, :252])   # builds the inference function
    n_tiles = len(tile_grid((side, side), 252, pred.margin))
    best, maps = None, None
    for _ in range(repeats):
        t, maps = _timed(lambda: pred.maps(img))
        best = t if best is None else min(best, t)
    rows = [{"stage": "network (tiled)", "seconds": best,
             "detail": f"{n_tiles} tiles of 252, margin {pred.margin}, batches of {pred.batch_size}"
                       + (", compiled" if "predict_on_batch" in _source(pred.forward) else ", eager")}]
    if bf16:   # the same network computing in bfloat16 (MapDePredictor(precision="bfloat16"))
        fast = MapDePredictor(model, cfg, precision="bfloat16")
        fast.maps(img[:252, :252])
        t16 = min(_timed(lambda: fast.maps(img))[0] for _ in range(repeats))
        diff = float(np.max(np.abs(fast.maps(img)["map"] - maps["map"])))
        rows.append({"stage": "network (tiled), bfloat16", "seconds": t16,
                     "detail": f"same tiles; max abs map change {diff:.3g} (map range "
                               f"{float(maps['map'].min()):.2f} to {float(maps['map'].max()):.2f})"})
    thr = float(np.quantile(maps["map"], 0.99))
    for name, method in (("post: Proposed (deconv)", "deconv"), ("post: MapDe-Peak", "peak"),
                         ("post: MapDe-feat(L-1)", "feat")):
        def post():
            lm = location_map(maps, img, method, cfg)
            t_ = thr if method == "peak" else float(np.quantile(lm, 0.99))
            return locate(lm, method, t_, 4)
        t = min(_timed(post)[0] for _ in range(repeats))
        rows.append({"stage": name, "seconds": t, "detail": "2 LR iterations" if method == "deconv" else ""})
    df = pd.DataFrame(rows)
    df.insert(0, "image", f"{side}x{side}")
    df.insert(1, "model", f"MapDe width {width:g} ({model.count_params() / 1e6:.1f} M params)")
    total = best + float(df.loc[df["stage"] == "post: Proposed (deconv)", "seconds"].iloc[0])
    df.loc[len(df)] = {"image": f"{side}x{side}", "model": df["model"].iloc[0], "stage": "total (network + Proposed)",
                       "seconds": total, "detail": "paper: ~5 s on a GTX 1080 Ti"}
    return df


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", default="results/benchmarks/mapde")
    p.add_argument("--quick", action="store_true", help="smoke size: 512 x 512, width 1/32")
    p.add_argument("--bf16", action="store_true", help="also time the network in bfloat16 (precision='bfloat16')")
    p.add_argument("--code", default=None, help="time the code of another checkout (e.g. the commit before a "
                                                "change), with this script")
    p.add_argument("--baseline", default=None, metavar="CSV",
                   help="a CSV this script wrote with --code, shown above this run's rows (timed back to back)")
    a = p.parse_args(argv)
    t0 = time.time()
    df = run(512, 1 / 32, a.repeats, a.bf16) if a.quick else run(2000, 1.0, a.repeats, a.bf16)
    df.insert(0, "code", checkout.label(CODE, a.code is not None))
    if a.baseline:
        df = pd.concat([pd.read_csv(a.baseline), df], ignore_index=True)
    meta = {"what": "MapDe inference time split into network and post-processing (best of "
                    f"{a.repeats}); random image and weights",
            "command": "python benchmarks/bench_mapde.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "hardware": hardware_summary(), "wall time": f"{time.time() - t0:.0f} s"}
    write_table(df.set_index("image"), a.out, "MapDe inference time", meta, floatfmt=".2f")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
