"""Inference: proposals -> cells (section 2), density maps -> cells (Table 1 competitors).

* Point model: proposals whose p_obj exceeds the threshold tuned on the validation split become
  cells with the argmax class (section 2; P2PNet keeps p > 0.5, the tuned threshold is ours and
  ``threshold=0.5`` gives P2PNet's rule). The image is first resized by ``config.image_scale`` and
  the points mapped back. Images are padded to a multiple of 32 and, when larger
  than ``config.tile_size``, cut into tiles that keep 64 px of context; each cell belongs to the tile
  whose core holds it.
* Density models: local maxima of the all-cells map (threshold and distance tuned on validation),
  class = the largest class map at the peak.
"""

from __future__ import annotations

import numpy as np

from common import _checks
from common.evaluation import Calibration, calibrate
from common.inference import Detections, Predictor
from common.postprocess import peak_points

__all__ = ["DensityPredictor", "PointPredictor", "predictor_for"]

_CONTEXT = 64   # px of context each tile keeps (two 32 px regions)


def _checked(model, cls):
    if not isinstance(model, cls):
        raise ValueError(f"model must be a {cls.__name__}, got {type(model).__name__}")
    return model


def _names(model, class_names) -> tuple:
    return tuple(class_names) if class_names else tuple(f"class{k}" for k in range(model.n_classes))


class PointPredictor(Predictor):
    """A trained :class:`pointnet_cells.model.PointNet` with its tuned p_obj threshold."""

    alignment = 32
    methods = ("proposals",)

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None):
        from pointnet_cells.model import PointNet

        super().__init__(_checked(model, PointNet), config, postprocess, _names(model, class_names), folder)
        self.tile_size = int(config.tile_size)

    def maps(self, image, progress: bool = False) -> dict:
        """The point model gives proposals, not maps: this explains itself rather than returning nothing."""
        raise ValueError("a point-proposal model has no detection maps: it gives cells (use predict, or "
                         "proposals for every scored proposal)")

    def slide_window(self, tile=None):
        core, _ = super().slide_window(tile)
        return core, self.context + 32        # proposals near a tile's edge keep their regions' neighbours

    @property
    def context(self) -> int:
        """Pixels of context a tile keeps on each side: 64, less for tiles under 256 px."""
        return min(_CONTEXT, self.tile_size // 4 // 32 * 32)

    def proposals(self, image) -> tuple:
        """All proposals of an image that fits one pass: ``(points (M, 2), p_obj (M,), p_cls (M, C))`` in
        image coordinates (the image is padded to a multiple of 32; proposals are not clipped)."""
        from pointnet_cells.model import proposal_scores

        image = _checks.as_rgb_image(image, "image")
        h, w = image.shape[:2]
        ph, pw = (-h) % 32, (-w) % 32
        if ph or pw:
            image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect" if ph < h and pw < w else "edge")
        raw = np.asarray(self.model(image[None].astype(np.float32), training=False))[0]
        return proposal_scores(raw, self.model.heads, self.model.n_classes)

    def _cells(self, tile, threshold):
        pts, p_obj, p_cls = self.proposals(tile)
        h, w = tile.shape[:2]
        keep = (p_obj > threshold) & (pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] < w) & (pts[:, 1] < h)
        return pts[keep], p_obj[keep], p_cls[keep]

    def predict(self, image, method=None, progress: bool = False, threshold: float | None = None) -> Detections:
        """Cells of one RGB uint8 image of any size, with the run's tuned threshold unless given."""
        from common.tiling import tiled_points
        from pointnet_cells.data import rescaled

        image = _checks.as_rgb_image(image, "image")
        self.check_method(method)
        _checks.finite_params({"threshold": threshold})
        if threshold is None:
            threshold = self.tuned("proposals")[1]["threshold"]
        factor = float(getattr(self.config, "image_scale", 1.0))
        original = image.shape[:2]
        image, _ = rescaled(image, np.zeros((0, 2)), factor)
        if max(image.shape[:2]) <= self.tile_size:
            pts, score, prob = self._cells(image, threshold)
        else:
            pts, score, prob = tiled_points(image, lambda t: self._cells(t, threshold), self.tile_size,
                                            self.context, progress=progress)
        prob = np.asarray(prob, np.float64).reshape(len(pts), self.model.n_classes)
        if factor != 1:   # back to the caller's pixels (x, y scaled by the resize of each side)
            pts = np.asarray(pts, np.float64) * np.array([original[1] / image.shape[1], original[0] / image.shape[0]])
            pts = np.minimum(pts, np.array([original[1] - 1e-6, original[0] - 1e-6]))
        cls = prob.argmax(axis=1) if len(pts) else np.zeros(0, np.int64)
        return Detections(pts, cls, score, class_probabilities=prob, class_names=self.class_names)

    def calibrate(self, val, maps=None) -> Calibration:
        """The p_obj threshold by detection F1 on ``val`` (every proposal inside each image, scored once,
        then thresholded); the 0.05-0.95 grid is extended toward the proposals' own scores when its best
        lies on an edge."""
        cfg = self.config
        dets = [self.predict(s.image, threshold=0.0) for s in val]
        thresholds = np.unique(np.concatenate([np.linspace(0.05, 0.95, cfg.n_thresholds), [0.5]]))
        scores = np.concatenate([d.scores for d in dets]) if dets else np.zeros(0)

        def locate(d, threshold):
            return d.points[d.scores > threshold]

        params, sweep = calibrate(dets, val, locate, cfg.match_radius, thresholds=thresholds, refine=4,
                                  what="pointnet_cells proposals",
                                  threshold_range=(0.0, float(scores.max()) if len(scores) else 1.0))
        return Calibration("proposals", {"proposals": params}, sweep.assign(method="proposals"),
                           f"detection F1 at {cfg.match_radius:g} px")


