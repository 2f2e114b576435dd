"""Reproduce AwareNet's Table 2 (detection) and section 4 classification results.

``table2`` trains one detector per Table 2 row on the training split, picks each row's threshold
on the validation split (max F1, as the paper optimises each model independently), and scores the
test split with one-to-one matching within ``match_radius`` pixels (10 px in the paper).
``classification`` trains the section 3.4 classifier and reports per-class AUC and accuracy.
"""

from __future__ import annotations

import os
import tempfile
import time

import pandas as pd

from awarenet import paper
from awarenet.config import TABLE2_ROWS, AwareNetConfig
from awarenet.evaluate import classification_report, detection_report, probability_maps, threshold_sweep
from awarenet.train import train_classifier, train_detector
from common.datasets import class_counts, load
from common.io import atomic_path, atomic_write_text
from common.reporting import hardware_summary, paper_vs_ours, to_markdown, write_table

__all__ = ["classification", "load_splits", "main", "table2"]

# Synthetic split sizes (images of 256 x 256): the test split is larger than load()'s default so
# the rare class has enough support for a per-class recall.
SYNTHETIC_SIZES = {"train": 24, "val": 8, "test": 24}


def _data_name(data: str) -> str:
    if not isinstance(data, str) or not data:
        raise ValueError(f"data must be a dataset name or folder, got {data!r}")
    return "synthetic:mihc" if data == "synthetic" else data


def load_splits(data: str = "synthetic", seed: int = 0, data_root=None):
    """(train, val, test) SampleLists of a dataset name or folder accepted by ``common.datasets.load``."""
    name = _data_name(data)
    if name.startswith("synthetic"):
        return tuple(load(name, split=s, n_images=n, seed=seed) for s, n in SYNTHETIC_SIZES.items())
    return tuple(load(name, split=s, data_root=data_root) for s in ("train", "val", "test"))


def _config(config, quick: bool, data: str) -> AwareNetConfig:
    if config is None:
        config = AwareNetConfig.quick() if quick else AwareNetConfig()
    if not isinstance(config, AwareNetConfig):
        raise ValueError(f"config must be an AwareNetConfig, got {type(config).__name__}")
    import dataclasses

    return dataclasses.replace(config, data=_data_name(data))


def _out(out) -> str:
    return tempfile.mkdtemp(prefix="awarenet_") if out is None else os.fspath(out)


def _check_classes(samples, config):
    names = list(samples[0].class_names)
    if len(names) != config.n_classes:
        import dataclasses

        config = dataclasses.replace(config, n_classes=len(names))
    return config


