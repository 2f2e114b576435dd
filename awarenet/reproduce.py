"""Reproduce AwareNet's Table 2 (detection) and section 4 classification results.

``table2`` trains one detector per Table 2 row on the training split, calibrates each row's
threshold on the validation split (max F1; the paper optimises each model independently), and
scores the test split with one-to-one matching within ``match_radius`` pixels (10 px, the paper's
reported tolerance; the paper tuned the radius per model, we fix it for every row).
``classification`` trains the section 3.4 classifier and reports per-class AUC and accuracy.
"""

from __future__ import annotations

import os
import time

import pandas as pd

from awarenet import paper
from awarenet.config import TABLE2_ROWS, AwareNetConfig
from awarenet.evaluate import classification_report, recall_by_class
from awarenet.paper import PAPER
from awarenet.train import train, train_classifier
from common.datasets import class_counts
from common.evaluation import score
from common.io import atomic_path
from common.reporting import paper_vs_ours
from common.reproduce import Reproduction, TableSetup, output_folder, provenance, resolve_config, tuned_columns
from common.training import TrainingClock

__all__ = ["classification", "main", "table2"]


def _protocol(cfg) -> str:
    return (f"one-to-one matching (max pairs, then min distance) within {cfg.match_radius:g} px for every row "
            "(the paper tuned the radius per model); threshold -> 8-connected components "
            f"(>= {cfg.min_area} px) -> centroids")


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
        Precision, Recall and F1, then TP, FP, FN, the calibrated ``threshold`` and ``on edge``, per-class test
        recall (``Recall <class>``), ``epochs`` and ``train s``. ``df.attrs["meta"]`` holds the protocol.
    """
    setup = TableSetup(PAPER, rows, config, quick, data, out, splits)
    base, out, t0, tr, va, te = setup.base, setup.out, setup.t0, setup.train, setup.val, setup.test
    ours = []
    for row in rows:
        cfg = base.variant(row)
        folder = os.path.join(out, "detection", row)
        with TrainingClock(folder, resume) as clock:
            pred = train(cfg, tr, va, folder, resume=resume, verbose=verbose)
        seconds = clock.seconds
        dets = [pred.predict(s.image) for s in te]
        sc = score(dets, te, [cfg.match_radius]).iloc[0]
        by_class = recall_by_class(dets, te, cfg.match_radius)
        params = pred.tuned("threshold")[1]
        rec = {"Method": row, **{k: sc[k] for k in ("Precision", "Recall", "F1")},
               **{k: int(sc[k]) for k in ("TP", "FP", "FN")},
               "threshold": params["threshold"], "logit threshold": params["logit_threshold"],
               "on edge": tuned_columns(params)["on edge"]}
        rec.update({f"Recall {c}": float(by_class.loc[c, "Recall"]) for c in by_class.index})
        rec.update({"epochs": len(pred.history()), "train s": round(seconds, 1)})
        ours.append(rec)
    ours = pd.DataFrame(ours).set_index("Method")
    df = paper_vs_ours(paper.table2().loc[list(rows)], ours, list(paper.TABLE2_COLUMNS))
    for c in ours.columns:
        if c not in paper.TABLE2_COLUMNS:
            df[c] = ours[c]
    counts = dict(zip(tr.class_names, class_counts(te).tolist()))
    df.attrs["meta"] = provenance(
        base, tr, va, te, _protocol(base),
        "threshold calibrated on val (quantiles of the maps' maxima, refined; max F1), scored on test", t0,
        **{"test cells per class": str(counts)})
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
    cfg = resolve_config(AwareNetConfig, config, quick, PAPER.data_name(data))
    out = output_folder(out, PAPER.name) if out is None else os.fspath(out)
    t0 = time.time()
    tr, va, te = splits if splits is not None else PAPER.load_splits(data, cfg.seed)
    folder = os.path.join(out, "classification")
    clf, hist = train_classifier(cfg, tr, va, folder, resume=resume, verbose=verbose)
    rep = classification_report(clf, te, umap_seed=cfg.seed if umap else None)
    names = list(tr.class_names)
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
    df.attrs["meta"] = provenance(
        cfg, tr, va, te, f"{rep['n_cells']} annotated test cells; overall AUC = the smallest per-class AUC "
        "(the paper: all classes > 0.995)", "early stopping on val loss", t0,
        classifier=f"{cfg.classifier_patch}x{cfg.classifier_patch} patches, conv {cfg.classifier_base} + "
                   f"{cfg.classifier_depth - 1} VGG blocks, dense {cfg.classifier_dense}, class weighting "
                   f"{cfg.weight_scheme}, lr {cfg.classifier_lr:g}, batch {cfg.classifier_batch}, "
                   f"{len(hist)} epochs run")
    return df


def main(quick: bool = False, out=None, data: str = "synthetic", rows=TABLE2_ROWS, resume: bool = False,
         verbose="auto", command: str | None = None, epochs: int | None = None, config=None,
         splits=None, overrides=None, data_root=None) -> dict:
    """Runs Table 2 and the classification results, prints them and writes them under ``<out>/awarenet``.

    Writes ``table2.{md,csv}`` and ``classification.{md,csv}`` with provenance, plus the run folders
    (configs, weights, histories, calibration sweeps) and the files the notebooks replot. ``epochs``
    caps the detector, counter and classifier epochs (a shortened run; the config line says so);
    ``overrides`` sets ``AwareNetConfig`` fields (``{"field": value}`` or ``["KEY=VALUE"]``);
    ``config`` and ``splits`` replace the preset and the loaded data.
    """
    run = Reproduction(PAPER, data, quick=quick, out=out, config=config, overrides=overrides, epochs=epochs,
                       command=command, splits=splits, data_root=data_root)
    kw = dict(config=run.config, resume=resume, verbose=verbose, splits=run.splits)
    det = table2(data, out=run.out, rows=rows, **kw)
    run.publish(det, "table2", "AwareNet Table 2 - cell detection (paper vs ours)", rename=paper.RENAME)
    cls = classification(data, out=run.out, **kw)
    run.publish(cls, "classification", "AwareNet cell classification (paper vs ours)")
    run.finish("AwareNet")
    return {"table2": det, "classification": cls}
