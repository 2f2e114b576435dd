"""AwareNet scoring: per-class detection recall, and the section 3.4 / Fig. 4 classifier evaluation
(ROC / AUC, confusion matrix, UMAP of the 200-d features)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from awarenet.data import cell_patches
from awarenet.model import CellClassifier
from common.matching import detection_recall_by_class

__all__ = ["classification_report", "recall_by_class", "umap_embedding"]


def recall_by_class(detections, samples, radius: float) -> pd.DataFrame:
    """Detection recall of each annotated class (class-agnostic matching)."""
    return detection_recall_by_class([d.points for d in detections], [s.points for s in samples],
                                     [s.classes for s in samples], radius, list(samples[0].class_names))


def classification_report(classifier: CellClassifier, samples, umap_seed: int | None = 0, umap_max: int = 5000):
    """Section 3.4 / Fig. 4 evaluation on annotated cells of ``samples``.

    Returns a dict with ``auc`` (per-class one-vs-rest ROC AUC), ``accuracy``, ``confusion``
    (DataFrame, rows true / columns predicted), ``roc`` (DataFrame of class, fpr, tpr, threshold
    points), ``umap`` (DataFrame x, y, label, predicted; at most ``umap_max`` cells, a seeded
    random subset beyond that; None when ``umap_seed`` is None) and ``n_cells``.
    """
    from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

    if not isinstance(classifier, CellClassifier):
        raise ValueError(f"classifier must be a CellClassifier, got {type(classifier).__name__}")
    names = list(samples[0].class_names)
    if len(names) != classifier.n_classes:
        raise ValueError(f"the data has {len(names)} classes {names} but the classifier {classifier.n_classes}")
    x, y = cell_patches(samples, classifier.patch_size)
    x = x.astype(np.float32) / 255.0
    prob = np.asarray(classifier.predict(x, batch_size=256, verbose=0))
    pred = prob.argmax(1)
    auc, roc = {}, []
    for k, name in enumerate(names):
        pos = y == k
        if pos.all() or not pos.any():
            auc[name] = float("nan")   # undefined with one class present
            continue
        auc[name] = float(roc_auc_score(pos, prob[:, k]))
        fpr, tpr, thr = roc_curve(pos, prob[:, k])
        roc.append(pd.DataFrame({"class": name, "fpr": fpr, "tpr": tpr, "threshold": thr}))
    cm = pd.DataFrame(confusion_matrix(y, pred, labels=range(len(names))),
                      index=pd.Index(names, name="true"), columns=names)
    no_roc = pd.DataFrame(columns=["class", "fpr", "tpr", "threshold"])
    out = {"auc": auc, "accuracy": float((pred == y).mean()), "confusion": cm,
           "roc": pd.concat(roc, ignore_index=True) if roc else no_roc,
           "n_cells": int(len(y)), "umap": None}
    if umap_seed is not None:
        out["umap"] = umap_embedding(classifier, x, y, pred, names, umap_seed, umap_max)
    return out


def umap_embedding(classifier: CellClassifier, x, y, pred, names, seed: int = 0, max_cells: int = 5000):
    """2-D UMAP of the classifier's dense features (Fig. 4b) with true and predicted labels."""
    import warnings

    import umap

    idx = np.arange(len(x))
    if len(idx) < 5:
        raise ValueError(f"UMAP needs at least 5 cells, got {len(idx)}")
    if len(idx) > max_cells:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_cells, replace=False))
    feats = np.asarray(classifier.feature_extractor().predict(x[idx], batch_size=256, verbose=0))
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded UMAP is single-threaded
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # spectral initialisation needs a well-populated graph; tiny sets start from random positions
        emb = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(idx) - 1),
                        init="spectral" if len(idx) > 100 else "random").fit_transform(feats)
    return pd.DataFrame({"x": emb[:, 0], "y": emb[:, 1], "label": [names[i] for i in y[idx]],
                         "predicted": [names[i] for i in pred[idx]]})