def table2(data: str = "synthetic", quick: bool = False, out=None, rows=TABLE2_ROWS, config=None,
           resume: bool = False, verbose="auto", splits=None) -> pd.DataFrame:
    """Table 2: detection precision / recall / F1 of each row, beside the paper's.

    Args:
        data: ``"synthetic"`` (the ``mihc`` kind with the paper's abundance), ``"crchisto"``, or any
            name / folder ``common.datasets.load`` accepts.
        quick: use ``AwareNetConfig.quick()`` (ignored when ``config`` is given).
        out: folder for run folders and tables (a temporary folder when None).
        rows: which Table 2 rows to run.
        config: base config; each row applies its ``VARIANTS`` overrides.
        resume: continue interrupted run folders instead of starting them afresh.
        splits: optional preloaded ``(train, val, test)``.

    Returns:
        DataFrame indexed by ``Method`` with ``<metric> (paper)`` / ``<metric> (ours)`` columns for
        Precision, Recall and F1-score, then ``threshold``, per-class test recall
        (``Recall <class>``), ``epochs`` and ``train s``. ``df.attrs["meta"]`` holds the protocol.
    """
    unknown = [r for r in rows if r not in TABLE2_ROWS]
    if unknown or not len(rows):
        raise ValueError(f"unknown Table 2 row(s) {unknown}; choose from {list(TABLE2_ROWS)}")
    base = _config(config, quick, data)
    out = _out(out)
    t0 = time.time()
    train, val, test = splits if splits is not None else load_splits(data, base.seed)
    ours = []
    for row in rows:
        cfg = base.variant(row)
        t_row = time.time()
        det, hist = train_detector(cfg, train, val, os.path.join(out, "detection", row), resume=resume,
                                   verbose=verbose)
        seconds = time.time() - t_row
        sweep = threshold_sweep(probability_maps(det, val), val, cfg.thresholds, cfg.match_radius, cfg.min_area)
        thr = float(sweep["F1-score"].idxmax())
        scores, by_class, _ = detection_report(probability_maps(det, test), test, thr, cfg.match_radius,
                                               cfg.min_area)
        rec = {"Method": row, "Precision": scores["Precision"], "Recall": scores["Recall"],
               "F1-score": scores["F1-score"], "threshold": thr}
        rec.update({f"Recall {c}": float(by_class.loc[c, "Recall"]) for c in by_class.index})
        rec.update({"epochs": len(hist), "train s": round(seconds, 1)})
        ours.append(rec)
        sweep.to_csv(os.path.join(out, "detection", row, "val_threshold_sweep.csv"))
    ours = pd.DataFrame(ours).set_index("Method")
    df = paper_vs_ours(paper.table2().loc[list(rows)], ours, list(paper.TABLE2_COLUMNS))
    for c in ours.columns:
        if c not in paper.TABLE2_COLUMNS:
            df[c] = ours[c]
    df.attrs["meta"] = {
        "data": f"{train.description or base.data}; test cells per class "
                f"{dict(zip(train.class_names, class_counts(test).tolist()))}",
        "split": f"train {len(train)} / val {len(val)} / test {len(test)} images; threshold picked on val "
                 f"from {list(base.thresholds)} (max F1), scores on test",
        "protocol": f"one-to-one matching (max pairs, then min distance) within {base.match_radius:g} px; "
                    f"threshold -> 8-connected components (>= {base.min_area} px) -> centroids",
        "config": ("AwareNetConfig.quick()" if quick else "AwareNetConfig() (paper)")
                  + f": input {base.input_size}, base {base.base_filters}, depth {base.depth}, "
                    f"batch {base.batch_size}, lr {base.learning_rate:g}, <= {base.epochs} epochs "
                    f"(patience {base.patience}), Dice eps {base.dice_eps:g}, seed {base.seed}"
                    + ("" if config is None or base.epochs == _config(None, quick, data).epochs
                       else f"; epochs capped at {base.epochs} (a shortened run)"),
        "hardware": hardware_summary(),
        "wall time": f"{time.time() - t0:.0f} s",
    }
    return df


