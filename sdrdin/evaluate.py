"""S-DRDIN inference, post-processing (section 2.5) and scoring on the shared predictor.

Detection: threshold the detection map (tuned on validation for F1) -> drop components under
``min_area`` px -> distance transform -> local maxima in a ``peak_window`` window -> dilate with a
disk of ``dilate_radius`` -> centroids (:func:`common.postprocess.blob_points`). Classification: the
mean of each cell-type channel over the ``vote_box`` square around each detected cell, argmax
(eq. 3; :func:`common.postprocess.box_means`).
"""

from __future__ import annotations

import os

import numpy as np

from common import _checks
from common.evaluation import calibrate as _calibrate
from common.inference import Detections, Predictor, load_keras, receptive_field, resolve_run, score_at
from common.postprocess import blob_points, box_means

__all__ = ["METHODS", "SDRDINPredictor", "calibrate_predictor", "load", "locate"]

METHODS = ("blobs",)


def locate(det_map, threshold: float, config) -> np.ndarray:
    """Cell centres (N, 2) (x, y) of a detection map with the config's section 2.5 constants."""
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

    ``maps(image)`` gives ``"det"`` (H, W) detection probabilities and, with a classification
    network, ``"class"`` (H, W, C + 1) class probabilities (last channel: background).
    """

    def __init__(self, detector, classifier=None, config=None, postprocess=None, class_names=None, folder=None,
                 tile_size: int = 512, batch_size: int = 4):
        from sdrdin.train import tasks_of

        if detector is None or "det" not in tasks_of(detector):
            raise ValueError("the detector must be a network with a detection output ('det')")
        if classifier is not None and "class" not in tasks_of(classifier):
            raise ValueError("the classifier must be a network with a classification output ('class')")
        super().__init__(config, postprocess, class_names, folder)
        self.fixed_input = False
        self.detector, self.classifier = detector, classifier
        self.joint = classifier is detector
        depth = getattr(detector, "depth_", 4)
        self.alignment = 2 ** (depth - 1)
        tile_size = _checks.positive(tile_size, "tile_size", integer=True)
        if tile_size % self.alignment:
            raise ValueError(f"tile_size must be a multiple of {self.alignment}, got {tile_size}")
        self.tile_size, self.batch_size = tile_size, int(batch_size)
        self._det = _fully_convolutional(detector)
        self._cls = self._det if self.joint else (_fully_convolutional(classifier) if classifier is not None else None)
        self.reach = max(receptive_field(n)[0] for n in (self._det, self._cls) if n is not None)
        if classifier is not None:
            n = int(classifier.get_layer("class").kernel.shape[-1]) - 1
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
        if method not in (None, "blobs"):
            raise ValueError(f"S-DRDIN locates cells by 'blobs' only, got method {method!r}")
        thr = self.tuned("blobs")[1]["threshold"] if threshold is None else float(threshold)
        pts = locate(maps["det"], thr, self.config)
        scores = score_at(maps["det"], pts)
        if "class" not in maps:
            return Detections(pts, None, scores)
        cell = maps["class"][..., :-1]                      # drop the background channel
        means = box_means(cell, pts, self.config.vote_box)   # eq. 3
        total = means.sum(axis=1, keepdims=True)
        prob = np.divide(means, total, out=np.full_like(means, 1.0 / max(1, means.shape[1])), where=total > 0)
        names = self.class_names or tuple(f"class{k}" for k in range(cell.shape[-1]))
        return Detections(pts, means.argmax(axis=1) if len(pts) else np.zeros(0, np.int64), scores, prob, names)


def calibrate_predictor(pred: SDRDINPredictor, val, maps=None):
    """The detection threshold with the best validation F1 at ``config.match_radius``: ``(params, sweep)``."""
    config = pred.config
    maps = maps if maps is not None else [pred.maps(s.image) for s in val]

    def loc(m, threshold):
        return locate(m, threshold, config)

    params, sweep = _calibrate([m["det"] for m in maps], val, loc, config.match_radius,
                               n_thresholds=config.n_thresholds, what=f"S-DRDIN {config.variant_name or ''}".strip())
    params.update(min_area=int(config.min_area), peak_window=int(config.peak_window),
                  dilate_radius=int(config.dilate_radius), vote_box=int(config.vote_box))
    return params, sweep.assign(method="blobs")


_NETWORKS = ("SDRDIN", "UNet")


def load(run, tile_size: int = 512) -> SDRDINPredictor:
    """The predictor of an S-DRDIN run folder (any table row's pipeline)."""
    import sdrdin.losses  # noqa: F401  (registers the losses of compiled files)
    from common.training import RunDir
    from sdrdin.config import SDRDINConfig
    from sdrdin.train import pipeline_parts

    run = os.fspath(run)
    if not os.path.isfile(os.path.join(run, "config.json")):
        raise FileNotFoundError(f"no S-DRDIN run at {run} (config.json missing): pass a folder written by "
                                "`python -m sdrdin train`")
    config = SDRDINConfig.load(run)
    rd = RunDir(run, create=False)
    parts = pipeline_parts(config)
    models = {sub: load_keras(resolve_run(os.path.join(run, sub) if sub else run)[1], _NETWORKS, "sdrdin")
              for sub in parts}
    det = models.get("", models.get("detection"))
    cls = models.get("", models.get("classification"))
    names = (rd.read_json("data.json") or {}).get("class_names")
    return SDRDINPredictor(det, cls, config, rd.postprocess(), names, run, tile_size=tile_size)
