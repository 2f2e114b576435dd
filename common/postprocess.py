"""Probability maps -> cell points: threshold + centroids, peaks, blob splitting, class votes."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
from scipy import ndimage
from skimage.morphology import disk

from common import _checks

__all__ = ["blob_points", "box_means", "cached_peaks", "class_vote", "guided_filter", "local_peaks", "peak_points",
           "threshold_centroids"]


def _centroids(labels: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(x, y) centroids of labelled regions 1..n (intensity-weighted when ``weights`` is given)."""
    if n == 0:
        return np.zeros((0, 2), dtype=np.float64)
    idx = np.arange(1, n + 1)
    com = np.asarray(ndimage.center_of_mass(np.ones_like(labels, dtype=np.float64) if weights is None else weights,
                                            labels, idx), dtype=np.float64).reshape(-1, 2)
    return com[:, ::-1].copy()  # (row, col) -> (x, y)


def _finite(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def threshold_centroids(prob, threshold: float, min_area: int = 1, weighted: bool = False) -> np.ndarray:
    """Threshold a map, label 8-connected components and return their centroids.

    Args:
        prob: (H, W) probability (or any score) map.
        threshold: pixels with ``prob > threshold`` are foreground.
        min_area: components with fewer pixels are discarded.
        weighted: weight each centroid by the map values instead of using the plain region centre.

    Returns:
        (N, 2) float array of (x, y) centroids, ordered by component label (raster order).
    """
    p = _checks.as_map(prob, "prob")
    min_area = _checks.positive(min_area, "min_area", integer=True)
    threshold = _finite(threshold, "threshold")
    labels, n = ndimage.label(p > threshold, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return np.zeros((0, 2), dtype=np.float64)
    area = np.bincount(labels.ravel(), minlength=n + 1)
    small = area < min_area
    small[0] = False
    if small.any():
        labels[small[labels]] = 0
        labels, n = ndimage.label(labels > 0, structure=np.ones((3, 3), dtype=bool))
    return _centroids(labels, n, p if weighted else None)


_PEAK_CACHE: dict | None = None   # see cached_peaks()


@contextlib.contextmanager
def cached_peaks():
    """Within this block :func:`peak_points` finds each map's local maxima once per peak distance and only
    thresholds their values afterwards (a calibration sweep tries many thresholds on the same maps). The
    maps must not change inside the block."""
    global _PEAK_CACHE
    outer = _PEAK_CACHE
    _PEAK_CACHE = {} if outer is None else outer
    try:
        yield
    finally:
        _PEAK_CACHE = outer


def _owner(a: np.ndarray):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _spaced(pts: np.ndarray, values: np.ndarray, min_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of equal value closer than ``min_distance`` (Chebyshev) kept once: the first by (value
    descending, y, x), as ``peak_local_max`` spaces them (distinct values cannot be that close)."""
    if len(pts) < 2:
        return pts, values
    from scipy.spatial import cKDTree

    order = np.lexsort((pts[:, 0], pts[:, 1], -values.astype(np.float64)))
    pts, values = pts[order], values[order]
    pairs = cKDTree(pts).query_pairs(min_distance, p=np.inf, output_type="ndarray")
    if not len(pairs):
        return pts, values
    keep = np.ones(len(pts), bool)
    later = {}
    for i, j in pairs:
        later.setdefault(min(i, j), []).append(max(i, j))
    for i in range(len(pts)):
        if keep[i]:
            for j in later.get(i, ()):
                keep[j] = False
    return pts[keep], values[keep]


def local_peaks(prob, min_distance: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Every local maximum of a map and its value, before any threshold: ``(points (K, 2) x, y, values (K,))``.

    A pixel is a local maximum when it equals the maximum of its ``(2 * min_distance + 1)`` square
    neighbourhood (edges replicated); 8-connected maxima (a plateau: they share one value) are one peak at
    their centroid. A plateau spanning more than ``4 * min_distance + 1`` pixels is flat background, not a
    cell. Each peak depends on the map within that reach only, so a map cut into tiles that keep more
    context than it finds the same peaks in their cores as the whole map.
    """
    p = _checks.as_map(prob, "prob")
    min_distance = _checks.positive(min_distance, "min_distance", integer=True)
    key = None
    if _PEAK_CACHE is not None:
        owner = _owner(p)
        key = (p.__array_interface__["data"][0], p.shape, p.strides, p.dtype.str, min_distance)
        hit = _PEAK_CACHE.get(key)
        if hit is not None and hit[0]() is owner:
            return hit[1]
    if float(p.min()) == float(p.max()):
        found = (np.zeros((0, 2), dtype=np.float64), np.zeros(0, dtype=p.dtype))
    else:
        size = 2 * min_distance + 1
        cand = p == ndimage.maximum_filter(p, size=size, mode="nearest")
        labels, n = ndimage.label(cand, structure=np.ones((3, 3), dtype=bool))
        if n == 0:
            found = (np.zeros((0, 2), dtype=np.float64), np.zeros(0, dtype=p.dtype))
        else:
            idx = np.arange(1, n + 1)
            span = np.array([max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
                             for sl in ndimage.find_objects(labels)])
            small = span <= 4 * min_distance + 1
            values = np.asarray(ndimage.maximum(p, labels, idx), dtype=p.dtype)
            pts, values = _spaced(_centroids(labels, n)[small], values[small], min_distance)
            found = (pts, values)
    if key is not None:
        import weakref

        _PEAK_CACHE[key] = (weakref.ref(_owner(p)), found)
    return found


def peak_points(prob, min_distance: int = 4, threshold: float = 0.5) -> np.ndarray:
    """Local maxima of a map above ``threshold`` (:func:`local_peaks`), as skimage's ``peak_local_max``
    finds them but with a plateau as one peak at its centre.

    Args:
        prob: (H, W) map.
        min_distance: a peak is the maximum of its ``(2 * min_distance + 1)`` square neighbourhood.
        threshold: a peak's value must exceed it.

    A constant map (a blank tile, an image of one colour) has no maxima: no points. A network whose
    output is constant everywhere is refused where it matters, by the calibration and the training
    loop (``common.evaluation.threshold_candidates``, ``common.training.OutputWatch``).

    Returns:
        (N, 2) float array of (x, y) peak positions, sorted by (y, x).
    """
    threshold = _finite(threshold, "threshold")
    pts, values = local_peaks(prob, min_distance)
    pts = pts[values > threshold]
    return pts[np.lexsort((pts[:, 0], pts[:, 1]))] if len(pts) else np.zeros((0, 2), dtype=np.float64)


def blob_points(prob, threshold: float = 0.5, min_area: int = 50, window: int = 15,
                dilation_radius: int = 2) -> np.ndarray:
    """The S-DRDIN post-processing pipeline (section 2.5), which splits touching cells.

    Threshold -> drop components smaller than ``min_area`` -> Euclidean distance transform ->
    local maxima in a ``window`` x ``window`` sliding window -> dilate the maxima with a disk of
    ``dilation_radius`` (merging plateau maxima) -> centroids of the dilated maxima.

    Args:
        prob: (H, W) detection probability map.
        threshold: foreground is ``prob > threshold``.
        min_area: components with fewer pixels are removed as noise (S-DRDIN: 50).
        window: side of the square local-maximum window (S-DRDIN: 15).
        dilation_radius: disk radius used to merge neighbouring maxima (S-DRDIN: 2).

    Returns:
        (N, 2) float array of (x, y) cell centres.
    """
    p = _checks.as_map(prob, "prob")
    min_area = _checks.positive(min_area, "min_area", integer=True)
    window = _checks.positive(window, "window", integer=True)
    dilation_radius = _checks.non_negative(dilation_radius, "dilation_radius", integer=True)
    fg = p > float(threshold)
    labels, n = ndimage.label(fg, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return np.zeros((0, 2), dtype=np.float64)
    area = np.bincount(labels.ravel(), minlength=n + 1)
    keep = area >= min_area
    keep[0] = False
    fg = keep[labels]
    if not fg.any():
        return np.zeros((0, 2), dtype=np.float64)
    dist = ndimage.distance_transform_edt(fg)
    maxima = fg & (dist == ndimage.maximum_filter(dist, size=window, mode="constant", cval=0.0))
    if dilation_radius > 0:
        maxima = ndimage.binary_dilation(maxima, structure=disk(dilation_radius)) & fg
    peaks, m = ndimage.label(maxima, structure=np.ones((3, 3), dtype=bool))
    return _centroids(peaks, m)


def box_means(class_prob, points, window: int = 49, mode: str = "mean", band: int = 512) -> np.ndarray:
    """Per point, the mean of each class map over the square window around it, (N, C) float64.

    ``mode="majority"`` averages one-hot per-pixel argmax classes instead (the fraction of the
    window's pixels voting for each class). Windows are clipped at the image border. Window sums come
    from a summed-area table built over bands of ``band`` rows at a time (the band plus the window), so
    memory stays bounded on large images; an image of at most ``band`` rows is one band.
    """
    cp = _checks.as_map(class_prob, "class_prob", ndim=3)
    h, w, c = cp.shape
    pts = _checks.as_points(points, (h, w))
    window = _checks.positive(window, "window", integer=True)
    if window % 2 == 0:
        raise ValueError(f"window must be odd so it is centred on the point, got {window}")
    _checks.one_of(mode, ("mean", "majority"), "mode")
    if len(pts) == 0:
        return np.zeros((0, c), dtype=np.float64)
    half = window // 2
    col = np.clip(np.rint(pts[:, 0]).astype(np.int64), 0, w - 1)
    row = np.clip(np.rint(pts[:, 1]).astype(np.int64), 0, h - 1)
    r0, r1 = np.clip(row - half, 0, h), np.clip(row + half + 1, 0, h)
    c0, c1 = np.clip(col - half, 0, w), np.clip(col + half + 1, 0, w)
    sums = np.zeros((len(pts), c), dtype=np.float64)
    for b0 in range(0, h, band):
        mine = (row >= b0) & (row < b0 + band)
        if not mine.any():
            continue
        # the band's windows lie in rows [lo, hi); an image of one band is taken whole
        lo, hi = (0, h) if h <= band else (int(r0[mine].min()), int(r1[mine].max()))
        part = cp[lo:hi]
        if mode == "majority":
            votes = np.eye(c, dtype=np.float64)[np.argmax(part, axis=-1)]
        else:
            votes = part.astype(np.float64)
        # Summed-area table of the rows [lo, hi): any window sum in O(1) per point.
        sat = np.zeros((hi - lo + 1, w + 1, c), dtype=np.float64)
        sat[1:, 1:] = votes.cumsum(0).cumsum(1)
        del votes
        a, b = r0[mine] - lo, r1[mine] - lo
        sums[mine] = sat[b, c1[mine]] - sat[a, c1[mine]] - sat[b, c0[mine]] + sat[a, c0[mine]]
    return sums / ((r1 - r0) * (c1 - c0))[:, None]


def class_vote(class_prob, points, window: int = 49, mode: str = "mean") -> np.ndarray:
    """Class of each point from the class maps in a square window around it.

    * ``"mean"``: argmax over classes of the mean probability in the window (S-DRDIN eq. 3).
    * ``"majority"``: the most frequent per-pixel argmax class in the window (ties: lower index).

    Windows are clipped at the image border. Pass only the cell-class channels (drop a background
    channel first) so a background-dominated window still votes for a cell class.

    Args:
        class_prob: (H, W, C) per-class probability maps.
        points: (N, 2) array of (x, y).
        window: odd window side in pixels (S-DRDIN: 49).
        mode: ``"mean"`` or ``"majority"``.

    Returns:
        (N,) int64 class indices.
    """
    return np.argmax(box_means(class_prob, points, window, mode), axis=1).astype(np.int64)


def guided_filter(guide, src, radius: int = 4, eps: float = 0.01) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` guided by ``guide`` (He, Sun and Tang, ECCV 2010).

    The grey-scale guided filter: in every ``(2 radius + 1)`` square window the output is a linear
    function ``a * I + b`` of the guide ``I`` fitted to ``src`` by ridge regression (``eps``), and
    the coefficients are averaged over the windows covering each pixel. Box means use
    ``cv2.boxFilter`` (O(1) per pixel). OpenCV's own ``ximgproc.guidedFilter`` ships only with the
    contrib build, so it is written out here (MapDe uses it to denoise the layer L-1 map).

    Args:
        guide: (H, W) grey or (H, W, 3) RGB image; uint8 is scaled to [0, 1], RGB averaged to grey.
        src: (H, W) map to filter.
        radius: window radius in pixels.
        eps: regulariser; larger values smooth more (in squared guide units).

    Returns:
        (H, W) float32 filtered map.
    """
    p = _checks.as_map(src, "src").astype(np.float32)
    g = np.asarray(guide)
    if g.ndim == 3:
        if g.shape[-1] != 3:
            raise ValueError(f"guide must be (H, W) or (H, W, 3), got shape {g.shape}")
        g = g.astype(np.float32).mean(axis=-1) / (255.0 if np.asarray(guide).dtype == np.uint8 else 1.0)
    elif g.ndim == 2:
        g = g.astype(np.float32) / (255.0 if g.dtype == np.uint8 else 1.0)
    else:
        raise ValueError(f"guide must be (H, W) or (H, W, 3), got shape {g.shape}")
    if g.shape != p.shape:
        raise ValueError(f"guide is {g.shape[:2]} but src is {p.shape}")
    radius = _checks.positive(radius, "radius", integer=True)
    eps = _checks.positive(eps, "eps")
    k = (2 * radius + 1, 2 * radius + 1)

    def box(x):
        return cv2.boxFilter(x, -1, k, normalize=True, borderType=cv2.BORDER_REFLECT)

    mean_g, mean_p = box(g), box(p)
    var_g = box(g * g) - mean_g * mean_g
    cov = box(g * p) - mean_g * mean_p
    a = cov / (var_g + eps)
    b = mean_p - a * mean_g
    return (box(a) * g + box(b)).astype(np.float32)
