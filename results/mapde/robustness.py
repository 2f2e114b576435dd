"""MapDe dead-output robustness sweep (issue 15): does the ReLU output die, when, and what F1 is reached.

Trains MapDe and the Micro-Net-Peak regression with the quick preset (``MapDeConfig.quick()``) over
seeds and data sets, under one condition:

* ``before``: the quick preset as it was before the fix (Adagrad at 0.05 from the first step,
  ``--set warmup_steps=0``);
* ``after``: the quick preset as it is now.

Each run goes through ``mapde.train.train_model`` with the shared dead-output guard (here 2 epochs: the
"epoch of death" is the first of two epochs in a row whose end found the output constant), then the
default location method (deconvolution for MapDe, peaks for Micro-Net) is tuned on the validation
split and its best F1 at 6 px recorded. To fit 100 runs in a CPU session the sweep caps training at
4 epochs of 25 steps (100 Adagrad steps: the 50-step warm-up and 50 at the full rate; ``--epochs``,
``--steps``), so its F1 is the F1 after 100 steps, not the quick preset's 30 epochs. One CSV row per
run is appended to ``--csv`` as soon as the run ends, so an interrupted sweep continues where it
stopped; ``--render`` writes the Markdown report.

Usage (from the repository root)::

    python results/mapde/robustness.py --condition before --csv results/mapde/robustness.csv
    python results/mapde/robustness.py --condition after --csv results/mapde/robustness.csv
    python results/mapde/robustness.py --render results/mapde/robustness.csv --md results/mapde/robustness.md
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

DATASETS = ("synthetic:he", "crchisto", "bccd", "deepliif", "sparse")
CONDITIONS = {"before": {"warmup_steps": 0}, "after": {}}
FIELDS = ("condition", "data", "model", "seed", "died", "death_epoch", "epochs_run", "steps_per_epoch",
          "val_loss_first", "val_loss_last", "output_max", "val_f1", "train_s", "overrides")
CANVAS = 1200
SPARSE_SPLIT = {"train": 6, "val": 2, "test": 3}   # the bone-marrow folder: 11 images, 6/2/3


def sparse_folder(out: str, data_root=None) -> str:
    """A sparse H&E folder: each of 11 CRCHisto images pasted at a seeded random place on a 1200 x 1200
    slide-background canvas (about 210 cells per megapixel instead of CRCHisto's 1,190)."""
    from common.datasets import load
    from common.io import write_image

    if os.path.exists(os.path.join(out, "points.csv")):
        return out
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "splits"), exist_ok=True)
    rows = ["image,x,y"]
    for split, n in SPARSE_SPLIT.items():
        names = []
        for s in load("crchisto", split, data_root=data_root)[:n]:
            canvas = np.clip(rng.normal((236, 228, 236), 3.0, (CANVAS, CANVAS, 3)), 0, 255).astype(np.uint8)
            h, w = s.shape
            y0, x0 = (int(v) for v in rng.integers(0, CANVAS - np.array([h, w]) + 1))
            canvas[y0:y0 + h, x0:x0 + w] = s.image
            write_image(os.path.join(out, "images", f"{s.name}.png"), canvas)
            rows += [f"{s.name}.png,{x + x0:.2f},{y + y0:.2f}" for x, y in s.points]
            names.append(s.name)
        with open(os.path.join(out, "splits", f"{split}.txt"), "w") as f:
            f.write("\n".join(names) + "\n")
    with open(os.path.join(out, "points.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    return out


def _splits(name: str, cache: str, max_val: int):
    from common.datasets import load_splits

    path = sparse_folder(os.path.join(cache, "sparse_crchisto")) if name == "sparse" else name
    tr, va, _ = load_splits(path, seed=0)
    return tr, va[:max_val]


def run_one(condition: str, data: str, model: str, seed: int, splits, epochs: int | None, steps: int | None,
            work: str) -> dict:
    from common.training import DeadOutputError, RunDir
    from mapde.config import MapDeConfig
    from mapde.inference import MapDePredictor, default_method
    from mapde.train import train_model

    over = dict(CONDITIONS[condition], model=model, locate="deconv" if model == "mapde" else "peak", seed=seed,
                dead_output_epochs=2)
    if epochs:
        over["epochs"] = epochs
    if steps:
        over["steps_per_epoch"] = steps
    cfg = MapDeConfig.quick().with_overrides(**over)
    tr, va = splits
    run_dir = os.path.join(work, f"{condition}_{data.replace(':', '_')}_{model}_{seed}")
    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = time.time()
    row = dict(condition=condition, data=data, model=model, seed=seed, died=False, death_epoch="",
               overrides=" ".join(f"{k}={v}" for k, v in over.items() if k not in ("model", "locate", "seed")))
    try:
        net, _ = train_model(cfg, tr, va, run_dir, resume=False, verbose=0)
    except DeadOutputError as err:
        net, row["died"], row["death_epoch"] = None, True, err.epoch
    row["train_s"] = round(time.time() - t0, 1)
    hist = RunDir(run_dir).history()
    row.update(epochs_run=len(hist), val_loss_first=f"{float(hist[0]['val_loss']):.5f}" if hist else "",
               val_loss_last=f"{float(hist[-1]['val_loss']):.5f}" if hist else "",
               steps_per_epoch=cfg.steps_per_epoch or "")
    if net is None:
        row.update(output_max=0.0, val_f1="")
    else:
        pred = MapDePredictor(net, cfg, class_names=tr[0].class_names, folder=run_dir)
        maps = [pred.maps(s.image) for s in va]
        row["output_max"] = f"{max(float(m['map'].max()) for m in maps):.4g}"
        method = default_method(pred.kind)
        params = pred.calibrate(va, maps=maps, methods=[method]).params
        row["val_f1"] = f"{params[method]['F1']:.3f}"
    shutil.rmtree(run_dir, ignore_errors=True)
    return row


def sweep(args) -> None:
    from common.logs import quiet_tensorflow

    quiet_tensorflow()
    done = set()
    if os.path.exists(args.csv):
        with open(args.csv) as f:
            done = {(r["condition"], r["data"], r["model"], int(r["seed"])) for r in csv.DictReader(f)}
    cache = args.cache or os.path.join(tempfile.gettempdir(), "cellrepro_robustness")
    os.makedirs(cache, exist_ok=True)
    for data in args.data:
        splits = None
        for model in args.models:
            for seed in args.seeds:
                key = (args.condition, data, model, seed)
                if key in done:
                    continue
                splits = splits or _splits(data, cache, args.max_val)
                row = run_one(args.condition, data, model, seed, splits, args.epochs, args.steps, cache)
                new = not os.path.exists(args.csv)
                with open(args.csv, "a", newline="") as f:
                    w = csv.DictWriter(f, FIELDS)
                    if new:
                        w.writeheader()
                    w.writerow(row)
                print(" ".join(f"{k}={row[k]}" for k in FIELDS), flush=True)


def render(csv_path: str, md_path: str, header: str) -> None:
    import pandas as pd

    from common.reporting import hardware_summary, to_markdown

    df = pd.read_csv(csv_path)
    df["died"] = df["died"].astype(str).str.lower() == "true"
    shown = df.assign(death_epoch=["" if pd.isna(v) else str(int(v)) for v in df["death_epoch"]])
    lines = [header.rstrip(), ""]
    summary = (df.groupby(["condition", "data", "model"], sort=False)
               .agg(runs=("seed", "size"), died=("died", "sum"),
                    death_epochs=("death_epoch", lambda s: ", ".join(str(int(v)) for v in s.dropna())),
                    val_f1_mean=("val_f1", "mean"), val_f1_min=("val_f1", "min"))
               .reset_index())
    lines += [f"- **hardware**: {hardware_summary()}", "", "## Summary", "",
              to_markdown(summary.set_index("condition")), "",
              "## Every run", "", to_markdown(shown.drop(columns=["overrides"]).set_index("condition")), ""]
    with open(md_path, "w") as f:
        f.write("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--condition", choices=sorted(CONDITIONS))
    p.add_argument("--data", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--models", nargs="+", default=["mapde", "micronet"], choices=["mapde", "micronet"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=4, help="cap on the quick preset's 30 epochs (0: no cap)")
    p.add_argument("--steps", type=int, default=25, help="steps per epoch (0: one pass over the pixels)")
    p.add_argument("--max-val", type=int, default=8, help="validation images used (guard probe and F1)")
    p.add_argument("--csv", default="results/mapde/robustness.csv")
    p.add_argument("--cache", default=None, help="where the sparse folder and the runs go (default: temp dir)")
    p.add_argument("--render", default=None, metavar="CSV")
    p.add_argument("--md", default="results/mapde/robustness.md")
    p.add_argument("--header", default=None, help="file whose text heads the report")
    a = p.parse_args(argv)
    if a.render:
        render(a.render, a.md, open(a.header).read() if a.header else "# MapDe robustness sweep\n")
    elif a.condition:
        sweep(a)
    else:
        p.error("give --condition or --render")


if __name__ == "__main__":
    main()
