"""S-DRDIN inference, post-processing (section 2.5) and scoring on the shared predictor.

Detection: threshold the detection map (tuned on validation for F1) -> drop components under
``min_area`` px -> distance transform -> local maxima in a ``peak_window`` window -> dilate with a
disk of ``dilate_radius`` -> centroids (:func:`common.postprocess.blob_points`). Classification: the
mean of each cell-type channel over the ``vote_box`` square around each detected cell, argmax
(eq. 3; :func:`common.postprocess.box_means`). The CONCORDe-Net row classifies each detection with
the SC-CNN classifier's neighbouring ensemble predictor instead (:func:`common.baselines.sccnn.nep_classify`).
"""

from __future__ import annotations

import os

import numpy as np

from common import _checks
from common.baselines.sccnn import SCCNNClassifier, nep_classify
from common.evaluation import Calibration
from common.evaluation import calibrate as _calibrate
from common.inference import Detections, Predictor, receptive_field, score_at
from common.postprocess import blob_points, box_means, threshold_centroids

__all__ = ["METHODS", "NETWORKS", "SDRDINPredictor", "locate", "method_of", "thresholds"]

NETWORKS = ("SDRDIN", "UNet", "InceptionUNet", "SCCNNClassifier")

METHODS = ("blobs", "components")


def method_of(config) -> str:
    """How a row locates cells: ``"blobs"`` (section 2.5) or, for the CONCORDe-Net row, CONCORDe-Net's
    own ``"components"`` (threshold -> centre of each connected component, Hagos et al. 2019)."""
    return "components" if config.model == "concordenet" else "blobs"


def locate(det_map, threshold: float, config) -> np.ndarray:
    """Cell centres (N, 2) (x, y) of a detection map: section 2.5 with the config's constants, or
    CONCORDe-Net's component centres for its row (:func:`method_of`)."""
    if method_of(config) == "components":
        return threshold_centroids(det_map, threshold)
    return blob_points(det_map, threshold, config.min_area, config.peak_window, config.dilate_radius)


def _fully_convolutional(model):
    """A copy of ``model`` taking any input size (weights are synchronised before each use)."""
    cfg = dict(model.get_config(), input_size=None, name=model.name + "_fcn")
    return model.__class__.from_config(cfg)


def _outputs(net, x) -> dict:
    out = net(x, training=False)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    return {net.output_name: np.asarray(out)}


