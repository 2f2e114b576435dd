"""MapDe inference and cell location (section 2.3, Table 1) on the shared predictor and calibration.

The location methods of Table 1 (plus SC-CNN's peaks):

* ``"deconv"`` (Proposed): Lucy-Richardson deconvolution with the mapping filter as PSF (2
  iterations) of the output (``deconv_input="raw"``, the paper) or of our label estimate
  ``sigmoid(y - log w)`` (``"label_estimate"``), threshold, centroids. One parameter: the threshold.
* ``"peak"`` (MapDe-Peak, Micro-Net-Peak, SCCNN): local maxima; threshold and minimum distance.
* ``"feat"`` (MapDe-feat(L-1)): the layer L-1 map denoised by a guided filter guided by the input
  image, thresholded, centroids of the regions. One parameter: the threshold.

Thresholds are searched over the validation maps' own local-maximum values (the network output is a
score of no fixed scale) and refined around the best (``common.evaluation.calibrate``);
:meth:`MapDePredictor.calibrate` tunes every method the model supports.
"""

from __future__ import annotations

import numpy as np

from common import _checks
from common.baselines.sccnn import SCCNN, sccnn_map
from common.deconv import richardson_lucy
from common.evaluation import Calibration
from common.evaluation import calibrate as _calibrate
from common.inference import Detections, Predictor, receptive_field
from common.labels import mapping_filter
from common.postprocess import guided_filter, peak_points, threshold_centroids
from mapde.losses import label_estimate
from mapde.model import INPUT_SIZE, MapDe, MicroNet

__all__ = ["METHODS", "MapDePredictor", "calibrate", "default_method", "locate", "location_map", "method_key",
           "methods_for"]

METHODS = ("deconv", "peak", "feat")


def methods_for(model_kind: str) -> tuple:
    """The location methods a trained model supports: all three for MapDe, peaks otherwise."""
    return METHODS if model_kind == "mapde" else ("peak",)


def default_method(model_kind: str) -> str:
    return "deconv" if model_kind == "mapde" else "peak"


def method_key(method: str, deconv_input: str | None = None) -> str:
    """The ``postprocess.json`` key of a method: ``"deconv:label_estimate"`` for deconvolution of the label
    estimate, else the method's name."""
    return "deconv:label_estimate" if method == "deconv" and deconv_input == "label_estimate" else method


def location_map(maps: dict, image, method: str, config, deconv_input: str | None = None) -> np.ndarray:
    """The (H, W, C) map a location method thresholds: the deconvolved output (``"deconv"``), the
    score itself (``"peak"``) or the guided-filtered layer L-1 map (``"feat"``)."""
    _checks.one_of(method, METHODS, "method")
    if method == "feat":
        if "feat" not in maps:
            raise ValueError("method 'feat' needs a MapDe model (the layer L-1 map)")
        f = maps["feat"]
        return np.stack([guided_filter(image, f[..., c], config.guided_radius, config.guided_eps)
                         for c in range(f.shape[-1])], axis=-1)
    score = maps["map"]
    if method == "deconv":
        deconv_input = deconv_input or config.deconv_input
        _checks.one_of(deconv_input, ("raw", "label_estimate"), "deconv_input")
        psf = mapping_filter(config.radius, config.filter_size)
        src = np.moveaxis(score, -1, 0).astype(np.float32)
        if deconv_input == "label_estimate":
            src = label_estimate(src, config.pos_weight)
        return np.moveaxis(richardson_lucy(src, psf, config.deconv_iterations), 0, -1)
    return score


def locate(lmap, method: str, threshold: float, min_distance: int = 4, min_area: int = 1,
           return_classes: bool = False):
    """Cell centres (N, 2) (x, y) from a :func:`location_map`: peaks for ``"peak"``, otherwise
    threshold -> 8-connected regions (>= ``min_area`` px) -> centroids. A (H, W, C) map is
    located per channel (one channel per cell type); ``return_classes`` also returns the channel
    of each point."""
    _checks.one_of(method, METHODS, "method")
    m = np.asarray(lmap)
    if m.ndim == 2:
        m = m[..., None]
    if m.ndim != 3:
        raise ValueError(f"lmap must be (H, W) or (H, W, C), got shape {m.shape}")
    pts, cls = [], []
    for c in range(m.shape[-1]):
        if method == "peak":
            p = peak_points(m[..., c], int(min_distance), float(threshold))
        else:
            p = threshold_centroids(m[..., c], float(threshold), min_area=min_area)
        pts.append(p)
        cls.append(np.full(len(p), c, np.int64))
    points = np.concatenate(pts) if pts else np.zeros((0, 2))
    return (points, np.concatenate(cls)) if return_classes else points


def calibrate(lmaps, samples, method: str, config, what: str = ""):
    """Best threshold (and peak distance) on validation location maps by F1 at ``config.match_radius``.

    Returns:
        ``(params, sweep)`` as :func:`common.evaluation.calibrate` gives them, with ``min_area``
        (and ``min_distance`` for peaks).
    """
    _checks.one_of(method, METHODS, "method")
    grid = {"min_distance": list(config.min_distances)} if method == "peak" else None

    def fn(m, threshold, min_distance=1):
        return locate(m, method, threshold, min_distance, config.min_area)

    params, sweep = _calibrate(lmaps, samples, fn, config.match_radius, grid=grid, n_thresholds=config.n_thresholds,
                               limits={"min_distance": (1, None)}, what=what)
    params["min_area"] = int(config.min_area)
    return params, sweep


