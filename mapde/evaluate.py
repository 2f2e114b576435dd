"""MapDe inference and cell location (section 2.3, Table 1), tuning on validation data, scoring.

The four location methods of Table 1 (plus SC-CNN's peaks):

* ``"deconv"`` (Proposed): Lucy-Richardson deconvolution of the output with the mapping filter as
  PSF (2 iterations), threshold, centroids of the regions. One parameter: the threshold.
* ``"peak"`` (MapDe-Peak, Micro-Net-Peak, SCCNN): local maxima; threshold and minimum distance.
* ``"feat"`` (MapDe-feat(L-1)): the layer L-1 map denoised by a guided filter guided by the input
  image, thresholded, centroids of the regions. One parameter: the threshold.

Thresholds are searched over quantiles of the validation maps' local-maximum values (the network
output is a score of no fixed scale), so one rule serves every model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from common import _checks
from common.baselines.sccnn import SCCNN, sccnn_map
from common.deconv import richardson_lucy
from common.labels import mapping_filter
from common.matching import detection_scores
from common.postprocess import guided_filter, peak_points, threshold_centroids
from common.tiling import tiled_map
from mapde.losses import label_estimate
from mapde.model import INPUT_SIZE, MapDe, MicroNet

__all__ = ["METHODS", "locate", "location_map", "predict_maps", "predict_samples", "score_points", "threshold_grid",
           "tune"]

METHODS = ("deconv", "peak", "feat")
_INFER: dict = {}


def _inference_fn(model):
    """``tile (252, 252, 3) -> (H, W, K)`` stacked maps; K = C (score) or 2C (score, L-1)."""
    key = id(model)
    hit = _INFER.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    if isinstance(model, MapDe):
        net = model.feature_model()

        def fn(tile):
            y, f = net(tile[None].astype(np.float32), training=False)
            return np.concatenate([np.asarray(y)[0], np.asarray(f)[0]], axis=-1)
    elif isinstance(model, MicroNet):
        def fn(tile):
            y = model(tile[None].astype(np.float32), training=False)
            return np.asarray(y["main"] if isinstance(y, dict) else y)[0]
    else:
        raise ValueError(f"model must be a MapDe, MicroNet or SCCNN, got {type(model).__name__}")
    _INFER.clear()
    _INFER[key] = (model, fn)
    return fn


def predict_maps(model, image, tile: bool = True, margin: int = 32, progress: bool = False) -> dict:
    """Output maps of one RGB image of any size.

    Args:
        model: a trained :class:`MapDe`, :class:`MicroNet` or :class:`common.baselines.sccnn.SCCNN`.
        image: (H, W, 3) uint8 RGB.
        tile: cut images into 252 x 252 tiles overlapping by ``2 * margin`` (smaller images are
            reflect-padded). With ``tile=False`` the image must be exactly 252 x 252.
        margin: pixels dropped at inner tile edges.
        progress: progress bar over tiles.

    Returns:
        ``{"map": (H, W, C) score}`` plus ``"feat"`` (layer L-1, (H, W, C)) for MapDe.
    """
    image = _checks.as_rgb_image(image, "image")
    h, w = image.shape[:2]
    if isinstance(model, SCCNN):
        return {"map": sccnn_map(model, image)[..., None]}
    fn = _inference_fn(model)
    if not tile:
        if (h, w) != (INPUT_SIZE, INPUT_SIZE):
            what = "smaller" if min(h, w) < INPUT_SIZE else "larger"
            raise ValueError(f"image is {h}x{w}, {what} than Micro-Net's {INPUT_SIZE}x{INPUT_SIZE} input and "
                             "tiling is off; pass tile=True to tile (and pad) it")
        out = fn(image)
    else:
        margin = _checks.non_negative(margin, "margin", integer=True)
        out = tiled_map(image, fn, INPUT_SIZE, margin, pad_mode="reflect", progress=progress)
    if isinstance(model, MapDe):
        c = model.n_channels
        return {"map": out[..., :c], "feat": out[..., c:]}
    return {"map": out}


def predict_samples(model, samples, margin: int = 32, progress: bool = False) -> list:
    """:func:`predict_maps` of every sample, with an optional progress bar over images."""
    from keras.utils import Progbar

    bar = Progbar(len(samples), verbose=1 if progress else 0, unit_name="image")
    out = []
    for s in samples:
        out.append(predict_maps(model, s.image, margin=margin))
        bar.add(1)
    return out


def location_map(maps: dict, image, method: str, config) -> np.ndarray:
    """The (H, W, C) maps a location method thresholds: deconvolved label estimate (``"deconv"``),
    the score itself (``"peak"``) or the guided-filtered layer L-1 map (``"feat"``)."""
    _checks.one_of(method, METHODS, "method")
    if method == "feat":
        if "feat" not in maps:
            raise ValueError("method 'feat' needs a MapDe model (the layer L-1 map)")
        f = maps["feat"]
        return np.stack([guided_filter(image, f[..., c], config.guided_radius, config.guided_eps)
                         for c in range(f.shape[-1])], axis=-1)
    score = maps["map"]
    if method == "deconv":
        psf = mapping_filter(config.radius, config.filter_size)
        est = label_estimate(np.moveaxis(score, -1, 0), config.pos_weight)
        return np.moveaxis(richardson_lucy(est, psf, config.deconv_iterations), 0, -1)
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


def threshold_grid(lmaps, n: int = 24) -> np.ndarray:
    """About ``n`` candidate thresholds from the validation maps themselves: half are quantiles
    (2%-98%) of the values of their local maxima above 1% of the largest, half are evenly spaced
    up to 95% of the largest (many weak background maxima would otherwise crowd the quantiles).
    The network output is a score of no fixed scale, so a data-driven grid serves every model."""
    from skimage.feature import peak_local_max

    n = _checks.positive(n, "n", integer=True)
    vals = []
    for m in lmaps:
        m = np.asarray(m)
        m = m.max(axis=-1) if m.ndim == 3 else m
        rc = peak_local_max(m, min_distance=2, exclude_border=False)
        vals.append(m[rc[:, 0], rc[:, 1]] if len(rc) else np.zeros(0))
    v = np.concatenate(vals) if vals else np.zeros(0)
    if not len(v) or not np.max(v) > 0:
        raise ValueError("the maps are all zero: the model detects nothing to threshold (is it trained?)")
    top = float(np.max(v))
    v = v[v > 0.01 * top]
    half = max(1, n // 2)
    return np.unique(np.concatenate([np.quantile(v, np.linspace(0.02, 0.98, half)),
                                     np.linspace(0.02 * top, 0.95 * top, n - half + 1)[1:]]))


def tune(lmaps, samples, method: str, config) -> tuple[dict, pd.DataFrame]:
    """Best threshold (and peak distance) on validation maps by F1 at ``config.match_radius``.

    Returns:
        ``(params, sweep)``: ``{"threshold", "min_distance"}`` of the best F1 and the full sweep
        (one row per setting with Precision, Recall, F1Score).
    """
    _checks.one_of(method, METHODS, "method")
    if len(lmaps) != len(samples) or not len(samples):
        raise ValueError(f"{len(lmaps)} maps for {len(samples)} samples")
    gts = [s.points for s in samples]
    if not sum(len(g) for g in gts):
        raise ValueError("the validation samples have no annotated cells (empty annotations): nothing to tune on")
    grid = threshold_grid(lmaps, config.n_thresholds)
    dists = config.min_distances if method == "peak" else (None,)
    rows = []
    for d in dists:
        for thr in grid:
            thr = float(thr)
            preds = [locate(m, method, thr, d or 1, config.min_area) for m in lmaps]
            sc = detection_scores(preds, gts, config.match_radius)
            rows.append({"min_distance": d, "threshold": thr,
                         "Precision": sc.precision, "Recall": sc.recall, "F1Score": sc.f1})
    sweep = pd.DataFrame(rows)
    best = sweep.loc[sweep["F1Score"].idxmax()]
    params = {"threshold": float(best["threshold"]),
              "min_distance": None if best["min_distance"] is None or pd.isna(best["min_distance"])
              else int(best["min_distance"])}
    return params, sweep


def score_points(preds, samples, radii) -> dict:
    """``{radius: {"Precision", "Recall", "F1Score", "TP", "FP", "FN"}}`` with one-to-one matching."""
    gts = [s.points for s in samples]
    out = {}
    for r in radii:
        sc = detection_scores(preds, gts, float(r))
        out[float(r)] = {"Precision": sc.precision, "Recall": sc.recall, "F1Score": sc.f1,
                         "TP": sc.tp, "FP": sc.fp, "FN": sc.fn}
    return out
