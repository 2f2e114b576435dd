"""The template's predictor: the density map, tiled by the shared predictor, and its peaks."""

from __future__ import annotations

import numpy as np

from common.evaluation import Calibration, calibrate
from common.inference import Detections, Predictor, receptive_field, score_at
from common.postprocess import peak_points

__all__ = ["TemplatePredictor"]


class TemplatePredictor(Predictor):
    """A trained :class:`paper_template.model.TemplateNet` with its calibrated peak threshold and distance."""

    methods = ("peaks",)
    alignment = 2
    fixed_input = False

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None):
        super().__init__(model, config, postprocess, class_names, folder)
        self.reach = receptive_field(model)[0]

    def forward(self, tiles):
        return np.asarray(self.model(tiles.astype(np.float32), training=False))

    def detect(self, maps, image, method=None, threshold=None, min_distance=None) -> Detections:
        if threshold is None or min_distance is None:
            tuned = self.tuned("peaks")[1]
            threshold = tuned["threshold"] if threshold is None else threshold
            min_distance = tuned["min_distance"] if min_distance is None else min_distance
        m = maps["map"][..., 0]
        pts = peak_points(m, int(min_distance), float(threshold))
        return Detections(pts, None, score_at(m, pts))

    def calibrate(self, val, maps=None) -> Calibration:
        maps = maps if maps is not None else [self.maps(s.image) for s in val]
        cfg = self.config

        def locate(m, threshold, min_distance=3):
            return peak_points(m, int(min_distance), float(threshold))

        params, sweep = calibrate([m["map"][..., 0] for m in maps], val, locate, cfg.match_radius,
                                  grid={"min_distance": list(cfg.min_distances)}, n_thresholds=cfg.n_thresholds,
                                  low=0.0, high=1.0, limits={"min_distance": (1, None)}, what="template peaks")
        return Calibration("peaks", {"peaks": params}, sweep.assign(method="peaks"), f"F1 at {cfg.match_radius:g} px")
