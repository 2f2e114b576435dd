"""Reproduce the YOLOv3 blood-cell paper: training time with and without transfer, and the detections.

Two rows are trained on the same data: ``scratch`` (every module from random weights) and
``transfer`` (the paper's three stages; offline, two synthetic microscopy detection sets stand in for
COCO and VOC - every table says which). From each run's per-epoch validation mAP@0.5 the
training-time table reads the epochs and seconds to a target mAP (the paper: 6.8 h from scratch vs
2.5 h with transfer); the detection table gives per-class AP@0.5, mAP and per-image counting error
on the test split.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from common.reproduce import Reproduction, TableSetup, provenance, tuned_columns
from yolo_transfer import paper
from yolo_transfer.config import ROWS, YoloConfig
from yolo_transfer.paper import PAPER

__all__ = ["detection_table", "main", "run_rows", "training_time"]

def _to_target(history, target: float):
    """(epochs, seconds) until the validation mAP first reaches ``target`` (NaN when it never does)."""
    seconds = 0.0
    for k, h in enumerate(history, 1):
        seconds += h.get("seconds", 0.0)
        if h.get("val_map", 0.0) >= target:
            return k, seconds
    return np.nan, np.nan


def training_time(runs: dict, target_map: float) -> pd.DataFrame:
    """The training-time table: rows ``scratch`` and ``transfer``, the paper's hours beside ours.

    Args:
        runs: ``{row: {"history": [per-epoch dicts with seconds, val_map], "source seconds": s}}``.
        target_map: the validation mAP@0.5 whose first crossing counts as "trained".
    """
    out = []
    for row in ROWS:
        if row not in runs:
            continue
        hist = runs[row]["history"]
        epochs, seconds = _to_target(hist, target_map)
        total = float(sum(h.get("seconds", 0.0) for h in hist))
        source = float(runs[row].get("source seconds", 0.0))
        out.append({"Row": row, "hours (paper)": paper.TRAINING_HOURS[row],
                    "epochs to target (ours)": epochs, "seconds to target (ours)": seconds,
                    "seconds to target with source stages (ours)": seconds + source,
                    "epochs (ours)": len(hist), "seconds (ours)": total,
                    "best val mAP@0.5 (ours)": float(max((h.get("val_map", 0.0) for h in hist), default=np.nan)),
                    "source-stage seconds (ours)": source,
                    **({f"count {k}": v for k, v in tuned_columns(runs[row]["tuned"]).items()}
                       if "tuned" in runs[row] else {})})
    df = pd.DataFrame(out).set_index("Row")
    if {"scratch", "transfer"} <= set(df.index):
        df["time ratio transfer/scratch (paper)"] = paper.TRAINING_HOURS["transfer"] / paper.TRAINING_HOURS["scratch"]
        for col, name in (("seconds to target (ours)", "time ratio transfer/scratch, target stage only (ours)"),
                          ("seconds to target with source stages (ours)",
                           "time ratio transfer/scratch, source stages counted (ours)")):
            s, t = df.loc["scratch", col], df.loc["transfer", col]
            df[name] = t / s if np.isfinite(s) and np.isfinite(t) and s > 0 else np.nan
    return df


def detection_table(results: dict, class_names=paper.CLASS_NAMES, data: str = "bccd") -> pd.DataFrame:
    """The detection table: rows ``RBC``, ``WBC``, ``Platelets`` (or the data's classes) and ``mAP``.

    Args:
        results: ``{row: {"ap": detection_ap table, "counts": count_errors table}}``.

    Columns: AP@0.5 of a public BCCD run (not the paper's; only when ``data`` is BCCD: beside synthetic
    blood cells it would compare different images), then per row our AP@0.5 and per-image count MAE at the
    calibrated threshold (the mAP row: the mean over classes).
    """
    names = list(class_names)
    df = pd.DataFrame(index=pd.Index(names + ["mAP"], name="Class"))
    if tuple(names) == paper.CLASS_NAMES and str(data) == "bccd":
        df["AP@0.5 (public run)"] = [paper.PUBLIC_AP[n] for n in names + ["mAP"]]
    for row, res in results.items():
        df[f"AP@0.5 {row} (ours)"] = [float(res["ap"].loc[n, "AP"]) for n in names + ["mAP"]]
        mae = [float(res["counts"].loc[n, "count MAE"]) for n in names]
        df[f"count MAE {row} (ours)"] = mae + [float(np.mean(mae))]
        truth = [float(res["counts"].loc[n, "count (truth)"]) for n in names]
        df["cells per image (truth)"] = truth + [float(np.sum(truth))]
    return df


def run_rows(base: YoloConfig, tr, va, te, out, rows, resume: bool = False, verbose="auto", data_root=None) -> dict:
    """Trains each row and scores the test split. Returns ``{row: {...}}`` with history, AP and counts."""
    from common.training import RunDir
    from yolo_transfer.evaluate import evaluate_split
    from yolo_transfer.train import train

    results = {}
    for row in rows:
        cfg = base.variant(row)
        t0 = time.time()
        folder = os.path.join(out, "runs", row)
        pred = train(cfg, tr, va, folder, resume=resume, verbose=verbose, data_root=data_root)
        wall = time.time() - t0
        stages = RunDir(folder, create=False).read_json("stages.json") or {}
        src = float(sum(v.get("seconds", 0.0) for k, v in stages.items() if k.startswith("stage")))
        _, res = evaluate_split(pred, te)
        results[row] = {"history": pred.history(), "source seconds": src, "wall seconds": wall, **res,
                        "stages": stages, "tuned": pred.tuned()[1]}
    return results


def _protocol(cfg) -> str:
    return (f"VOC AP at IoU {cfg.iou_threshold:g} (all-point interpolation, the VOC devkit's matching), detections "
            f"above {cfg.eval_score:g} after per-class NMS at IoU {cfg.nms_iou:g}; counts at the score threshold "
            f"calibrated on val (best mean per-class box F1); time to target = summed epoch seconds (training + "
            f"validation loss) until val mAP@0.5 first reaches {cfg.target_map:g}, given for the target stage alone "
            "and with the transfer row's source stages counted (the paper does not say which it reports); the "
            "model of the epoch with the lowest validation loss is scored")


def _sources(cfg) -> str:
    if cfg.weights:
        return f"transfer from Darknet weights {os.path.basename(cfg.weights)}"
    return (f"transfer sources stand in for the paper's: stage 1 {cfg.source1} (for MS COCO), stage 2 {cfg.source2} "
            f"(for Pascal VOC), {cfg.source_images} training images each; stage modules {cfg.stage_modules}")


def main(quick: bool = False, out=None, data: str = "synthetic", rows=None, resume: bool = False, verbose="auto",
         command: str | None = None, epochs: int | None = None, config=None, splits=None, overrides=None,
         data_root=None) -> dict:
    """Trains ``scratch`` and ``transfer``, prints the training-time and detection tables, writes them
    under ``<out>/yolo_transfer``."""
    run = Reproduction(PAPER, data, quick=quick, out=out, config=config, overrides=overrides, epochs=epochs,
                       command=command, splits=splits, data_root=data_root)
    rows = list(rows or ROWS)
    setup = TableSetup(PAPER, rows, run.config, quick, data, run.out, run.splits)
    base, tr, va, te = setup.base, setup.train, setup.val, setup.test
    results = run_rows(base, tr, va, te, run.out, rows, resume=resume, verbose=verbose, data_root=data_root)
    meta = provenance(base, tr, va, te, _protocol(base), "the data set's own train / val / test split", setup.t0,
                      sources=_sources(base), model=f"{base.model}, width {base.width:g}, input {base.input_size}")
    curves = pd.concat([pd.DataFrame(r["history"]).assign(row=row) for row, r in results.items()], ignore_index=True)
    from common.io import atomic_path

    os.makedirs(run.out, exist_ok=True)
    with atomic_path(os.path.join(run.out, "curves.csv")) as tmp:
        curves.to_csv(tmp, index=False)
    tt = training_time(results, base.target_map)
    tt.attrs["meta"] = {**meta, "paper": paper.TRAINING_HOURS_SOURCE}
    dt = detection_table(results, tr.class_names, data)
    dt.attrs["meta"] = {**meta, **({"public run": paper.PUBLIC_AP_SOURCE} if str(data) == "bccd" else {})}
    run.publish(tt, "training_time", "YOLOv3 transfer - training time to a target validation mAP (paper vs ours)")
    run.publish(dt, "detection", "YOLOv3 transfer - per-class AP@0.5 and counting error on the test split")
    run.finish("YOLOv3 transfer")
    return {"training_time": tt, "detection": dt}
