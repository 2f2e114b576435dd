"""Tiled inference over arbitrarily large images without seams.

The image is cut into fixed-size tiles whose *cores* partition it; neighbouring tiles overlap by
``2 * margin`` pixels. A tile's map values (``tiled_map``) or detections (``tiled_points``) are kept
only inside its core, so every pixel / detection is owned by exactly one tile. When ``margin`` is at
least the predictor's reach (receptive-field radius, plus the peak ``min_distance`` for point
predictors), tiled results equal whole-image results.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from common import _checks

__all__ = ["Tile", "crop_origins", "grid_crops", "tile_grid", "tiled_map", "tiled_points"]


class Tile(tuple):
    """``(y0, x0, core)``: tile origin and its core box ``(cy0, cy1, cx0, cx1)`` in image pixels."""

    __slots__ = ()

    def __new__(cls, y0, x0, core):
        return super().__new__(cls, (y0, x0, core))

    y0 = property(lambda self: self[0])
    x0 = property(lambda self: self[1])
    core = property(lambda self: self[2])


def _axis(length: int, tile: int, margin: int):
    """(tile start, core start, core end) along one axis; cores partition [0, length).

    Each core keeps ``margin`` pixels of context on both sides inside its tile, except at the image
    borders; the tile that reaches the image end owns everything up to it.
    """
    step = tile - 2 * margin
    out = []
    c = 0
    while c < length:
        start = max(c - margin, 0)
        if start + tile >= length:
            out.append((max(length - tile, 0), c, length))
            break
        end = c + step if c > 0 else tile - margin
        out.append((start, c, end))
        c = end
    return out


def tile_grid(shape, tile_size: int, margin: int) -> list[Tile]:
    """Tiles of ``tile_size`` x ``tile_size`` covering an image of ``shape`` (padded if smaller)."""
    h, w = _checks.as_shape(shape)
    tile_size = _checks.positive(tile_size, "tile_size", integer=True)
    margin = _checks.non_negative(margin, "margin", integer=True)
    if tile_size - 2 * margin < 1:
        raise ValueError(f"tile_size ({tile_size}) must exceed 2 * margin ({2 * margin})")
    core = tile_size - 2 * margin
    if core < tile_size // 4 and max(h, w) > tile_size:
        import warnings

        n = int(np.ceil(max(h - tile_size, 0) / core) + 1) * int(np.ceil(max(w - tile_size, 0) / core) + 1)
        warnings.warn(f"a {margin} px margin leaves a core of only {core} px of each {tile_size} px tile: about {n} "
                      f"tiles for a {h}x{w} image (each pixel computed ~{(tile_size / core) ** 2:.0f} times); "
                      "use larger tiles or a smaller margin", UserWarning, stacklevel=2)
    tiles = []
    for y0, cy0, cy1 in _axis(h, tile_size, margin):
        for x0, cx0, cx1 in _axis(w, tile_size, margin):
            tiles.append(Tile(y0, x0, (cy0, cy1, cx0, cx1)))
    return tiles


def crop_origins(shape, size: int, stride: int | None = None) -> list:
    """Top-left corners ``(y, x)`` of ``size`` x ``size`` crops every ``stride`` px (default: ``size``,
    non-overlapping) covering an image; the last row / column sits flush with the edge."""
    h, w = int(shape[0]), int(shape[1])
    size = _checks.positive(size, "size", integer=True)
    stride = size if stride is None else _checks.positive(stride, "stride", integer=True)
    if min(h, w) < size:
        raise ValueError(f"image is {h}x{w}, smaller than the {size}x{size} crop")
    ys = sorted({*range(0, h - size + 1, stride), h - size})
    xs = sorted({*range(0, w - size + 1, stride), w - size})
    return [(y, x) for y in ys for x in xs]


def grid_crops(array: np.ndarray, size: int, stride: int | None = None) -> list:
    """``size`` x ``size`` crops covering an image every ``stride`` px (default: non-overlapping; the
    last row / column flush to the edge, so it may overlap its neighbour). Used to cut validation
    images into network inputs and S-DRDIN's training patches (stride 120)."""
    arr = np.asarray(array)
    return [arr[y:y + size, x:x + size] for y, x in crop_origins(arr.shape, size, stride)]


def _pad(image: np.ndarray, tile_size: int, pad_mode: str):
    h, w = image.shape[:2]
    ph, pw = max(tile_size - h, 0), max(tile_size - w, 0)
    if not (ph or pw):
        return image
    if pad_mode == "error":
        raise ValueError(f"image is {h}x{w}, smaller than the {tile_size}x{tile_size} tile; "
                         "pass pad_mode='reflect' or 'constant' to pad it")
    widths = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    if pad_mode == "reflect" and (ph >= h or pw >= w):
        pad_mode = "symmetric"
    return np.pad(image, widths, mode=pad_mode)