class MapDePredictor(Predictor):
    """A trained MapDe, Micro-Net (regression) or SC-CNN with the run's tuned location methods.

    Micro-Net takes 252 x 252 inputs: larger images are cut into 252 px tiles (batched, run as one
    compiled function), smaller ones are reflect-padded. Micro-Net standardises each tile and resizes
    it whole at every encoder level, so its 280 px reach never fits a tile and tiles cannot equal one
    pass (``margin_note`` says so); the tiles keep :attr:`TILE_MARGIN` px of context: one nucleus
    diameter, as every margin from 8 to 63 px (the previous default) gave the same CRCHisto
    validation F1 within noise (``results/mapde/tile_margin.md``); 81 tiles instead of 225 for a
    2000 x 2000 image. SC-CNN runs densely over the whole image.
    """

    tile_size = INPUT_SIZE
    TILE_MARGIN = 16

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None, *, batch_size: int = 4,
                 precision: str = "float32"):
        from common.inference import at_precision

        if not isinstance(model, (MapDe, MicroNet, SCCNN)):
            raise ValueError(f"model must be a MapDe, MicroNet or SCCNN, got {type(model).__name__}")
        super().__init__(model, config, postprocess, class_names, folder)
        self.batch_size = _checks.positive(batch_size, "batch_size", integer=True)
        self.kind = "mapde" if isinstance(model, MapDe) else "micronet" if isinstance(model, MicroNet) else "sccnn"
        self.methods = methods_for(self.kind)
        self.precision = precision
        self._net = at_precision(model, precision)   # the network inference runs (a bfloat16 copy, or the model)
        if self.kind != "sccnn":
            self.reach = receptive_field(model)[0]
            self._fn = self._net.feature_model() if self.kind == "mapde" else self._net

    @property
    def margin(self) -> int:
        return min(self.TILE_MARGIN, self.max_margin)

    def forward(self, tiles):
        x = tiles.astype(np.float32)
        n = len(x)
        if n < self.batch_size:   # one compiled shape: the last batch padded to a full one
            x = np.concatenate([x, np.zeros((self.batch_size - n, *x.shape[1:]), np.float32)])
        out = self._fn.predict_on_batch(x)   # compiled (graph / jit): a quarter faster than an eager call
        if self.kind == "mapde":
            y, f = out
            return np.concatenate([np.asarray(y, np.float32), np.asarray(f, np.float32)], axis=-1)[:n]
        return np.asarray(out["main"] if isinstance(out, dict) else out, np.float32)[:n]

    def split_maps(self, stacked):
        if self.kind == "mapde":
            c = self.model.n_channels
            return {"map": stacked[..., :c], "feat": stacked[..., c:]}
        return {"map": stacked}

    def maps(self, image, progress: bool = False) -> dict:
        if self.kind == "sccnn":
            return {"map": sccnn_map(self._net, _checks.as_rgb_image(image, "image"))[..., None]}
        return super().maps(image, progress=progress)

    def location_map(self, maps, image, method: str, deconv_input: str | None = None):
        return location_map(maps, image, method, self.config, deconv_input)

    def detect(self, maps, image, method=None, threshold=None, min_distance=None, min_area=None,
               deconv_input=None) -> Detections:
        if method is None and deconv_input is None and self.postprocess.get("method"):
            method, _, deconv_input = self.postprocess["method"].partition(":")
        method = method or default_method(self.kind)
        if method not in self.methods:
            raise ValueError(f"a {self.kind} model locates cells by {list(self.methods)}, not {method!r}")
        if method == "deconv":
            deconv_input = deconv_input or self.config.deconv_input
        key = method_key(method, deconv_input)
        tuned = {}
        if threshold is None or (method == "peak" and min_distance is None):
            tuned = self.tuned(key)[1]
        threshold = tuned.get("threshold") if threshold is None else threshold
        min_distance = tuned.get("min_distance", 1) if min_distance is None else min_distance
        min_area = self.config.min_area if min_area is None else min_area
        lmap = location_map(maps, image, method, self.config, deconv_input)
        pts, ch = locate(lmap, method, float(threshold), int(min_distance), int(min_area), return_classes=True)
        m = np.asarray(lmap).reshape(lmap.shape[0], lmap.shape[1], -1)
        rows = np.clip(np.rint(pts[:, 1]).astype(int), 0, m.shape[0] - 1)
        cols = np.clip(np.rint(pts[:, 0]).astype(int), 0, m.shape[1] - 1)
        scores = m[rows, cols, ch]   # the location map's value at each cell, in its own channel
        if self.config.per_class and self.class_names:
            return Detections(pts, ch, scores, class_names=self.class_names)
        return Detections(pts, None, scores)


    def calibrate(self, val, maps=None, methods=None) -> Calibration:
        """Tunes every location method (or ``methods``) on ``val`` by F1 at ``config.match_radius``.

        ``"deconv"`` is tuned for both inputs (``raw``, the paper, and ``label_estimate``). The default
        method is the row's (``config.locate``) where the model has it, else the model's own.
        """
        import pandas as pd

        methods = methods or self.methods
        maps = maps if maps is not None else [self.maps(s.image) for s in val]
        params, sweeps = {}, []
        for method in methods:
            inputs = ("raw", "label_estimate") if method == "deconv" else (None,)
            for di in inputs:
                key = method_key(method, di)
                lm = [location_map(m, s.image, method, self.config, di) for m, s in zip(maps, val)]
                p, sw = calibrate(lm, val, method, self.config, what=f"MapDe {self.kind} {key}")
                if di:
                    p["deconv_input"] = di
                params[key] = p
                sweeps.append(sw.assign(method=key))
        own = method_key(self.config.locate, self.config.deconv_input)
        default = own if own in params else default_method(self.kind)
        if default not in params:
            default = next(iter(params))
        return Calibration(default, params, pd.concat(sweeps, ignore_index=True),
                           f"F1 at {self.config.match_radius:g} px")
