"""Dot annotations -> training targets: disk masks, class masks, abundance weights, mapped labels.

Coordinates everywhere are (x, y) = (column, row) in pixels; pixel (row i, column j) has its centre
at x = j, y = i.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from scipy import ndimage

from common import _checks

__all__ = [
    "AbundanceWeights",
    "abundance_weights",
    "class_masks",
    "disk_mask",
    "dot_image",
    "encode_classes",
    "gaussian_density",
    "mapped_label",
    "mapping_filter",
    "nearest_within",
    "weight_image",
]


def nearest_within(points, shape, radius: float):
    """Pixels closer than ``radius`` to at least one point, with their nearest point.

    Args:
        points: (N, 2) array of (x, y).
        shape: image shape (H, W, ...).
        radius: strict distance bound in pixels.

    Returns:
        ``(flat_index, nearest, distance)``: flat pixel indices (row-major, unique), the index of
        the nearest point for each pixel (ties go to the lower point index) and that distance.
    """
    h, w = _checks.as_shape(shape)
    radius = _checks.positive(radius, "radius")
    if radius > np.hypot(h, w):
        raise ValueError(f"radius {radius:g} px is larger than the {h}x{w} image's diagonal; a disk radius is a "
                         "cell's size in pixels (AwareNet uses 4)")
    pts = _checks.as_points(points, (h, w))
    if len(pts) == 0:
        empty = np.zeros((0,), dtype=np.int64)
        return empty, empty, np.zeros((0,), dtype=np.float64)
    reach = int(np.ceil(radius + 0.5))  # |pixel - rint(p)| < radius + 0.5
    off = np.arange(-reach, reach + 1)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    base_x = np.rint(pts[:, 0]).astype(np.int64)
    base_y = np.rint(pts[:, 1]).astype(np.int64)
    cols = base_x[:, None] + ox.reshape(1, -1)
    rows = base_y[:, None] + oy.reshape(1, -1)
    dist = np.hypot(cols - pts[:, :1], rows - pts[:, 1:])
    keep = (dist < radius) & (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    point_idx = np.broadcast_to(np.arange(len(pts))[:, None], keep.shape)[keep]
    flat = rows[keep] * w + cols[keep]
    d = dist[keep]
    # Sort by pixel, then distance, then point index; the first of each pixel is its nearest point.
    order = np.lexsort((point_idx, d, flat))
    flat, d, point_idx = flat[order], d[order], point_idx[order]
    first = np.ones(flat.shape, dtype=bool)
    first[1:] = flat[1:] != flat[:-1]
    return flat[first], point_idx[first], d[first]


def disk_mask(points, shape, radius: float = 4) -> np.ndarray:
    """Reference image R: True where the nearest point is closer than ``radius`` (AwareNet eq. 1).

    Args:
        points: (N, 2) array of (x, y) pixel coordinates; may be empty.
        shape: image shape (H, W, ...).
        radius: disk radius in pixels (strict: d < radius).

    Returns:
        bool array of shape (H, W).
    """
    h, w = _checks.as_shape(shape)
    flat, _, _ = nearest_within(points, (h, w), radius)
    mask = np.zeros(h * w, dtype=bool)
    mask[flat] = True
    return mask.reshape(h, w)


def class_masks(points, classes, shape, n_classes: int, radius: float = 2) -> np.ndarray:
    """One disk channel per class plus background = 1 - max over classes (S-DRDIN section 2.2).

    Args:
        points: (N, 2) array of (x, y).
        classes: (N,) integer class indices in ``[0, n_classes)``.
        shape: image shape (H, W, ...).
        n_classes: number of cell classes C.
        radius: disk radius in pixels.

    Returns:
        float32 array of shape (H, W, C + 1); channel C is the background mask.
    """
    h, w = _checks.as_shape(shape)
    n_classes = _checks.positive(n_classes, "n_classes", integer=True)
    pts = _checks.as_points(points, (h, w))
    cls = _checks.as_classes(classes, len(pts), n_classes)
    _checks.positive(radius, "radius")
    out = np.zeros((h, w, n_classes + 1), dtype=np.float32)
    for k in range(n_classes):
        out[..., k] = disk_mask(pts[cls == k], (h, w), radius)
    out[..., n_classes] = 1.0 - out[..., :n_classes].max(axis=-1)
    return out


class AbundanceWeights(NamedTuple):
    """Per-class weights from cell abundance and the weight of non-cell pixels."""

    class_weights: np.ndarray
    background: float


_SCHEMES = {
    "ratio": "ratio", "ratioweight": "ratio",
    "exp1": "exp1", "expweighttype1": "exp1",
    "exp2": "exp2", "expweighttype2": "exp2",
}


def abundance_weights(counts, scheme: str) -> AbundanceWeights:
    """Class weights from the number of training cells of each class (AwareNet eq. 2-4).

    * ``"ratio"`` (RatioWeight, eq. 2): ``max(N) / N_k``; background 1.
    * ``"exp1"`` (ExpWeightType1, eq. 3): ``exp(-N_k / max(N))``; background ``exp(-1)``.
    * ``"exp2"`` (ExpWeightType2, eq. 4): ``exp(-(N_k / max(N))**2)``; background ``exp(-1)``.

    The paper's names (``"RatioWeight"``, ``"ExpWeightType1"``, ``"ExpWeightType2"``) are accepted
    too, case-insensitively.

    Args:
        counts: sequence of positive cell counts N_k, one per class.
        scheme: weighting scheme.

    Returns:
        ``AbundanceWeights(class_weights, background)``.
    """
    key = _SCHEMES.get(str(scheme).lower()) if isinstance(scheme, str) else None
    if key is None:
        raise ValueError(
            f"scheme must be one of 'ratio', 'exp1', 'exp2' (or RatioWeight, ExpWeightType1, "
            f"ExpWeightType2), got {scheme!r}"
        )
    try:
        n = np.asarray(counts, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"counts must be numbers, got {counts!r}") from exc
    if n.size == 0:
        raise ValueError("counts is empty: need one cell count per class")
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(f"counts must all be > 0 (a class with no training cells has no weight), got {n.tolist()}")
    ratio = n / n.max()
    if key == "ratio":
        return AbundanceWeights(1.0 / ratio, 1.0)
    if key == "exp1":
        return AbundanceWeights(np.exp(-ratio), float(np.exp(-1.0)))
    return AbundanceWeights(np.exp(-(ratio ** 2)), float(np.exp(-1.0)))


def weight_image(points, classes, shape, class_weights, background: float, radius: float = 4) -> np.ndarray:
    """Weight image W: the class weight inside each cell's disk, ``background`` elsewhere (eq. 2-4).

    Where disks of different cells overlap a pixel takes the weight of its nearest cell.

    Args:
        points: (N, 2) array of (x, y).
        classes: (N,) class indices into ``class_weights``.
        shape: image shape (H, W, ...).
        class_weights: per-class weights (e.g. from :func:`abundance_weights`).
        background: weight of pixels outside every disk.
        radius: disk radius in pixels.

    Returns:
        float32 array of shape (H, W).
    """
    h, w = _checks.as_shape(shape)
    cw = np.asarray(class_weights, dtype=np.float64).reshape(-1)
    if cw.size == 0 or not np.all(np.isfinite(cw)):
        raise ValueError("class_weights must be a non-empty sequence of finite numbers")
    background = float(background)
    if not np.isfinite(background):
        raise ValueError(f"background must be finite, got {background!r}")
    pts = _checks.as_points(points, (h, w))
    cls = _checks.as_classes(classes, len(pts), len(cw))
    flat, nearest, _ = nearest_within(pts, (h, w), radius)
    out = np.full(h * w, background, dtype=np.float32)
    out[flat] = cw[cls[nearest]]
    return out.reshape(h, w)


def encode_classes(names: Sequence, class_names: Sequence[str]) -> np.ndarray:
    """Maps class names to indices into ``class_names``; unknown names raise ``ValueError``."""
    lookup = {str(n): i for i, n in enumerate(class_names)}
    out = np.empty(len(names), dtype=np.int64)
    for i, n in enumerate(names):
        try:
            out[i] = lookup[str(n)]
        except KeyError:
            raise ValueError(f"unknown class name {n!r}; known classes: {list(lookup)}") from None
    return out


def mapping_filter(radius: float = 5, size: int = 11) -> np.ndarray:
    """MapDe mapping filter ``f = max((r - d) / r, 0)`` on a ``size`` x ``size`` grid (MapDe eq. 1).

    Returns:
        float32 array (size, size), 1 at the centre, 0.8 at distance 1 for r = 5.
    """
    radius = _checks.positive(radius, "radius")
    size = _checks.positive(size, "size", integer=True)
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the filter has a centre pixel, got {size}")
    c = size // 2
    yy, xx = np.mgrid[-c:c + 1, -c:c + 1]
    return np.maximum((radius - np.hypot(xx, yy)) / radius, 0.0).astype(np.float32)


def dot_image(points, shape) -> np.ndarray:
    """float32 (H, W) image with 1 added at each point's nearest pixel."""
    h, w = _checks.as_shape(shape)
    pts = _checks.as_points(points, (h, w))
    img = np.zeros((h, w), dtype=np.float32)
    if len(pts):
        cols = np.clip(np.rint(pts[:, 0]).astype(np.int64), 0, w - 1)
        rows = np.clip(np.rint(pts[:, 1]).astype(np.int64), 0, h - 1)
        np.add.at(img, (rows, cols), 1.0)
    return img


