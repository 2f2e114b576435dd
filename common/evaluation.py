"""One calibration and scoring path for every paper, with one metric vocabulary.

* :func:`calibrate` chooses a location method's threshold (and any other parameter on a grid) on
  validation maps by F1: thresholds are quantiles of the maps' own local-maximum values (or a grid
  the caller gives), extended toward the maps' own range while the best lies on an edge, then refined
  around the best, so no grid caps the answer; an optimum still on an edge of what was searched warns
  (:class:`EdgeOfSearchWarning`) and is recorded.
* :func:`score` gives Precision, Recall, F1, TP, FP, FN per matching radius, plus the weighted
  classification Precision / Recall / F1 over matched cells where the detections carry classes.
* :class:`Calibration` is what every predictor's ``calibrate(val, maps=None)`` returns, and
  :func:`calibrate_run` writes it into a run folder (``postprocess.json``, ``sweep.csv``).

``paper.py`` modules rename these columns for display only.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

from common.matching import classification_scores, detection_scores

__all__ = ["DETECTION_METRICS", "CLASS_METRICS", "Calibration", "EdgeOfSearchWarning", "calibrate", "calibrate_run",
           "score", "threshold_candidates"]

DETECTION_METRICS = ("Precision", "Recall", "F1", "TP", "FP", "FN")
CLASS_METRICS = ("Class Precision", "Class Recall", "Class F1")


class EdgeOfSearchWarning(UserWarning):
    """The best value of a calibrated parameter lies on the edge of the values searched."""


@dataclass
class Calibration:
    """A predictor's post-processing tuned on a validation split.

    Attributes:
        method: the default location method (a key of ``params``).
        params: ``{method: {threshold, ..., F1, edge}}`` for every method tuned.
        sweep: every setting tried (a DataFrame with a ``method`` column).
        criterion: what was maximised, for the record (``"F1 at 6 px"``).
    """

    method: str
    params: dict
    sweep: pd.DataFrame
    criterion: str

    def __post_init__(self):
        if self.method not in self.params:
            raise ValueError(f"the default method {self.method!r} has no parameters in {sorted(self.params)}")


#: Fewer validation cells than this (or one image) make calibration warn: a threshold chosen on a handful
#: of cells is mostly noise.
MIN_CALIBRATION_CELLS = 20


def calibrate_run(predictor, val, run_dir, maps=None):
    """Calibrates ``predictor`` on the validation samples and writes ``postprocess.json`` and ``sweep.csv``
    into ``run_dir``; returns the predictor with its new post-processing.

    ``maps`` may hold the validation maps already computed (one dict per sample)."""
    from common.training import RunDir

    cells = int(sum(len(s.points) for s in val))
    weak = len(val) < 2 or cells < MIN_CALIBRATION_CELLS
    if weak:
        warnings.warn(f"calibrating the detection threshold on {len(val)} validation image(s) holding {cells} "
                      f"cell(s): too few to trust (at least {MIN_CALIBRATION_CELLS} cells on 2 or more images); "
                      "name more images in the data folder's splits/val.txt, or annotate more", stacklevel=2)
    cal = predictor.calibrate(val, maps=maps)
    run = RunDir(run_dir)
    run.write_postprocess(cal.method, cal.params, cal.sweep,
                          source=f"validation split ({len(val)} images, {cells} cells), best {cal.criterion}"
                                 + ("; too few to trust" if weak else ""))
    predictor.postprocess = run.postprocess()
    return predictor


def _local_maxima(m: np.ndarray, size: int = 5) -> np.ndarray:
    """Values of the local maxima of a 2-D map (time linear in the pixels, plateaus included)."""
    mx = ndimage.maximum_filter(m, size=size, mode="nearest")
    return m[(m == mx)]


def threshold_candidates(maps, n: int = 24, low: float | None = None, high: float | None = None) -> np.ndarray:
    """About ``n`` thresholds from the maps themselves: quantiles of their local-maximum values.

    Half are quantiles (1%-99.9%) of the local maxima above 1% of the range; half are evenly spaced
    between the smallest and the largest of those (the largest included: a threshold just below it
    keeps only the strongest maximum, so nothing above the grid can detect anything), so neither many
    weak maxima nor a few strong ones crowd the grid. ``low`` / ``high`` clip the grid (e.g.
    probabilities lie in [0, 1)).

    Raises:
        ValueError: no maps, or maps without variance (a dead network: every pixel the same).
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    vals, lo, hi = [], np.inf, -np.inf
    for m in maps:
        m = np.asarray(m, dtype=np.float64)
        m = m.max(axis=-1) if m.ndim == 3 else m
        if not np.all(np.isfinite(m)):
            raise ValueError("the maps contain NaN or infinite values")
        lo, hi = min(lo, float(m.min())), max(hi, float(m.max()))
        vals.append(_local_maxima(m))
    if not vals:
        raise ValueError("no maps to calibrate on")
    if not hi > lo:
        raise ValueError(f"the maps have no variance (every pixel is {hi:g}): the network output is constant, "
                         "so there is nothing to threshold (was it trained? did its output die?)")
    v = np.concatenate(vals)
    top = float(v.max())
    v = v[v > lo + 0.01 * (top - lo)]
    if not len(v):
        v = np.array([top])
    half = max(1, n // 2)
    grid = np.concatenate([np.quantile(v, np.linspace(0.01, 0.999, half)),
                           np.linspace(float(v.min()), top, n - half + 1)[1:]])   # the top value included
    # a threshold keeps pixels strictly above it: step one float32 ulp below each value so the value
    # itself is kept (maps are float32; a float64 step would round back up to the value)
    grid = np.nextafter(grid.astype(np.float32), np.float32(-np.inf)).astype(np.float64)
    if low is not None:
        grid = grid[grid >= low]
    if high is not None:
        grid = grid[grid < high]
    grid = np.unique(grid)
    if not len(grid):
        raise ValueError(f"no threshold candidates inside [{low}, {high})")
    return grid


def _sweep_row(lmaps, gts, locate, radius, threshold, params, stage):
    preds = [locate(m, threshold=float(threshold), **params) for m in lmaps]
    sc = detection_scores(preds, gts, radius)
    return {**params, "threshold": float(threshold), "stage": stage, **sc.as_dict()}


def _range(lmaps) -> tuple[float, float]:
    """The smallest and largest value of the location maps (finite arrays), or (nan, nan)."""
    lo, hi = np.inf, -np.inf
    for m in lmaps:
        m = np.asarray(m)
        if m.dtype.kind in "fiu" and m.size:
            lo, hi = min(lo, float(np.min(m))), max(hi, float(np.max(m)))
    return (lo, hi) if lo <= hi else (np.nan, np.nan)


def _toward(edge: float, limit: float, n: int = 8) -> np.ndarray:
    """``n`` thresholds from ``edge`` toward ``limit`` (geometric when both are positive and far apart),
    ``edge`` excluded; one float32 ulp short of ``limit`` at the top, where a threshold keeps pixels
    strictly above it."""
    if limit > edge:
        limit = float(np.nextafter(np.float32(limit), np.float32(-np.inf)))
        if limit <= edge:
            return np.zeros(0)
    if edge > 0 and limit > 0 and max(edge, limit) / min(edge, limit) > 10:
        vals = np.geomspace(edge, limit, n + 1)[1:]
    else:
        vals = np.linspace(edge, limit, n + 1)[1:]
    return vals[vals != edge]


def calibrate(lmaps, samples, locate: Callable, radius: float, grid: Mapping[str, Sequence] | None = None,
              n_thresholds: int = 24, refine: int = 8, low: float | None = None, high: float | None = None,
              limits: Mapping[str, tuple] | None = None, what: str = "",
              thresholds: Sequence | None = None, threshold_range: tuple | None = None,
              extend: int = 4) -> tuple[dict, pd.DataFrame]:
    """The F1-best threshold (and grid parameters) of a location method on validation data.

    The threshold search cannot cap the answer: while the best threshold is the lowest or the highest
    one tried and the maps' values reach beyond it, up to ``extend`` rounds of thresholds are added
    toward the maps' own range (stage ``extend``); then the best one's neighbourhood is refined. An
    optimum still on an edge that is not the range's own limit (or the ``low`` / ``high`` bound), or a
    grid parameter on the edge of its values, warns (:class:`EdgeOfSearchWarning`) and is recorded.

    Args:
        lmaps: one location map per sample (what ``locate`` thresholds).
        samples: the annotated validation samples (``.points``).
        locate: ``locate(lmap, threshold=t, **params) -> (N, 2) points``.
        radius: matching radius in pixels.
        grid: other parameters to search, ``{name: values}`` (every combination).
        n_thresholds: candidates from :func:`threshold_candidates`.
        refine: extra thresholds tried evenly between the best candidate's neighbours.
        low, high: bounds on the threshold (e.g. 0 and 1 for probabilities).
        limits: ``{name: (lowest, highest)}`` natural limits of grid parameters (None: open); an
            optimum at a natural limit is not an edge of the search (a peak distance of 1 px).
        what: a label for warnings (``"AwareNet ExpWeightType1"``).
        thresholds: explicit threshold candidates instead of :func:`threshold_candidates` (e.g. a
            probability grid for methods whose threshold sets blob size rather than picks peaks).
        threshold_range: the values a threshold can meaningfully take, ``(lowest, highest)`` (default:
            the range of ``lmaps`` when they are arrays; give it when ``lmaps`` are not maps).
        extend: rounds of extension toward the range at most (0: none).

    Returns:
        ``(params, sweep)``: ``params`` holds ``threshold``, the grid values, ``F1`` (validation),
        ``radius`` and ``edge`` (names of parameters whose best value is on the edge of the search);
        ``sweep`` has one row per setting tried with Precision, Recall, F1, TP, FP, FN and ``stage``
        (``grid``, ``extend`` or ``refine``).
    """
    from common.postprocess import cached_peaks

    with cached_peaks():   # peaks found once per map and distance, then only thresholded
        return _calibrate(lmaps, samples, locate, radius, grid, n_thresholds, refine, low, high, limits, what,
                          thresholds, threshold_range, extend)


def _calibrate(lmaps, samples, locate, radius, grid, n_thresholds, refine, low, high, limits, what, thresholds,
               threshold_range, extend):
    lmaps = list(lmaps)
    if len(lmaps) != len(samples) or not lmaps:
        raise ValueError(f"{len(lmaps)} maps for {len(samples)} samples")
    gts = [s.points for s in samples]
    if not sum(len(g) for g in gts):
        raise ValueError("the validation samples have no annotated cells: nothing to calibrate on")
    if thresholds is None:
        cands = threshold_candidates(lmaps, n_thresholds, low, high)
    else:
        cands = np.unique(np.asarray(thresholds, dtype=np.float64).ravel())
        if len(cands) < 2 or not np.all(np.isfinite(cands)):
            raise ValueError(f"thresholds must hold at least 2 finite values, got {thresholds!r}")
    lo_lim, hi_lim = threshold_range if threshold_range is not None else _range(lmaps)
    if low is not None:
        lo_lim = max(lo_lim, low) if np.isfinite(lo_lim) else low
    if high is not None:
        hi_lim = min(hi_lim, high) if np.isfinite(hi_lim) else high
    grid = {k: list(v) for k, v in (grid or {}).items()}
    for k, v in grid.items():
        if not v:
            raise ValueError(f"the grid of {k!r} is empty")
    names = list(grid)
    rows = []
    for combo in itertools.product(*[grid[k] for k in names]) if names else [()]:
        params = dict(zip(names, combo))
        for t in cands:
            rows.append(_sweep_row(lmaps, gts, locate, radius, t, params, "grid"))
    sweep = pd.DataFrame(rows)
    best = sweep.loc[sweep["F1"].idxmax()]
    params = {k: _plain(best[k]) for k in names}

    def tried():
        same = np.ones(len(sweep), bool)
        for name in names:
            same &= (sweep[name] == params[name]).to_numpy()
        return sweep[same]

    for _ in range(int(extend)):   # the best F1 on an edge of the thresholds tried: search toward the maps' range
        sub = tried().sort_values("threshold")
        top_f1 = float(sub["F1"].max())
        new = []
        if float(sub["F1"].iloc[0]) >= top_f1 and np.isfinite(lo_lim) and sub["threshold"].iloc[0] > lo_lim:
            new += list(_toward(float(sub["threshold"].iloc[0]), lo_lim))
        if float(sub["F1"].iloc[-1]) >= top_f1 and np.isfinite(hi_lim) and sub["threshold"].iloc[-1] < hi_lim:
            new += list(_toward(float(sub["threshold"].iloc[-1]), hi_lim))
        new = [t for t in new if t not in set(sub["threshold"])]
        if not new:
            break
        rows += [_sweep_row(lmaps, gts, locate, radius, t, params, "extend") for t in new]
        sweep = pd.DataFrame(rows)
    sub = tried()
    cands = np.sort(sub["threshold"].to_numpy())
    best = sub.loc[sub["F1"].idxmax()]
    # refine the threshold between the best candidate's neighbours
    k = int(np.searchsorted(cands, best["threshold"]))
    lo_t = cands[k - 1] if k > 0 else cands[0]
    hi_t = cands[k + 1] if k + 1 < len(cands) else cands[-1]
    if refine and hi_t > lo_t:
        for t in np.linspace(lo_t, hi_t, refine + 2)[1:-1]:
            rows.append(_sweep_row(lmaps, gts, locate, radius, t, params, "refine"))
        sweep = pd.DataFrame(rows)
    sub = tried()
    best = sub.loc[sub["F1"].idxmax()]
    thr = float(best["threshold"])
    edge = []
    searched = sub["threshold"].to_numpy()
    if len(searched) > 1:
        at_low = thr <= searched.min() and not (np.isfinite(lo_lim) and searched.min() <= lo_lim)
        top = float(np.nextafter(np.float32(hi_lim), np.float32(-np.inf))) if np.isfinite(hi_lim) else np.inf
        at_high = thr >= searched.max() and not searched.max() >= top
        if at_low or at_high:
            edge.append("threshold")
    for name in names:
        vals = sorted(grid[name])
        lim = (limits or {}).get(name, (None, None))
        at_low = params[name] == vals[0] and params[name] != lim[0]
        at_high = params[name] == vals[-1] and params[name] != lim[1]
        if len(vals) > 1 and (at_low or at_high):
            edge.append(name)
    if edge:
        warnings.warn(f"{what + ': ' if what else ''}the best {', '.join(edge)} lies on the edge of the values "
                      f"searched (threshold {thr:.4g}{''.join(f', {n} {params[n]}' for n in names)}); "
                      "widen the search", EdgeOfSearchWarning, stacklevel=2)
    out = {"threshold": thr, **params, "F1": float(best["F1"]), "radius": float(radius), "edge": edge}
    return out, sweep.reset_index(drop=True)


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return int(v) if float(v).is_integer() else float(v)
    return v


def score(detections, samples, radii, classes: bool | None = None) -> pd.DataFrame:
    """Detection (and classification) scores of per-image detections against annotations.

    Classes are matched by name: the annotations' classes are re-indexed into the detections' class
    names (:func:`common.datasets.align_classes`), so a data set whose classes are listed in another
    order scores the same, and one with a class the model does not know is refused, naming it.

    Args:
        detections: one :class:`common.inference.Detections` (or (N, 2) point array) per sample.
        samples: the annotated samples.
        radii: matching radius or radii in pixels.
        classes: add the weighted classification Precision / Recall / F1 over matched cells whose
            annotation has a class (default: when the detections carry classes and the data has
            classified cells).

    Returns:
        DataFrame indexed by ``radius`` with Precision, Recall, F1, TP, FP, FN and, with classes,
        Class Precision, Class Recall, Class F1.
    """
    radii = [float(r) for r in np.atleast_1d(radii)]
    if not radii or min(radii) <= 0:
        raise ValueError(f"radii must be positive, got {radii}")
    if len(detections) != len(samples):
        raise ValueError(f"{len(detections)} detections for {len(samples)} samples")
    from common.datasets import align_classes, is_classified

    pts = [getattr(d, "points", d) for d in detections]
    gts = [s.points for s in samples]
    has_classes = all(getattr(d, "classes", None) is not None for d in detections) and len(detections) > 0
    classes = (has_classes and is_classified(samples)) if classes is None else classes
    if classes and not has_classes:
        raise ValueError("classification scores need detections with classes")
    if classes:
        names = list(detections[0].class_names)
        samples = align_classes(samples, names)
    rows = []
    for r in radii:
        row = {"radius": r, **detection_scores(pts, gts, r).as_dict()}
        if classes:
            cs = classification_scores(pts, [d.classes for d in detections], gts, [s.classes for s in samples], r,
                                       names)
            row.update({"Class Precision": float(cs.loc["weighted", "Precision"]),
                        "Class Recall": float(cs.loc["weighted", "Recall"]),
                        "Class F1": float(cs.loc["weighted", "F1"])})
        rows.append(row)
    return pd.DataFrame(rows).set_index("radius")
