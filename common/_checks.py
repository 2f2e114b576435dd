"""Input validation shared by every public function of the library.

Each check raises ``ValueError`` (or ``FileNotFoundError``) with a message that names the
offending argument, so bad input never surfaces as a crash deep inside NumPy or TensorFlow.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np


def as_shape(shape, name: str = "shape") -> tuple[int, int]:
    """Returns ``(height, width)`` from an image shape (extra trailing dims are ignored)."""
    try:
        dims = tuple(int(s) for s in shape)
    except TypeError as exc:
        raise ValueError(f"{name} must be a (height, width) tuple, got {shape!r}") from exc
    if len(dims) < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (height, width), got {shape!r}")
    h, w = dims[0], dims[1]
    if h <= 0 or w <= 0:
        raise ValueError(f"{name} must be positive, got {shape!r}")
    return h, w


def as_points(points, shape=None, name: str = "points") -> np.ndarray:
    """Validates an (N, 2) array of (x, y) = (column, row) pixel coordinates.

    Empty inputs (``[]``, ``np.zeros((0, 2))``) are valid and give a (0, 2) array.

    Args:
        points: array-like of shape (N, 2).
        shape: optional image shape; when given every point must lie on the image, i.e. in the
            pixel footprint ``-0.5 <= x < width - 0.5`` and ``-0.5 <= y < height - 0.5``.
        name: argument name used in error messages.

    Returns:
        float64 array of shape (N, 2).
    """
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric (N, 2) coordinates: {exc}") from exc
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) as (x, y) pairs, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise ValueError(f"{name} contains NaN or infinite coordinates (first at index {bad})")
    if shape is not None:
        h, w = as_shape(shape)
        outside = (arr[:, 0] < -0.5) | (arr[:, 0] >= w - 0.5) | (arr[:, 1] < -0.5) | (arr[:, 1] >= h - 0.5)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{name} has {int(outside.sum())} point(s) outside the {h}x{w} image "
                f"(first: index {i}, x={arr[i, 0]:.2f}, y={arr[i, 1]:.2f}); "
                "coordinates are (x=column, y=row) in pixels"
            )
    return arr


def as_classes(classes, n_points: int, n_classes: int | None = None, name: str = "classes",
               allow_unlabelled: bool = False) -> np.ndarray:
    """Validates integer class indices, one per point.

    Args:
        classes: array-like of N integers in ``[0, n_classes)``; ``-1`` (unclassified) is allowed
            only when ``allow_unlabelled``.
        n_points: expected N.
        n_classes: number of classes, if known.
        name: argument name used in error messages.
        allow_unlabelled: accept ``-1`` for points without a class.
    """
    arr = np.asarray(classes)
    if arr.size == 0 and n_points == 0:
        return np.zeros((0,), dtype=np.int64)
    if arr.dtype.kind in "USO":
        raise ValueError(
            f"{name} must be integer class indices; map class names to indices first "
            "(common.labels.encode_classes)"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole-number class indices")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    if arr.shape[0] != n_points:
        raise ValueError(f"{name} has {arr.shape[0]} entries but there are {n_points} points")
    low = -1 if allow_unlabelled else 0
    if arr.size and arr.min() < low:
        raise ValueError(f"{name} has a negative class index {int(arr.min())}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise ValueError(f"{name} has class index {int(arr.max())} but n_classes is {n_classes}")
    return arr


def _number(value, name: str, integer: bool, allow_zero: bool):
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>=' if allow_zero else '>'} 0, got {value!r}")
    if integer:
        if v != int(v):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(v)
    return v


def positive(value, name: str, integer: bool = False):
    """Checks a strictly positive finite number (a whole one when ``integer``)."""
    return _number(value, name, integer, allow_zero=False)


def non_negative(value, name: str, integer: bool = False):
    """Checks a finite number >= 0 (a whole one when ``integer``)."""
    return _number(value, name, integer, allow_zero=True)


def as_map(arr, name: str = "prob", ndim: int = 2) -> np.ndarray:
    """Validates a finite real-valued map with ``ndim`` dimensions (HxW by default)."""
    a = np.asarray(arr)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    a = a.astype(np.float64, copy=False) if a.dtype.kind != "f" else a
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def as_rgb_image(image, name: str = "image") -> np.ndarray:
    """Validates an RGB uint8 image of shape HxWx3."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{name} must be an RGB image of shape (H, W, 3), got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8 (0..255), got {a.dtype}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    return a


def existing_file(path, name: str = "path") -> str:
    """Returns ``path`` as a string, raising FileNotFoundError if it is not a file."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError(f"{name}: no such file: {p}")
    return p


def one_of(value, choices: Sequence[str], name: str) -> str:
    """Checks that a string option is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def finite_params(params: dict) -> dict:
    """``params`` unless a number among them is NaN or infinite (a threshold of NaN would find nothing)."""
    for key, value in params.items():
        if isinstance(value, (float, np.floating)) and not np.isfinite(value):
            raise ValueError(f"{key} must be a finite number, got {value!r}")
    return params
