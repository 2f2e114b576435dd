"""Whole slides: read at a requested resolution, find the tissue, predict in streamed tiles, write cells
in level-0 coordinates, resume after an interruption.

* :func:`open_slide` reads a vendor slide (SVS, NDPI, MRXS, SCN, pyramidal TIFF ... through OpenSlide,
  from the ``openslide-bin`` wheel) or a plain image (PNG, JPEG, TIFF, held in memory) behind one
  interface, :class:`Slide`: level dimensions and downsamples, microns per pixel from the slide's
  metadata (the objective power as a fallback, with a warning; ``mpp=`` overrides or supplies it), and
  :meth:`Slide.read` of any region at any mpp, read from the best level and resampled.
* :func:`tissue_mask` finds tissue on a low-resolution thumbnail (Otsu on darkness, with saturation for
  pale eosin; specks and small holes removed, scikit-image doing the work).
* :func:`predict_slide` runs a predictor over the tissue in tiles at the model's mpp, each with the
  context its network needs; a tile's core owns its cells (as :mod:`common.tiling` does), so a slide
  predicted in tiles gives the cells of the same region predicted whole. Tiles are read ahead on a
  thread while the network runs, and memory is bounded by a tile, not the slide. Results are written
  in blocks of tiles into ``<out>/<slide>.partial/``; a killed job resumes from its last finished
  block (refused under other settings), and the final files are written atomically: the cells CSV
  (level-0 pixels; gzip for large slides), QuPath GeoJSON, per-class counts and densities per mm² of
  tissue, and a thumbnail overlay (tissue outline and a cell-density heat map).

Importing this module imports neither TensorFlow nor OpenSlide.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass

import numpy as np

from common.io import atomic_path, atomic_write_text

__all__ = ["SLIDE_EXT", "Slide", "is_slide", "open_slide", "predict_slide", "slide_outputs", "tissue_mask",
           "write_test_slide"]

# extensions read as slides (OpenSlide's formats); .tif / .tiff are slides when OpenSlide recognises them
VENDOR_EXT = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide")
SLIDE_EXT = VENDOR_EXT + (".tif", ".tiff")
_PLAIN_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MASK_MPP = 16.0           # microns per pixel of the tissue-mask thumbnail
GZIP_CELLS = 200_000      # a cells CSV of more rows is written gzip-compressed


def is_slide(path) -> bool:
    """Whether ``path`` is a slide: a vendor format's extension (a damaged one too: reading it then says
    why), or a TIFF that OpenSlide reads as a pyramidal / tiled slide."""
    path = os.fspath(path)
    if path.lower().endswith(VENDOR_EXT):
        return True
    if not path.lower().endswith(SLIDE_EXT) or not os.path.isfile(path):
        return False
    try:
        import openslide

        return openslide.OpenSlide.detect_format(path) is not None
    except Exception:   # noqa: BLE001 - not a slide OpenSlide knows
        return False


@dataclass
class Level:
    """One pyramid level: its size in pixels and its downsample from level 0."""

    width: int
    height: int
    downsample: float


class Slide:
    """A slide or a plain image, read at any resolution. Use :func:`open_slide`.

    Attributes:
        path: the file.
        levels: the pyramid levels (level 0 first).
        mpp: microns per pixel of level 0.
        mpp_source: where ``mpp`` came from (``"slide metadata"``, ``"objective power"``, ``"given"``).
    """

    def __init__(self, path, levels, mpp: float, mpp_source: str, reader, image=None):
        self.path, self.levels, self.mpp, self.mpp_source = path, levels, float(mpp), mpp_source
        self._reader, self._image = reader, image

    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 ``(width, height)``."""
        return self.levels[0].width, self.levels[0].height

    def size_at(self, mpp: float) -> tuple[int, int]:
        """``(width, height)`` of the whole slide at ``mpp``."""
        f = self.mpp / float(mpp)
        w, h = self.dimensions
        return max(1, int(round(w * f))), max(1, int(round(h * f)))

    def best_level(self, mpp: float) -> int:
        """The level with the largest downsample that is still at least as fine as ``mpp``."""
        factor = float(mpp) / self.mpp
        best = 0
        for k, lv in enumerate(self.levels):
            if lv.downsample <= factor * (1 + 1e-6):
                best = k if lv.downsample >= self.levels[best].downsample else best
        return best

    def read(self, x: int, y: int, width: int, height: int, mpp: float) -> np.ndarray:
        """The RGB uint8 region of ``width`` x ``height`` pixels at ``mpp`` whose top-left pixel is ``(x, y)``
        at that mpp; outside the slide is white."""
        factor = float(mpp) / self.mpp                     # level-0 pixels per output pixel
        k = self.best_level(mpp)
        ds = self.levels[k].downsample
        scale = factor / ds                                # level-k pixels per output pixel
        lx0, ly0 = x * scale, y * scale                    # the region in level-k pixels
        lx1, ly1 = (x + width) * scale, (y + height) * scale
        ix0, iy0 = int(math.floor(lx0 + 1e-9)), int(math.floor(ly0 + 1e-9))
        ix1, iy1 = int(math.ceil(lx1 - 1e-9)), int(math.ceil(ly1 - 1e-9))
        raw = self._read_level(k, ix0, iy0, max(1, ix1 - ix0), max(1, iy1 - iy0))
        if abs(scale - 1.0) < 1e-9 and raw.shape[:2] == (height, width):
            return raw
        import cv2

        # resample the superset read exactly onto the requested grid (pixel-area averaging when shrinking)
        sx, sy = (lx1 - lx0) / width, (ly1 - ly0) / height
        interp = cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR
        if abs(lx0 - ix0) < 1e-9 and abs(ly0 - iy0) < 1e-9 and abs(sx * width - raw.shape[1]) < 1e-6 \
                and abs(sy * height - raw.shape[0]) < 1e-6:
            return cv2.resize(raw, (width, height), interpolation=interp)
        big = cv2.resize(raw, (int(round(raw.shape[1] / sx)), int(round(raw.shape[0] / sy))), interpolation=interp)
        ox, oy = int(round((lx0 - ix0) / sx)), int(round((ly0 - iy0) / sy))
        out = np.full((height, width, 3), 255, np.uint8)
        part = big[oy:oy + height, ox:ox + width]
        out[:part.shape[0], :part.shape[1]] = part
        return out

    def _read_level(self, k: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        lv = self.levels[k]
        out = np.full((h, w, 3), 255, np.uint8)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(lv.width, x + w), min(lv.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return out
        if self._image is not None:
            out[y0 - y:y1 - y, x0 - x:x1 - x] = self._image[y0:y1, x0:x1]
            return out
        ds = lv.downsample
        rgba = np.asarray(self._reader.read_region((int(round(x0 * ds)), int(round(y0 * ds))), k, (x1 - x0, y1 - y0)))
        rgb, alpha = rgba[..., :3].astype(np.float32), rgba[..., 3:4].astype(np.float32) / 255.0
        out[y0 - y:y1 - y, x0 - x:x1 - x] = np.round(rgb * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
        return out

    def thumbnail(self, mpp: float) -> np.ndarray:
        """The whole slide at ``mpp`` (a coarse one: the mask's, the overlay's)."""
        w, h = self.size_at(mpp)
        return self.read(0, 0, w, h, mpp)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _tiff_mpp(path):
    """Microns per pixel from a TIFF's resolution tags (centimetre or inch units), or None."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            unit = page.tags.get("ResolutionUnit")
            xres = page.tags.get("XResolution")
            if unit is None or xres is None:
                return None
            num, den = xres.value
            per_unit = num / den if den else 0
            if per_unit <= 0:
                return None
            unit = int(unit.value)
            if unit == 3:      # centimetre
                return 1e4 / per_unit
            if unit == 2:      # inch
                return 25400.0 / per_unit
    except Exception:   # noqa: BLE001 - no usable tags
        return None
    return None


def open_slide(path, mpp: float | None = None) -> Slide:
    """The slide or plain image at ``path``; ``mpp`` overrides or supplies level 0's microns per pixel.

    Raises:
        FileNotFoundError: no file. ValueError: unreadable, or no resolution anywhere and no ``mpp``
            (the message names ``--mpp``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no slide or image at {path}")
    if mpp is not None and not (isinstance(mpp, (int, float)) and math.isfinite(mpp) and mpp > 0):
        raise ValueError(f"mpp must be a positive number of microns per pixel, got {mpp!r}")
    if is_slide(path):
        import openslide

        try:
            osl = openslide.OpenSlide(path)
        except Exception as exc:   # noqa: BLE001 - OpenSlide raises several kinds on a damaged file
            raise ValueError(f"{path}: not a readable slide ({type(exc).__name__}: {exc}); the file may be "
                             "truncated or damaged") from exc
        levels = [Level(w, h, float(d)) for (w, h), d in zip(osl.level_dimensions, osl.level_downsamples)]
        source = "given"
        if mpp is None:
            props = osl.properties
            found = props.get("openslide.mpp-x")
            if found:
                mpp, source = float(found), "slide metadata"
            elif props.get("openslide.objective-power"):
                power = float(props["openslide.objective-power"])
                mpp, source = 10.0 / power, "objective power"
                warnings.warn(f"{path}: no mpp in the slide's metadata; {power:g}x taken as {mpp:g} um/px "
                              "(pass --mpp to set it)", UserWarning, stacklevel=2)
            else:
                osl.close()
                raise ValueError(f"{path}: the slide states no resolution (no mpp, no objective power); pass "
                                 "--mpp (microns per pixel of its full resolution)")
        try:   # a damaged slide may open and then fail on its first read
            osl.read_region((0, 0), osl.level_count - 1, (1, 1))
        except Exception as exc:   # noqa: BLE001
            osl.close()
            raise ValueError(f"{path}: not a readable slide ({type(exc).__name__}: {exc})") from exc
        return Slide(path, levels, mpp, source, osl)
    if not path.lower().endswith(_PLAIN_EXT):
        raise ValueError(f"{path}: not a slide OpenSlide reads nor a PNG / JPEG / TIFF image")
    from common.io import read_image

    image = read_image(path)
    source = "given"
    if mpp is None and path.lower().endswith((".tif", ".tiff")):
        mpp = _tiff_mpp(path)
        source = "TIFF resolution tags"
    if mpp is None:
        raise ValueError(f"{path}: the image states no resolution; pass --mpp (microns per pixel of the image)")
    h, w = image.shape[:2]
    return Slide(path, [Level(w, h, 1.0)], mpp, source, None, image)


def tissue_mask(slide: Slide, mpp: float = MASK_MPP, min_area_um2: float = 20_000.0) -> np.ndarray:
    """Tissue (True) on a thumbnail at ``mpp``: pixels darker than the background (Otsu's threshold of the
    grey level, never above 220) or coloured (saturation above 0.08), then specks under ``min_area_um2``
    removed and holes under it filled. A thumbnail without contrast (one colour) is all tissue when dark,
    all background when white."""
    from skimage.color import rgb2hsv
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_holes, remove_small_objects

    thumb = slide.thumbnail(mpp)
    grey = thumb.astype(np.float32).mean(axis=-1)
    if float(grey.max() - grey.min()) < 8:
        return np.full(grey.shape, bool(grey.mean() < 220))
    t = min(float(threshold_otsu(grey)), 220.0)
    mask = (grey < t) | (rgb2hsv(thumb)[..., 1] > 0.08)
    px = max(1, int(round(min_area_um2 / mpp ** 2)))
    mask = remove_small_objects(mask, max_size=px) if _has_max_size() else remove_small_objects(mask, px)
    return remove_small_holes(mask, max_size=px) if _has_max_size() else remove_small_holes(mask, px)


def _has_max_size() -> bool:
    """scikit-image 0.26 renamed ``min_size`` / ``area_threshold`` to ``max_size`` (the old names warn)."""
    import inspect

    from skimage.morphology import remove_small_objects

    return "max_size" in inspect.signature(remove_small_objects).parameters


def read_mask_image(path, shape) -> np.ndarray:
    """A user's tissue mask (any image; non-zero = tissue) resized to ``shape`` (H, W)."""
    import cv2

    from common.io import read_image

    m = read_image(path).max(axis=-1) > 0
    return cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


# ------------------------------------------------------------------------------------------------ tiles


@dataclass
class SlideTile:
    """One tile at the model's mpp: its core ``[x0, x1) x [y0, y1)`` and the context read around it."""

    index: int
    x0: int
    y0: int
    x1: int
    y1: int
    margin: int


def tile_grid(width: int, height: int, core: int, margin: int, mask=None, mask_scale: float = 1.0) -> list:
    """Tiles of ``core`` px covering ``width`` x ``height`` (row-major), keeping those whose core touches
    tissue (``mask`` at ``mask_scale`` mask pixels per model pixel)."""
    tiles = []
    for y0 in range(0, height, core):
        for x0 in range(0, width, core):
            x1, y1 = min(x0 + core, width), min(y0 + core, height)
            if mask is not None:
                mx0, my0 = int(x0 * mask_scale), int(y0 * mask_scale)
                mx1, my1 = max(mx0 + 1, int(math.ceil(x1 * mask_scale))), max(my0 + 1, int(math.ceil(y1 * mask_scale)))
                if not mask[my0:my1, mx0:mx1].any():
                    continue
            tiles.append(SlideTile(len(tiles), x0, y0, x1, y1, margin))
    return tiles


# ------------------------------------------------------------------------------------------------ slide job


def slide_outputs(out, stem: str, n_cells: int | None = None) -> dict:
    """The files a finished slide job writes (the cells CSV is ``.csv.gz`` beyond ``GZIP_CELLS`` rows)."""
    out = os.fspath(out)
    gz = n_cells is not None and n_cells > GZIP_CELLS
    return {"cells": os.path.join(out, f"{stem}_cells.csv" + (".gz" if gz else "")),
            "geojson": os.path.join(out, f"{stem}.geojson"),
            "counts": os.path.join(out, f"{stem}_counts.csv"),
            "overlay": os.path.join(out, f"{stem}_overlay.jpg"),
            "summary": os.path.join(out, f"{stem}_summary.json")}


def finished(out, stem: str) -> bool:
    """Whether a slide job finished: its summary, written last, exists."""
    return os.path.isfile(slide_outputs(out, stem)["summary"])


def _settings(predictor, slide, model_mpp, core, margin, use_mask, mask_path, detect) -> dict:
    return {"slide": os.path.abspath(slide.path), "slide size": list(slide.dimensions), "slide mpp": slide.mpp,
            "model": os.path.abspath(predictor.folder) if predictor.folder else None, "model mpp": model_mpp,
            "tile": core, "margin": margin, "tissue mask": "off" if not use_mask else (mask_path or "otsu"),
            "detect": {k: v for k, v in sorted(detect.items())}}


def predict_slide(predictor, path, out, *, model_mpp: float, mpp: float | None = None, tile: int | None = None,
                  tissue: bool = True, mask_path=None, overwrite: bool = False, block: int = 16,
                  progress: bool = False, detect: dict | None = None) -> dict:
    """Cells of a whole slide at the model's resolution, written to ``out`` (see the module docstring).

    Args:
        predictor: a :class:`common.inference.Predictor` (any paper's).
        path: the slide or image.
        out: the output folder.
        model_mpp: microns per pixel the model was trained at (a run's ``data.json``, a preset's manifest).
        mpp: the slide's level-0 microns per pixel when its metadata lacks it or is wrong.
        tile: the tile core at the model's mpp (default: the predictor's ``slide_window``).
        tissue: find tissue and skip background tiles (``mask_path``: a mask image instead of Otsu).
        overwrite: redo a finished slide (else it is skipped and its summary returned).
        block: tiles per resumable block.
        detect: keyword arguments of ``predictor.predict`` (``threshold``, ``method`` ...).

    Returns:
        The slide's summary: slide, mpp, tissue area (mm²), cells per class, densities, seconds, status.
    """
    t0 = time.time()
    detect = dict(detect or {})
    out = os.fspath(out)
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    if finished(out, stem) and not overwrite:
        with open(slide_outputs(out, stem)["summary"], encoding="utf-8") as f:
            return {**json.load(f), "status": "skipped (done; --overwrite redoes it)"}
    with open_slide(path, mpp) as slide:
        core, margin = predictor.slide_window(tile)
        width, height = slide.size_at(model_mpp)
        mask, mask_scale = None, 1.0
        if tissue:
            mask = read_mask_image(mask_path, slide.size_at(MASK_MPP)[::-1]) if mask_path else \
                tissue_mask(slide, MASK_MPP)
            mask_scale = model_mpp / MASK_MPP
        tiles = tile_grid(width, height, core, margin, mask, mask_scale)
        settings = _settings(predictor, slide, model_mpp, core, margin, tissue, mask_path, detect)
        work = os.path.join(out, f"{stem}.partial")
        state_path = os.path.join(work, "state.json")
        if overwrite and os.path.isdir(work):
            shutil.rmtree(work)
        done = 0
        if os.path.isfile(state_path):
            with open(state_path, encoding="utf-8") as f:
                state = json.load(f)
            if state.get("settings") != settings:
                raise ValueError(f"{work} holds an interrupted job of other settings (model, mpp, tile or mask); "
                                 "pass --overwrite to start this slide afresh")
            done = int(state["blocks"])
        os.makedirs(work, exist_ok=True)
        blocks = [tiles[i:i + block] for i in range(0, len(tiles), block)]
        from common.progress import progress_bar

        bar = progress_bar(total=len(tiles), desc=f"{stem}", unit="tile", enabled=progress)
        bar.update(sum(len(b) for b in blocks[:done]))
        names = None
        for b in range(done, len(blocks)):
            found = _predict_tiles(predictor, slide, blocks[b], model_mpp, detect, bar)
            names = names or found.pop("class_names", None)
            found.pop("class_names", None)
            with atomic_path(os.path.join(work, f"block-{b:05d}.npz")) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **found)
            atomic_write_text(state_path, json.dumps({"settings": settings, "blocks": b + 1,
                                                      "class_names": names}) + "\n")
        bar.close()
        if names is None and os.path.isfile(state_path):
            with open(state_path, encoding="utf-8") as f:
                names = json.load(f).get("class_names")
        cells = _gather(work, len(blocks))
        scale = model_mpp / slide.mpp       # model pixels -> level-0 pixels
        tissue_mm2 = (float(mask.sum()) * MASK_MPP ** 2 if mask is not None else width * height * model_mpp ** 2) / 1e6
        summary = _write_outputs(slide, cells, names, scale, out, stem, tissue_mm2, mask, predictor)
        summary.update(seconds=round(time.time() - t0, 1), status="done", tiles=len(tiles),
                       **{"model mpp": model_mpp, "slide mpp": slide.mpp, "mpp from": slide.mpp_source})
        atomic_write_text(slide_outputs(out, stem)["summary"], json.dumps(summary, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return summary


def _predict_tiles(predictor, slide, tiles, mpp, detect, bar) -> dict:
    """The cells of a block of tiles (model pixels of the whole slide), each tile read ahead on a thread."""
    from concurrent.futures import ThreadPoolExecutor

    def read(t):
        m = t.margin
        return slide.read(t.x0 - m, t.y0 - m, (t.x1 - t.x0) + 2 * m, (t.y1 - t.y0) + 2 * m, mpp)

    pts, scores, classes, probs, boxes, names = [], [], [], [], [], None
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(read, tiles[0]) if tiles else None
        for i, t in enumerate(tiles):
            image = pending.result()
            pending = pool.submit(read, tiles[i + 1]) if i + 1 < len(tiles) else None
            det = predictor.predict(image, **detect)
            p = det.points + np.array([t.x0 - t.margin, t.y0 - t.margin], np.float64)
            col, row = np.floor(p[:, 0] + 0.5), np.floor(p[:, 1] + 0.5)
            own = (col >= t.x0) & (col < t.x1) & (row >= t.y0) & (row < t.y1)   # the core owns its cells
            pts.append(p[own])
            scores.append(det.scores[own])
            if det.classes is not None:
                classes.append(det.classes[own])
                names = det.class_names
            if det.class_probabilities is not None:
                probs.append(det.class_probabilities[own])
            if det.boxes is not None:
                boxes.append(det.boxes[own] + np.array([t.x0 - t.margin, t.y0 - t.margin] * 2, np.float64))
            bar.update(1)
    out = {"points": np.concatenate(pts) if pts else np.zeros((0, 2)),
           "scores": np.concatenate(scores) if scores else np.zeros(0)}
    if classes:
        out["classes"] = np.concatenate(classes)
    if probs:
        out["probabilities"] = np.concatenate(probs)
    if boxes:
        out["boxes"] = np.concatenate(boxes)
    out["class_names"] = names
    return out


def _gather(work, n_blocks: int) -> dict:
    parts = []
    for b in range(n_blocks):
        with np.load(os.path.join(work, f"block-{b:05d}.npz")) as z:
            parts.append({k: z[k] for k in z.files})
    keys = {k for p in parts for k in p}
    out = {}
    for k in keys:
        arrays = [p[k] for p in parts if k in p and len(p[k])]
        out[k] = np.concatenate(arrays) if arrays else None
    if out.get("points") is None:
        out["points"], out["scores"] = np.zeros((0, 2)), np.zeros(0)
    return out


def _write_outputs(slide, cells, names, scale, out, stem, tissue_mm2, mask, predictor) -> dict:
    """Cells CSV, GeoJSON (level-0 pixels), counts and densities, thumbnail overlay; returns the summary."""
    import pandas as pd

    from common.io import default_colours

    pts = cells["points"] * scale
    boxes = cells.get("boxes")
    boxes = boxes * scale if boxes is not None else None
    cls = cells.get("classes")
    files = slide_outputs(out, stem, len(pts))
    df = pd.DataFrame({"slide": os.path.basename(slide.path), "x": pts[:, 0], "y": pts[:, 1]})
    if boxes is not None:
        for k, c in enumerate(("xmin", "ymin", "xmax", "ymax")):
            df[c] = boxes[:, k]
    df["score"] = cells["scores"]
    if cls is not None and names:
        df["class"] = [names[int(k)] for k in cls]
        probs = cells.get("probabilities")
        if probs is not None:
            for k, n in enumerate(names):
                df[f"p_{n}"] = probs[:, k]
    with atomic_path(files["cells"]) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g", compression="gzip" if files["cells"].endswith(".gz")
                  else None)
    _write_geojson_stream(files["geojson"], pts, df.get("class"), cells["scores"], names, boxes,
                          os.path.abspath(slide.path))
    counts = {"cells": int(len(pts))}
    if cls is not None and names:
        counts.update({n: int(np.sum(cls == k)) for k, n in enumerate(names)})
    density = {f"{k} per mm2": (v / tissue_mm2 if tissue_mm2 > 0 else float("nan")) for k, v in counts.items()}
    row = {"slide": os.path.basename(slide.path), "tissue mm2": round(tissue_mm2, 4), **counts,
           **{k: round(v, 2) for k, v in density.items()}}
    with atomic_path(files["counts"]) as tmp:
        pd.DataFrame([row]).to_csv(tmp, index=False)
    colours = default_colours(list(names)) if names else {}
    _write_overlay(slide, pts, mask, files["overlay"], colours)
    return {**row, "files": {k: os.path.basename(v) for k, v in files.items()}}


def _write_geojson_stream(path, pts, classes, scores, names, boxes, prefix) -> None:
    """QuPath GeoJSON of many cells, written feature by feature (a slide may hold millions)."""
    import uuid

    from common.io import default_colours

    palette = default_colours(list(names)) if names else {}
    labels = list(classes) if classes is not None else None
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write('{"type": "FeatureCollection", "features": [')
            for k, (x, y) in enumerate(pts):
                props = {"objectType": "detection", "isLocked": False, "measurements": {"score": float(scores[k])}}
                if labels is not None:
                    props["classification"] = {"name": labels[k],
                                               "color": [int(c) for c in palette.get(labels[k], [128, 128, 128])]}
                if boxes is not None:
                    x0, y0, x1, y1 = (float(v) for v in boxes[k])
                    geom = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
                else:
                    geom = {"type": "Point", "coordinates": [float(x), float(y)]}
                feature = {"type": "Feature", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cellrepro/{prefix}/{k}")),
                           "geometry": geom, "properties": props}
                f.write(("," if k else "") + "\n" + json.dumps(feature))
            f.write("\n]}\n")


def _write_overlay(slide, pts, mask, path, colours, max_side: int = 2048) -> None:
    """A JPEG thumbnail: the tissue outline and a cell-density heat map (cells per thumbnail pixel, blurred)."""
    import cv2

    w, h = slide.dimensions
    mpp = max(slide.mpp * max(w, h) / max_side, slide.mpp)
    thumb = slide.thumbnail(mpp)
    th, tw = thumb.shape[:2]
    f = slide.mpp / mpp
    heat = np.zeros((th, tw), np.float32)
    if len(pts):
        c = np.clip((pts[:, 0] * f).astype(int), 0, tw - 1)
        r = np.clip((pts[:, 1] * f).astype(int), 0, th - 1)
        np.add.at(heat, (r, c), 1.0)
        sigma = max(2.0, 50.0 / mpp)           # about 50 um
        heat = cv2.GaussianBlur(heat, (0, 0), sigma)
        heat = heat / max(float(heat.max()), 1e-9)
        coloured = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        alpha = (0.55 * np.clip(heat * 3, 0, 1))[..., None]
        thumb = np.round(thumb * (1 - alpha) + coloured * alpha).astype(np.uint8)
    if mask is not None:
        m = cv2.resize(mask.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thumb = np.ascontiguousarray(thumb)
        cv2.drawContours(thumb, contours, -1, (20, 160, 20), max(1, tw // 800))
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(thumb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise ValueError(f"could not encode the overlay {path}")
        with open(tmp, "wb") as fh:
            fh.write(buf.tobytes())


# ------------------------------------------------------------------------------------------------ test slides


def write_test_slide(path, image, mpp: float, levels: int = 3, tile: int = 256, magnification: float | None = None,
                     upsample: int = 1) -> str:
    """Writes ``image`` as an Aperio-style pyramidal tiled TIFF (SVS) that OpenSlide reads: level 0 the image
    (``upsample`` times larger by pixel repetition, at ``mpp / upsample``), then levels halving it, with
    ``MPP`` and ``AppMag`` in the description. For tests and benchmarks: every cell's position is known."""
    import tifffile

    img = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    if upsample > 1:
        img = np.repeat(np.repeat(img, upsample, axis=0), upsample, axis=1)
    mpp0 = mpp / upsample
    mag = magnification if magnification is not None else 10.0 / mpp0
    h, w = img.shape[:2]
    desc0 = (f"Aperio Image Library v12.0.0\n{w}x{h} [0,0 {w}x{h}] ({tile}x{tile}) RAW/RGB|AppMag = {mag:g}"
             f"|MPP = {mpp0:g}")
    import cv2

    with tifffile.TiffWriter(os.fspath(path)) as tw:
        current = img
        for k in range(levels):
            if k:
                current = cv2.resize(current, (max(1, current.shape[1] // 2), max(1, current.shape[0] // 2)),
                                     interpolation=cv2.INTER_AREA)
            desc = desc0 if k == 0 else f"Aperio Image Library v12.0.0\n{current.shape[1]}x{current.shape[0]}"
            tw.write(current, tile=(tile, tile), photometric="rgb", compression="zlib", description=desc,
                     metadata=None, subfiletype=1 if k else 0)
    return os.fspath(path)