def predictor_for(model, config, class_names, folder=None, postprocess=None):
    """The predictor of a trained point or density model."""
    if config.model == "point":
        return PointPredictor(model, config, postprocess, class_names, folder)
    return DensityPredictor(model, config, postprocess, class_names, folder)


class DensityPredictor(Predictor):
    """A trained :class:`DensityNet`: peaks of the all-cells map, class by the largest class map."""

    fixed_input = False
    methods = ("peaks",)

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None):
        from pointnet_cells.model import DensityNet

        super().__init__(_checked(model, DensityNet), config, postprocess, _names(model, class_names), folder)
        self.alignment = model.alignment
        self.tile_size = int(config.tile_size)
        self.reach = 64.0

    def forward(self, tiles):
        return np.asarray(self.model(tiles.astype(np.float32), training=False))

    def detect(self, maps, image, method=None, threshold=None, min_distance=None) -> Detections:
        m = maps["map"]
        if threshold is None or min_distance is None:
            tuned = self.tuned("peaks")[1]
            threshold = tuned["threshold"] if threshold is None else threshold
            min_distance = tuned["min_distance"] if min_distance is None else min_distance
        pts = peak_points(m[..., 0], int(min_distance), float(threshold))
        r = np.clip(np.rint(pts[:, 1]).astype(int), 0, m.shape[0] - 1)
        c = np.clip(np.rint(pts[:, 0]).astype(int), 0, m.shape[1] - 1)
        probs = m[r, c, 1:]
        cls = probs.argmax(axis=1) if len(pts) else np.zeros(0, np.int64)
        return Detections(pts, cls, m[r, c, 0], class_probabilities=probs, class_names=self.class_names)

    def calibrate(self, val, maps=None) -> Calibration:
        """Threshold and peak distance of the all-cells map by detection F1 on ``val``."""
        maps = [m["map"][..., 0] for m in maps] if maps is not None else \
            [self.maps(_checks.as_rgb_image(s.image, "image"))["map"][..., 0] for s in val]

        def locate(m, threshold, min_distance=3):
            return peak_points(m, int(min_distance), float(threshold))

        cfg = self.config
        params, sweep = calibrate(maps, val, locate, cfg.match_radius, grid={"min_distance": list(cfg.min_distances)},
                                  n_thresholds=cfg.n_thresholds, low=0.0, high=1.0, limits={"min_distance": (1, None)},
                                  what=f"density {self.model.arch}")
        return Calibration("peaks", {"peaks": params}, sweep.assign(method="peaks"),
                           f"detection F1 at {cfg.match_radius:g} px")
