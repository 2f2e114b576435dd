"""Inference and scoring: proposals -> cells (section 2), density maps -> cells (Table 1 competitors).

* Point model: proposals whose p_obj exceeds the threshold tuned on the validation split become
  cells with the argmax class (section 2; P2PNet keeps p > 0.5, the tuned threshold is ours and
  ``threshold=0.5`` gives P2PNet's rule). The image is first resized by ``config.image_scale`` and
  the points mapped back. Images are padded to a multiple of 32 and, when larger
  than ``config.tile_size``, cut into tiles that keep 64 px of context; each cell belongs to the tile
  whose core holds it.
* Density models: local maxima of the all-cells map (threshold and distance tuned on validation),
  class = the largest class map at the peak.

:func:`scores` gives the paper's columns: detection P / R / F1 (class-agnostic one-to-one matching
within 12 px) and classification P / R / F1 (matched within 12 px *within each class*, so a TP needs
the right class; per-class scores averaged over the classes, as the authors' later code does), plus
the micro-averaged classification figures.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from common import _checks
from common.evaluation import calibrate
from common.inference import Detections, Predictor, load_keras, resolve_run
from common.matching import match_points

__all__ = ["PointPredictor", "calibrate_predictor", "class_scores", "load", "predictor_for", "scores", "timed_predict"]

_CONTEXT = 64   # px of context each tile keeps (two 32 px regions)


class PointPredictor(Predictor):
    """A trained :class:`pointnet_cells.model.PointNet` with its tuned p_obj threshold."""

    alignment = 32

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None):
        from pointnet_cells.model import PointNet

        if not isinstance(model, PointNet):
            raise ValueError(f"model must be a PointNet, got {type(model).__name__}")
        super().__init__(config, postprocess, class_names or tuple(f"class{k}" for k in range(model.n_classes)),
                         folder)
        self.model = model
        self.tile_size = int(config.tile_size)

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


    def calibrate(self, val):
        """``("proposals", params, sweep)``: the p_obj threshold by detection F1 on ``val`` (every
        proposal inside each image, scored once, then thresholded)."""
        cfg = self.config
        dets = [self.predict(s.image, threshold=0.0) for s in val]
        thresholds = np.unique(np.concatenate([np.linspace(0.05, 0.95, cfg.n_thresholds), [0.5]]))

        def locate(d, threshold):
            return d.points[d.scores > threshold]

        params, sweep = calibrate(dets, val, locate, cfg.match_radius, thresholds=thresholds, refine=4,
                                  what="pointnet_cells proposals")
        return "proposals", params, sweep.assign(method="proposals")


def predictor_for(model, config, class_names, folder=None, postprocess=None):
    """The predictor of a trained point or density model."""
    if config.model == "point":
        return PointPredictor(model, config, postprocess, class_names, folder)
    from pointnet_cells.density import DensityPredictor

    return DensityPredictor(model, config, postprocess, class_names, folder)


def calibrate_predictor(pred, val):
    """Tunes the predictor's detection on ``val`` by detection F1 at ``match_radius``.

    Returns:
        ``(method, params, sweep, source)`` for ``RunDir.write_postprocess``.
    """
    source = f"validation split ({len(val)} images), best detection F1 at {pred.config.match_radius:g} px"
    return pred.calibrate(val) + (source,)


def load(run):
    """The predictor of a ``pointnet_cells`` run folder (or a ``.keras`` file inside one)."""
    import pointnet_cells.density  # noqa: F401  (registers the density models)
    import pointnet_cells.losses  # noqa: F401
    import pointnet_cells.model  # noqa: F401
    from common.training import RunDir
    from pointnet_cells.config import PointNetConfig

    folder, file = resolve_run(run)
    rd = RunDir(folder, create=False)
    config = PointNetConfig.load(folder) if os.path.isfile(os.path.join(folder, "config.json")) else PointNetConfig()
    from pointnet_cells.density import DENSITY_CLASSES

    model = load_keras(file, ("PointNet", *DENSITY_CLASSES), "pointnet_cells")
    if type(model).__name__ == "PointNet":
        config = config.with_overrides(model="point") if config.model != "point" else config
    names = (rd.read_json("data.json") or {}).get("class_names")
    return predictor_for(model, config, names, folder, rd.postprocess())


def class_scores(dets, samples, radius: float, class_names) -> pd.DataFrame:
    """Classification P / R / F1 with a TP only for a cell found within ``radius`` *with its class*:
    per class (predictions of that class matched one-to-one to annotations of that class), their mean
    over the classes (``macro``) and the pooled counts (``micro``). Unclassified annotations (-1) are
    left out, and so are the predictions matched to them class-agnostically."""
    n = len(class_names)
    tp, npred, ngt = np.zeros(n), np.zeros(n), np.zeros(n)
    for d, s in zip(dets, samples):
        pts, pc = np.asarray(d.points), np.asarray(d.classes)
        gc = np.asarray(s.classes)
        if (gc < 0).any():   # drop predictions that belong to unclassified cells
            r = match_points(pts, s.points, radius)
            drop = r.pairs[gc[r.pairs[:, 1]] < 0, 0] if len(r.pairs) else np.zeros(0, int)
            keep = np.ones(len(pts), bool)
            keep[drop] = False
            pts, pc = pts[keep], pc[keep]
        for c in range(n):
            p, g = pts[pc == c], s.points[gc == c]
            tp[c] += match_points(p, g, radius).tp
            npred[c] += len(p)
            ngt[c] += len(g)
    prec = np.divide(tp, npred, out=np.zeros(n), where=npred > 0)
    rec = np.divide(tp, ngt, out=np.zeros(n), where=ngt > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(n), where=(prec + rec) > 0)
    df = pd.DataFrame({"Precision": prec, "Recall": rec, "F1": f1, "TP": tp.astype(int), "Predicted": npred.astype(int),
                       "Support": ngt.astype(int)}, index=pd.Index(list(class_names), name="class"))
    present = ngt > 0
    df.loc["macro"] = [prec[present].mean() if present.any() else 0.0, rec[present].mean() if present.any() else 0.0,
                       f1[present].mean() if present.any() else 0.0, int(tp.sum()), int(npred.sum()), int(ngt.sum())]
    P = tp.sum() / npred.sum() if npred.sum() else 0.0
    R = tp.sum() / ngt.sum() if ngt.sum() else 0.0
    df.loc["micro"] = [P, R, 2 * P * R / (P + R) if P + R else 0.0, int(tp.sum()), int(npred.sum()), int(ngt.sum())]
    return df


def scores(dets, samples, radius: float, class_names) -> dict:
    """The paper's columns: detection P / R / F1 and classification P / R / F1 (macro over classes)."""
    from common.matching import detection_scores

    d = detection_scores([x.points for x in dets], [s.points for s in samples], radius)
    c = class_scores(dets, samples, radius, class_names)
    return {"Det P": d.precision, "Det R": d.recall, "Det F1": d.f1, "Cls P": float(c.loc["macro", "Precision"]),
            "Cls R": float(c.loc["macro", "Recall"]), "Cls F1": float(c.loc["macro", "F1"]),
            "Cls F1 (micro)": float(c.loc["micro", "F1"]), "TP": d.tp, "FP": d.fp, "FN": d.fn}


def timed_predict(pred, samples) -> tuple[list, float]:
    """Detections of every sample and the mean seconds per image (after one warm-up image)."""
    if samples:
        pred.predict(samples[0].image)
    t0 = time.perf_counter()
    dets = [pred.predict(s.image) for s in samples]
    return dets, (time.perf_counter() - t0) / max(1, len(samples))