def classification(data: str = "synthetic", quick: bool = False, out=None, config=None, resume: bool = False,
                   verbose="auto", splits=None, umap: bool = True) -> pd.DataFrame:
    """Section 4 classification: per-class one-vs-rest AUC and accuracy beside the paper's.

    The classifier uses ``config.weight_scheme`` class weighting (ExpWeightType1 by default, as in
    Fig. 4a). ROC points, AUCs, the confusion matrix and UMAP coordinates (Fig. 4b) are written
    under ``<out>/classification`` for the notebooks.

    Returns:
        DataFrame indexed by class name plus ``overall`` with columns ``AUC (paper, lower bound)``,
        ``AUC (ours)``, ``Recall (ours)``, ``Support``, ``Accuracy (paper)``, ``Accuracy (ours)``.
    """
    cfg = _config(config, quick, data)
    out = _out(out)
    t0 = time.time()
    train, val, test = splits if splits is not None else load_splits(data, cfg.seed)
    cfg = _check_classes(train, cfg)
    folder = os.path.join(out, "classification")
    clf, hist = train_classifier(cfg, train, val, folder, resume=resume, verbose=verbose)
    rep = classification_report(clf, test, umap_seed=cfg.seed if umap else None)
    names = list(train.class_names)
    cm = rep["confusion"].to_numpy()
    support = cm.sum(1)
    df = pd.DataFrame(index=pd.Index(names + ["overall"], name="Class"))
    df["AUC (paper, lower bound)"] = paper.CLASSIFICATION["min_auc"]
    df["AUC (ours)"] = [rep["auc"][n] for n in names] + [min(rep["auc"].values())]
    df["Recall (ours)"] = [cm[k, k] / max(support[k], 1) for k in range(len(names))] + [float("nan")]
    df["Support"] = list(support) + [int(support.sum())]
    df["Accuracy (paper)"] = [float("nan")] * len(names) + [paper.CLASSIFICATION["accuracy"]]
    df["Accuracy (ours)"] = [float("nan")] * len(names) + [rep["accuracy"]]
    for name, frame in (("roc_points.csv", rep["roc"]), ("confusion_matrix.csv", rep["confusion"])):
        with atomic_path(os.path.join(folder, name)) as tmp:
            frame.to_csv(tmp, index=name != "roc_points.csv")
    if rep["umap"] is not None:
        with atomic_path(os.path.join(folder, "umap.csv")) as tmp:
            rep["umap"].to_csv(tmp, index=False)
    df.attrs["meta"] = {
        "data": f"{train.description or cfg.data}; {rep['n_cells']} annotated test cells",
        "split": f"train {len(train)} / val {len(val)} / test {len(test)} images; early stopping on val loss",
        "config": f"{cfg.patch_size}x{cfg.patch_size} patches, conv {cfg.classifier_base} + {cfg.classifier_depth - 1}"
                  f" VGG blocks, dense {cfg.dense_units}, class weighting {cfg.weight_scheme}, "
                  f"lr {cfg.classifier_lr:g}, batch {cfg.classifier_batch}, {len(hist)} epochs run",
        "overall AUC": "the smallest per-class AUC (the paper: all classes > 0.995)",
        "hardware": hardware_summary(),
        "wall time": f"{time.time() - t0:.0f} s",
    }
    return df


def _print_table(title: str, df: pd.DataFrame) -> None:
    print(f"\n{title}")
    for k, v in df.attrs.get("meta", {}).items():
        print(f"  {k}: {v}")
    print(to_markdown(df))


def main(quick: bool = False, out=None, data: str = "synthetic", rows=TABLE2_ROWS, resume: bool = False,
         verbose="auto", command: str | None = None, epochs: int | None = None, config=None,
         splits=None) -> dict:
    """Runs Table 2 and the classification results, prints them and writes them under ``out``.

    Writes ``<out>/awarenet/table2.{md,csv}``, ``classification.{md,csv}`` with provenance, plus the
    run folders (configs, weights, histories) and the files the notebooks replot. ``epochs`` caps
    the detector, counter and classifier epochs (a shortened run; the table says so); ``config``
    and ``splits`` replace the preset and the loaded data (as in :func:`table2`).
    """
    out = os.path.join(_out(out), "awarenet")
    cmd = command or f"python -m awarenet reproduce{' --quick' if quick else ''} --data {data}"
    t0 = time.time()
    cfg = _config(config, quick, data)
    if epochs is not None:
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        import dataclasses

        cfg = dataclasses.replace(cfg, epochs=min(cfg.epochs, epochs), counter_epochs=min(cfg.counter_epochs, epochs),
                                  classifier_epochs=min(cfg.classifier_epochs, epochs))
    splits = splits if splits is not None else load_splits(data, cfg.seed)
    det = table2(data, quick, out, rows, config=cfg, resume=resume, verbose=verbose, splits=splits)
    det.attrs["meta"]["command"] = cmd
    write_table(det, os.path.join(out, "table2"), "AwareNet Table 2 - cell detection (paper vs ours)",
                det.attrs["meta"])
    _print_table("AwareNet Table 2 - cell detection (paper vs ours)", det)
    cls = classification(data, quick, out, config=cfg, resume=resume, verbose=verbose, splits=splits)
    cls.attrs["meta"]["command"] = cmd
    write_table(cls, os.path.join(out, "classification"), "AwareNet cell classification (paper vs ours)",
                cls.attrs["meta"])
    _print_table("AwareNet cell classification (paper vs ours)", cls)
    atomic_write_text(os.path.join(out, "command.txt"), cmd + f"\n# total wall time {time.time() - t0:.0f} s\n")
    print(f"\nAwareNet results written to {out} ({time.time() - t0:.0f} s)")
    return {"table2": det, "classification": cls}
