"""AwareNet inference and scoring on the shared predictor: probability maps, detections, calibration,
detection and classification metrics (ROC/AUC, confusion matrix, UMAP of the 200-d features)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from awarenet.data import cell_patches
from awarenet.model import AwareNetDetector, CellClassifier
from common import _checks
from common.evaluation import calibrate as _calibrate
from common.inference import Detections, Predictor, load_keras, receptive_field, resolve_run, score_at
from common.matching import detection_recall_by_class
from common.postprocess import threshold_centroids

__all__ = ["AwareNetPredictor", "METHODS", "calibrate", "classification_report", "classify_cells", "detect",
           "load", "recall_by_class"]

METHODS = ("threshold",)


def detect(prob, threshold: float, min_area: int = 3) -> np.ndarray:
    """Paper post-processing: threshold -> 8-connected components -> centroids, (N, 2) (x, y)."""
    return threshold_centroids(prob, threshold, min_area=min_area)


def logit(p) -> float:
    """``log(p / (1 - p))`` of a probability threshold in [0, 1) (clear errors outside)."""
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"a probability threshold must lie in [0, 1), got {p}")
    return float(np.log(p) - np.log1p(-p)) if p > 0 else -np.inf


def sigmoid(z):
    """The logistic function in float64 (exact near 1, where float32 rounds to 1.0)."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class AwareNetPredictor(Predictor):
    """An AwareNet detector (and optionally its cell classifier) with the run's calibrated threshold.

    The detector runs fully convolutionally on tiles of ``tile_size`` whose origins lie on the
    pooling grid, each keeping the network's receptive-field reach as context, so tiled maps equal
    one pass. Its fully convolutional copy shares nothing but the weights, which are copied from the
    detector on every call: retraining the same detector object is always seen. The copy outputs
    logits: ``maps()["logit"]`` is what thresholds compare with (a probability threshold ``p`` is the
    logit threshold ``log(p / (1 - p))``; float32 probabilities round to exactly 1.0 inside confident
    cells, so thresholds near 1 could not be told apart), ``maps()["prob"]`` is its sigmoid.
    """

    def __init__(self, detector, classifier=None, config=None, postprocess=None, class_names=None, folder=None,
                 tile_size: int = 1024, batch_size: int = 2):
        if not isinstance(detector, AwareNetDetector):
            raise ValueError(f"detector must be an AwareNetDetector, got {type(detector).__name__}")
        if classifier is not None and not isinstance(classifier, CellClassifier):
            raise ValueError(f"classifier must be a CellClassifier, got {type(classifier).__name__}")
        if classifier is not None and class_names is not None and len(class_names) != classifier.n_classes:
            raise ValueError(f"{len(class_names)} class names {list(class_names)} for a classifier of "
                             f"{classifier.n_classes} classes")
        super().__init__(config, postprocess, class_names, folder)
        self.fixed_input = False
        self.detector, self.classifier = detector, classifier
        self.alignment = 2 ** (detector.depth - 1)
        tile_size = _checks.positive(tile_size, "tile_size", integer=True)
        if tile_size % self.alignment:
            raise ValueError(f"tile_size must be a multiple of {self.alignment}, got {tile_size}")
        self.tile_size, self.batch_size = tile_size, int(batch_size)
        self._net = AwareNetDetector(None, detector.base_filters, detector.depth, output="logit",
                                     name=detector.name + "_fcn")
        self.reach = receptive_field(self._net)[0]

    def sync(self):
        self._net.set_weights(self.detector.get_weights())

    def forward(self, tiles):
        x = tiles.astype(np.float32) / 255.0
        return np.asarray(self._net(x, training=False))

    def split_maps(self, stacked):
        z = stacked[..., 0]
        return {"logit": z, "prob": sigmoid(z).astype(np.float32)}

    def detect(self, maps, image, method=None, threshold=None, min_area=None) -> Detections:
        if method not in (None, "threshold"):
            raise ValueError(f"AwareNet locates cells by 'threshold' only, got method {method!r}")
        z_thr = self.tuned("threshold")[1]["logit_threshold"] if threshold is None else logit(threshold)
        if min_area is None:
            min_area = getattr(self.config, "min_area", 3)
        z = maps["logit"]
        pts = detect(z, z_thr, int(min_area))
        scores = sigmoid(score_at(z, pts))
        if self.classifier is None:
            return Detections(pts, None, scores)
        p = classify_cells(self.classifier, image, pts)
        names = self.class_names or tuple(f"class{k}" for k in range(self.classifier.n_classes))
        return Detections(pts, p.argmax(1) if len(pts) else np.zeros(0, np.int64), scores, p, names)


def load(run, classifier=None, tile_size: int = 1024) -> AwareNetPredictor:
    """The predictor of an AwareNet run folder (or a detector ``.keras`` file).

    Reads ``model.keras``, ``config.json``, ``postprocess.json``, ``data.json`` and, when present,
    ``classifier/model.keras`` (or the ``classifier`` path given).
    """
    import os

    import awarenet.losses  # noqa: F401  (registers the losses of compiled files)
    from awarenet.config import AwareNetConfig
    from common.baselines import concordenet  # noqa: F401
    from common.training import RunDir

    folder, file = resolve_run(run)
    rd = RunDir(folder, create=False)
    config = AwareNetConfig.load(folder) if os.path.isfile(os.path.join(folder, "config.json")) else AwareNetConfig()
    detector = load_keras(file, ("AwareNetDetector",), "awarenet")
    clf_path = classifier or os.path.join(folder, "classifier", "model.keras")
    if classifier is not None and not os.path.isfile(clf_path):
        raise FileNotFoundError(f"no classifier at {clf_path}")
    clf = load_keras(clf_path, ("CellClassifier",), "awarenet") if os.path.isfile(clf_path) else None
    data = rd.read_json("data.json") or {}
    names = data.get("class_names") if clf is not None else None
    if clf is not None and (names is None or len(names) != clf.n_classes):
        names = [f"class{k}" for k in range(clf.n_classes)]
    return AwareNetPredictor(detector, clf, config, rd.postprocess(), names, folder, tile_size=tile_size)


def calibrate(logit_maps, samples, config, what: str = ""):
    """The validation threshold with the best F1 at ``config.match_radius``: ``(params, sweep)``.

    Thresholds are searched on the logit maps (``AwareNetPredictor.maps()["logit"]``); ``params``
    holds ``logit_threshold`` and the same threshold as a probability (``threshold``, float64), and
    the sweep a ``probability`` column beside each logit ``threshold``.
    """
    def locate(m, threshold):
        return detect(m, threshold, config.min_area)

    params, sweep = _calibrate(logit_maps, samples, locate, config.match_radius, n_thresholds=config.n_thresholds,
                               what=what)
    params["logit_threshold"] = params.pop("threshold")
    params["threshold"] = float(sigmoid(params["logit_threshold"]))
    params["min_area"] = int(config.min_area)
    sweep = sweep.rename(columns={"threshold": "logit_threshold"})
    sweep.insert(0, "threshold", sigmoid(sweep["logit_threshold"].to_numpy()))
    return params, sweep


def recall_by_class(detections, samples, radius: float) -> pd.DataFrame:
    """Detection recall of each annotated class (class-agnostic matching)."""
    return detection_recall_by_class([d.points for d in detections], [s.points for s in samples],
                                     [s.classes for s in samples], radius, list(samples[0].class_names))


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
