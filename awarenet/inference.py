"""AwareNet inference on the shared predictor: probability maps, detections (threshold -> components
-> centroids), the calibration of the threshold and the cell classifier's classes."""

from __future__ import annotations

import numpy as np

from awarenet.data import cell_patches
from awarenet.model import AwareNetDetector, CellClassifier
from common import _checks
from common.evaluation import Calibration
from common.evaluation import calibrate as _calibrate
from common.inference import Detections, Predictor, receptive_field, score_at
from common.postprocess import threshold_centroids

__all__ = ["AwareNetPredictor", "METHODS", "calibrate", "classify_cells", "detect", "logit", "sigmoid"]

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
    cells, so thresholds near 1 could not be told apart), ``maps()["prob"]`` is its sigmoid. For the
    same reason a detection's score is the logit at the cell, not a probability.
    """

    methods = METHODS

    def __init__(self, detector, config=None, postprocess=None, class_names=None, folder=None, *, classifier=None,
                 tile_size: int = 1024, batch_size: int = 2):
        if not isinstance(detector, AwareNetDetector):
            raise ValueError(f"detector must be an AwareNetDetector, got {type(detector).__name__}")
        if classifier is not None and not isinstance(classifier, CellClassifier):
            raise ValueError(f"classifier must be a CellClassifier, got {type(classifier).__name__}")
        if classifier is not None and class_names is not None and len(class_names) != classifier.n_classes:
            raise ValueError(f"{len(class_names)} class names {list(class_names)} for a classifier of "
                             f"{classifier.n_classes} classes")
        super().__init__(detector, config, postprocess, class_names, folder)
        self.fixed_input = False
        self.detector, self.classifier = detector, classifier
        self.alignment = 2 ** (detector.depth - 1)
        tile_size = _checks.positive(tile_size, "tile_size", integer=True)
        if tile_size % self.alignment:
            raise ValueError(f"tile_size must be a multiple of {self.alignment}, got {tile_size}")
        self.tile_size, self.batch_size = tile_size, _checks.positive(batch_size, "batch_size", integer=True)
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
        # the logit, not its sigmoid: under the Dice loss the sigmoid saturates (logits of 30-400 at the
        # cells of the CRCHisto preset), so every cell would score 1.0 and the score would rank nothing
        scores = score_at(z, pts).astype(np.float64)
        if self.classifier is None:
            return Detections(pts, None, scores)
        p = classify_cells(self.classifier, image, pts)
        names = self.class_names or tuple(f"class{k}" for k in range(self.classifier.n_classes))
        return Detections(pts, p.argmax(1) if len(pts) else np.zeros(0, np.int64), scores, p, names)

    def calibrate(self, val, maps=None) -> Calibration:
        """The probability threshold with the best validation F1 at ``config.match_radius``."""
        maps = maps if maps is not None else [self.maps(s.image) for s in val]
        cfg = self.config
        params, sweep = calibrate([m["logit"] for m in maps], val, cfg,
                                  what=f"AwareNet {cfg.variant_name or cfg.weight_scheme}")
        return Calibration("threshold", {"threshold": params}, sweep.assign(method="threshold"),
                           f"F1 at {cfg.match_radius:g} px")


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
