"""AwareNet inference and scoring: probability maps, points, threshold search, detection and
classification metrics (ROC/AUC, confusion matrix, UMAP of the 200-d features)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from awarenet.data import cell_patches
from awarenet.model import AwareNetDetector, CellClassifier
from common import _checks
from common.matching import detection_recall_by_class, detection_scores
from common.postprocess import threshold_centroids
from common.tiling import tiled_map

__all__ = ["classify_cells", "classification_report", "detect", "detection_report", "probability_map",
           "probability_maps", "threshold_sweep"]

_TWINS: dict = {}


def _fully_convolutional(model) -> AwareNetDetector:
    """A copy of a trained detector that accepts any input size (weights shared by value)."""
    if not isinstance(model, AwareNetDetector):
        raise ValueError(f"model must be an AwareNetDetector, got {type(model).__name__}")
    if model.input_size is None:
        return model
    key = id(model)
    twin = _TWINS.get(key)
    if twin is None or twin[0] is not model:
        net = AwareNetDetector(None, model.base_filters, model.depth, name=model.name + "_fcn")
        net.set_weights(model.get_weights())
        _TWINS.clear()
        _TWINS[key] = twin = (model, net)
    return twin[1]


def probability_map(model, image, tile_size: int = 1024, margin: int = 32, progress: bool = False) -> np.ndarray:
    """Detection probability map (H, W) float32 of an RGB uint8 image of any size.

    Images up to ``tile_size`` run in one pass (reflect-padded to a multiple of 2**(depth-1));
    larger ones are tiled with ``margin`` pixels (rounded up to a multiple of 2**(depth-1)) of
    overlap discarded at inner tile edges, tiles aligned to the pooling grid.
    """
    image = _checks.as_rgb_image(image, "image")
    net = _fully_convolutional(model)
    mult = 2 ** (net.depth - 1)
    tile_size = _checks.positive(tile_size, "tile_size", integer=True)
    if tile_size % mult:
        raise ValueError(f"tile_size must be a multiple of {mult}, got {tile_size}")

    def run(tile):
        h, w = tile.shape[:2]
        ph, pw = (-h) % mult, (-w) % mult
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "edge"
            tile = np.pad(tile, ((0, ph), (0, pw), (0, 0)), mode=mode)
        x = tile[None].astype(np.float32) / 255.0
        y = np.asarray(net(x, training=False))[0, ..., 0]
        return y[:h, :w]

    if max(image.shape[:2]) <= tile_size:
        return run(image).astype(np.float32)
    # Pooling makes the network shift-equivariant only by multiples of 2**(depth-1): pad the image
    # and round the margin so every tile starts on that grid, making tiles agree with one pass.
    h, w = image.shape[:2]
    margin = -(-int(margin) // mult) * mult
    if 2 * margin >= tile_size:
        raise ValueError(f"margin {margin} (rounded to a multiple of {mult}) leaves no tile core in {tile_size}")
    padded = np.pad(image, ((0, (-h) % mult), (0, (-w) % mult), (0, 0)), mode="reflect")
    return tiled_map(padded, run, tile_size, margin, progress=progress)[:h, :w].astype(np.float32)


def probability_maps(model, samples, progress: bool = False) -> list:
    """Probability maps of every sample, with an optional progress bar."""
    from keras.utils import Progbar

    bar = Progbar(len(samples), verbose=1 if progress else 0, unit_name="image")
    out = []
    for s in samples:
        out.append(probability_map(model, s.image))
        bar.add(1)
    return out


def detect(prob, threshold: float, min_area: int = 3) -> np.ndarray:
    """Paper post-processing: threshold -> 8-connected components -> centroids, (N, 2) (x, y)."""
    return threshold_centroids(prob, threshold, min_area=min_area)


def threshold_sweep(probs, samples, thresholds, radius: float = 10.0, min_area: int = 3) -> pd.DataFrame:
    """Precision/recall/F1 at each threshold (for choosing it on the validation split)."""
    if len(probs) != len(samples):
        raise ValueError(f"{len(probs)} maps for {len(samples)} samples")
    if not len(thresholds):
        raise ValueError("thresholds is empty")
    gts = [s.points for s in samples]
    rows = []
    for t in thresholds:
        t = float(t)
        if not 0.0 <= t < 1.0:
            raise ValueError(f"thresholds must lie in [0, 1), got {t}")
        sc = detection_scores([detect(p, t, min_area) for p in probs], gts, radius)
        rows.append({"threshold": t, "Precision": sc.precision, "Recall": sc.recall, "F1-score": sc.f1})
    return pd.DataFrame(rows).set_index("threshold")


def detection_report(probs, samples, threshold: float, radius: float = 10.0, min_area: int = 3):
    """Scores at one threshold: ``(scores dict, per-class recall DataFrame, predicted points)``."""
    preds = [detect(p, threshold, min_area) for p in probs]
    gts = [s.points for s in samples]
    sc = detection_scores(preds, gts, radius)
    scores = {"Precision": sc.precision, "Recall": sc.recall, "F1-score": sc.f1,
              "TP": sc.tp, "FP": sc.fp, "FN": sc.fn, "threshold": float(threshold)}
    by_class = detection_recall_by_class(preds, gts, [s.classes for s in samples], radius,
                                         list(samples[0].class_names))
    return scores, by_class, preds


def classify_cells(classifier: CellClassifier, image, points, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, K) of cells at ``points`` in ``image`` (28x28 patches, reflect-padded)."""
    from common.datasets import Sample

    if not isinstance(classifier, CellClassifier):
        raise ValueError(f"classifier must be a CellClassifier, got {type(classifier).__name__}")
    image = _checks.as_rgb_image(image, "image")
    pts = _checks.as_points(points, image.shape[:2], "points")
    if not len(pts):
        return np.zeros((0, classifier.n_classes), np.float32)
    names = tuple(f"class{k}" for k in range(classifier.n_classes))
    s = Sample(image, pts, np.zeros(len(pts), np.int64), names, name="query")
    patches, _ = cell_patches([s], classifier.patch_size)
    return np.asarray(classifier.predict(patches.astype(np.float32) / 255.0, batch_size=batch_size, verbose=0))


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
    out = {"auc": auc, "accuracy": float((pred == y).mean()), "confusion": cm,
           "roc": pd.concat(roc, ignore_index=True) if roc else pd.DataFrame(columns=["class", "fpr", "tpr", "threshold"]),
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