class SDRDINPredictor(Predictor):
    """A row's trained pipeline: a detection network and a classification network (the same S-DRDIN
    for the joint rows) with the run's tuned threshold.

    ``maps(image)`` gives ``"det"`` (H, W) detection probabilities and, with a per-pixel
    classification network, ``"class"`` (H, W, C + 1) class probabilities (last channel:
    background). A patch classifier (:class:`common.baselines.sccnn.SCCNNClassifier`, the
    CONCORDe-Net row) has no map: ``detect`` classifies each detected cell from the image.
    """

    def __init__(self, detector, config, postprocess=None, class_names=None, folder=None, *, classifier=None,
                 tile_size: int = 512, batch_size: int = 4):
        from sdrdin.model import tasks_of

        if detector is None or "det" not in tasks_of(detector):
            raise ValueError("the detector must be a network with a detection output ('det')")
        if classifier is not None and not {"class", "cell_class"} & set(tasks_of(classifier)):
            raise ValueError("the classifier must be a network with a classification output ('class') or an "
                             "SCCNNClassifier")
        super().__init__(detector, config, postprocess, class_names, folder)
        self.methods = (method_of(config),)
        self.fixed_input = False
        self.detector, self.classifier = detector, classifier
        self.joint = classifier is detector
        self.patch_classifier = isinstance(classifier, SCCNNClassifier)
        depth = getattr(detector, "depth_", 4)
        self.alignment = 2 ** (depth - 1)
        tile_size = _checks.positive(tile_size, "tile_size", integer=True)
        if tile_size % self.alignment:
            raise ValueError(f"tile_size must be a multiple of {self.alignment}, got {tile_size}")
        self.tile_size, self.batch_size = tile_size, _checks.positive(batch_size, "batch_size", integer=True)
        self._det = _fully_convolutional(detector)
        self._cls = (self._det if self.joint else
                     _fully_convolutional(classifier) if classifier is not None and not self.patch_classifier else None)
        self.reach = max(receptive_field(n)[0] for n in (self._det, self._cls) if n is not None)
        if classifier is not None:
            n = (classifier.n_classes if self.patch_classifier
                 else int(classifier.get_layer("class").kernel.shape[-1]) - 1)
            if class_names is not None and len(class_names) != n:
                raise ValueError(f"{len(class_names)} class names {list(class_names)} for a network of {n} classes")

    def history(self) -> list:
        """The training history: the joint network's, or the detection network's for a separate pipeline
        (``<run>/detection``; the classification network's is in ``<run>/classification``)."""
        from common.training import RunDir

        if not self.joint and self.folder and os.path.isdir(os.path.join(self.folder, "detection")):
            return RunDir(os.path.join(self.folder, "detection"), create=False).history()
        return super().history()

    def sync(self):
        self._det.set_weights(self.detector.get_weights())
        if self._cls is not None and not self.joint:
            self._cls.set_weights(self.classifier.get_weights())

    def forward(self, tiles):
        x = tiles.astype(np.float32)
        out = _outputs(self._det, x)
        parts = [out["det"]]
        if self._cls is not None:
            parts.append(out["class"] if self.joint else _outputs(self._cls, x)["class"])
        return np.concatenate(parts, axis=-1)

    def split_maps(self, stacked):
        maps = {"det": stacked[..., 0]}
        if self._cls is not None:
            maps["class"] = stacked[..., 1:]
        return maps

    def detect(self, maps, image, method=None, threshold=None) -> Detections:
        own = method_of(self.config)
        if method not in (None, own):
            raise ValueError(f"this {self.config.variant_name or 'S-DRDIN'} run locates cells by {own!r} only, "
                             f"got method {method!r}")
        thr = self.tuned(own)[1]["threshold"] if threshold is None else float(threshold)
        pts = locate(maps["det"], thr, self.config)
        scores = score_at(maps["det"], pts)
        if self.patch_classifier:
            means = nep_classify(self.classifier, image, pts, self.config.sccnn_radius)
        elif "class" in maps:
            means = box_means(maps["class"][..., :-1], pts, self.config.vote_box)   # eq. 3, background dropped
        else:
            return Detections(pts, None, scores)
        total = means.sum(axis=1, keepdims=True)
        prob = np.divide(means, total, out=np.full_like(means, 1.0 / max(1, means.shape[1])), where=total > 0)
        names = self.class_names or tuple(f"class{k}" for k in range(means.shape[1]))
        return Detections(pts, means.argmax(axis=1) if len(pts) else np.zeros(0, np.int64), scores, prob, names)

    def calibrate(self, val, maps=None) -> Calibration:
        """The detection threshold with the best validation F1 at ``config.match_radius``."""
        config = self.config
        maps = maps if maps is not None else [self.maps(s.image) for s in val]

        def loc(m, threshold):
            return locate(m, threshold, config)

        params, sweep = _calibrate([m["det"] for m in maps], val, loc, config.match_radius,
                                   what=f"S-DRDIN {config.variant_name or ''}".strip(),
                                   thresholds=thresholds(config.n_thresholds))
        method = method_of(config)
        if method == "blobs":
            params.update(min_area=int(config.min_area), peak_window=int(config.peak_window),
                          dilate_radius=int(config.dilate_radius), vote_box=int(config.vote_box))
        return Calibration(method, {method: params}, sweep.assign(method=method),
                           f"detection F1 at {config.match_radius:g} px")


def thresholds(n: int) -> np.ndarray:
    """``n`` probability thresholds, geometric from 1e-4 to 0.99.

    The threshold of section 2.5 sets how large each blob is before components under ``min_area``
    are dropped, so for radius-2 targets the best one can lie far below the maps' peak values; a
    geometric grid reaches those low values and still covers 0.1-0.99.
    """
    return np.geomspace(1e-4, 0.99, int(n))