def _check_kernel(kernel) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"kernel must be a 2-D array with odd sides, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError("kernel contains NaN or infinite values")
    return k


def mapped_label(points, shape, kernel=None) -> np.ndarray:
    """Artificial MapDe label: the dot image convolved with the mapping filter (zero outside).

    Args:
        points: (N, 2) array of (x, y).
        shape: image shape (H, W, ...).
        kernel: 2-D filter with odd sides; defaults to ``mapping_filter()``.

    Returns:
        float32 array of shape (H, W).
    """
    k = _check_kernel(mapping_filter() if kernel is None else kernel)
    dots = dot_image(points, shape).astype(np.float64)
    return ndimage.convolve(dots, k, mode="constant", cval=0.0).astype(np.float32)


def gaussian_density(points, shape, size: int = 7, sigma: float = 6) -> np.ndarray:
    """Gaussian reference density map: dots convolved with a normalised size x size Gaussian.

    Each cell contributes a kernel that sums to 1 (less where it is cut by the image border), so the
    map integrates to the cell count; used by the density-regression baselines.
    """
    size = _checks.positive(size, "size", integer=True)
    if size % 2 == 0:
        raise ValueError(f"size must be odd, got {size}")
    sigma = _checks.positive(sigma, "sigma")
    c = size // 2
    yy, xx = np.mgrid[-c:c + 1, -c:c + 1]
    g = np.exp(-(xx ** 2 + yy ** 2) / (2.0 * sigma ** 2))
    g /= g.sum()
    return mapped_label(points, shape, g)