def _tiles(image, tile_size, margin, pad_mode, progress, desc):
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0:
        raise ValueError(f"image must be a non-empty (H, W) or (H, W, C) array, got shape {img.shape}")
    _checks.one_of(pad_mode, ("reflect", "symmetric", "constant", "error"), "pad_mode")
    h, w = img.shape[:2]
    padded = _pad(img, int(tile_size), pad_mode)
    grid = tile_grid((h, w), tile_size, margin)
    if progress and len(grid) > 1:
        from common.progress import progress_bar
        grid = progress_bar(grid, desc=desc, unit="tile")
    return padded, grid, h, w


def tiled_map(image, predictor: Callable, tile_size: int, margin: int, pad_mode: str = "reflect",
              progress: bool = False, batch_size: int | None = None) -> np.ndarray:
    """Runs a per-tile map predictor and stitches the tile cores.

    Args:
        image: (H, W[, C]) image of any size.
        predictor: ``f(tile) -> map`` with ``map.shape[:2] == tile.shape[:2]``.
        tile_size: tile side in pixels (e.g. the network input size).
        margin: pixels discarded at each inner tile edge (half the overlap).
        pad_mode: how an image smaller than a tile is padded (``"error"`` refuses).
        progress: show a progress bar.
        batch_size: when given, ``predictor`` takes a stack of up to ``batch_size`` tiles
            ``(B, T, T[, C])`` and returns ``(B, T, T[, K])``: tiles run batched.

    Returns:
        The stitched (H, W[, K]) map.
    """
    padded, grid, h, w = _tiles(image, tile_size, margin, pad_mode, progress, "tiled map")
    if batch_size is not None:
        batch_size = _checks.positive(batch_size, "batch_size", integer=True)
    step = batch_size or 1
    out = None
    chunk: list = []

    def flush(chunk):
        nonlocal out
        tiles = [padded[t.y0:t.y0 + tile_size, t.x0:t.x0 + tile_size] for t in chunk]
        preds = np.asarray(predictor(np.stack(tiles))) if batch_size else [np.asarray(predictor(tiles[0]))]
        if batch_size and len(preds) != len(tiles):
            raise ValueError(f"predictor returned {len(preds)} maps for a batch of {len(tiles)} tiles")
        for t, tile, pred in zip(chunk, tiles, preds):
            if pred.shape[:2] != tile.shape[:2]:
                raise ValueError(f"predictor returned shape {pred.shape} for a tile of shape {tile.shape}")
            if out is None:
                out = np.zeros((h, w) + pred.shape[2:], dtype=pred.dtype)
            cy0, cy1, cx0, cx1 = t.core
            out[cy0:cy1, cx0:cx1] = pred[cy0 - t.y0:cy1 - t.y0, cx0 - t.x0:cx1 - t.x0]

    for t in grid:
        chunk.append(t)
        if len(chunk) == step:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    return out


def tiled_points(image, predictor: Callable, tile_size: int, margin: int, pad_mode: str = "reflect",
                 progress: bool = False):
    """Runs a per-tile point detector and keeps each detection in the tile whose core owns it.

    Args:
        image: (H, W[, C]) image of any size.
        predictor: ``f(tile) -> points`` or ``f(tile) -> (points, *per_point_arrays)`` with points
            an (N, 2) array of (x, y) in tile coordinates (e.g. classes and scores as extras).
        tile_size, margin, pad_mode, progress: as in :func:`tiled_map`.

    Returns:
        (N, 2) points in image coordinates, or a tuple ``(points, *extras)`` when the predictor
        returns extras. Points outside the original image (in padding) are dropped.
    """
    padded, grid, h, w = _tiles(image, tile_size, margin, pad_mode, progress, "tiled detection")
    pts_all, extras_all, has_extras = [], None, False
    for t in grid:
        tile = padded[t.y0:t.y0 + tile_size, t.x0:t.x0 + tile_size]
        res = predictor(tile)
        if isinstance(res, tuple):
            has_extras = True
            pts, extras = res[0], [np.asarray(e) for e in res[1:]]
        else:
            pts, extras = res, []
        pts = _checks.as_points(pts, name="predictor points") + np.array([t.x0, t.y0], dtype=np.float64)
        cy0, cy1, cx0, cx1 = t.core
        col, row = np.floor(pts[:, 0] + 0.5), np.floor(pts[:, 1] + 0.5)
        own = (col >= cx0) & (col < cx1) & (row >= cy0) & (row < cy1)
        pts_all.append(pts[own])
        if extras_all is None:
            extras_all = [[] for _ in extras]
        if len(extras) != len(extras_all):
            raise ValueError("predictor returned a different number of per-point arrays for different tiles")
        for acc, e in zip(extras_all, extras):
            if len(e) != len(own):
                raise ValueError(f"predictor returned {len(e)} values for {len(own)} points")
            acc.append(e[own])
    points = np.concatenate(pts_all) if pts_all else np.zeros((0, 2))
    if not has_extras:
        return points
    return (points, *[np.concatenate(acc) for acc in extras_all])
