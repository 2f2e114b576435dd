"""Readers and writers: points CSV, CRCHisto ``.mat``, Pascal VOC XML, QuPath GeoJSON, images.

Every writer is atomic (write to a temporary file in the same folder, then rename), so an
interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from common import _checks

__all__ = [
    "VocAnnotation",
    "atomic_path",
    "atomic_write_text",
    "GEOJSON_DIR",
    "POINT_TABLES",
    "default_colours",
    "point_annotations",
    "read_folder_points",
    "read_crchisto_mat",
    "read_geojson",
    "read_geojson_points",
    "read_image",
    "read_points_csv",
    "read_run_data",
    "read_run_json",
    "read_voc_xml",
    "write_geojson",
    "write_image",
    "write_points_csv",
]


# --------------------------------------------------------------------------------------------
# atomic writes


@contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path that is renamed to ``path`` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; a finished file follows the umask
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(exc, OSError) and not getattr(exc, "_named", False):
            raise write_error(exc, path) from exc
        raise


def write_error(exc: OSError, path) -> OSError:
    """An ``OSError`` of a failed write that names the file and what to do (a full disk, a permission)."""
    what = exc.strerror or str(exc)
    err = OSError(exc.errno, f"could not write {path}: {what}; make room (or choose another --out) and run the "
                             "command again")
    err._named = True
    return err


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def read_run_json(folder, name: str = "data.json"):
    """One JSON file of a run folder (``data.json``, ``state.json``, ...), read without TensorFlow.

    Returns None when the file is absent; a file that is not JSON raises a one-line ``ValueError``
    naming it and what to do.
    """
    path = os.path.join(os.fspath(folder), name)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is damaged ({exc}); delete it or retrain the run") from exc


def read_run_data(folder) -> dict:
    """A run folder's ``data.json`` as a dict (empty when absent); a damaged file raises as
    :func:`read_run_json` does."""
    data = read_run_json(folder, "data.json")
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------------------------
# points CSV


UNCLASSIFIED = ("", "-1", "unclassified")   # class labels that mean "a cell of no class" (class -1)


#: The files a data folder's point annotations may be in (exactly one of them, or a ``geojson/`` folder).
POINT_TABLES = ("points.csv", "points.tsv", "points.txt")
#: A data folder's sub-folder of one QuPath GeoJSON export per image (``<image stem>.geojson``).
GEOJSON_DIR = "geojson"
#: QuPath measurement-table columns, by what they become here (QuPath 0.5 writes ``Classification``).
_QUPATH = {"image": ("Image",), "x": ("Centroid X px",), "y": ("Centroid Y px",),
           "class": ("Classification", "Class")}


def read_points_csv(path) -> pd.DataFrame:
    """Reads a points table: columns ``image,x,y[,class]`` (x = column, y = row, 0-based pixels), or a
    QuPath measurement export (``Image``, ``Class`` or ``Classification``, ``Centroid X px``,
    ``Centroid Y px``; other columns ignored), comma- or tab-separated.

    A blank class, ``-1`` or ``unclassified`` marks a cell without a class (:data:`UNCLASSIFIED`): it is
    read as the empty string. QuPath's coordinates are taken as written (its pixel centres sit at +0.5,
    half a pixel from ours: far below any matching radius).

    Returns:
        DataFrame with columns image (str), x, y (float) and, if present, class (str).
    """
    path = _checks.existing_file(path, "path")
    try:
        with open(path, encoding="utf-8-sig") as f:
            header = f.readline()
        sep = "\t" if "\t" in header else ","
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    df = _from_qupath(df, path)
    missing = [c for c in ("image", "x", "y") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected image,x,y[,class] or a QuPath measurement "
                         f"export with Image and 'Centroid X px' / 'Centroid Y px', got {list(df.columns)[:8]}")
    for c in ("x", "y"):
        vals = pd.to_numeric(df[c].str.strip(), errors="coerce")
        bad = vals.isna() | ~np.isfinite(vals.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{path}: column {c!r} has a missing or non-numeric value at data row {row + 1}")
        df[c] = vals.astype(np.float64)
    df["image"] = df["image"].str.strip()
    if (df["image"] == "").any():
        row = int(np.flatnonzero((df["image"] == "").to_numpy())[0])
        raise ValueError(f"{path}: empty image name at data row {row + 1}")
    cols = ["image", "x", "y"]
    if "class" in df.columns:
        df["class"] = _read_classes(df["class"])
        cols.append("class")
    return df[cols].reset_index(drop=True)


def _from_qupath(df: pd.DataFrame, path) -> pd.DataFrame:
    """A QuPath measurement table renamed to ``image,x,y[,class]``; any other table unchanged."""
    if {"image", "x", "y"} <= set(df.columns) or "Image" not in df.columns:
        return df
    if not any(c in df.columns for c in _QUPATH["x"]):
        micron = [c for c in df.columns if c.startswith("Centroid X")]
        if micron:
            raise ValueError(f"{path}: QuPath centroids are in {micron[0][len('Centroid X '):]} ({micron[0]!r}), "
                             "not pixels; export from an image without pixel calibration, or add x,y columns in "
                             "pixels (microns / pixel size)")
        return df
    rename = {}
    for ours, theirs in _QUPATH.items():
        found = next((c for c in theirs if c in df.columns), None)
        if found:
            rename[found] = ours
    return df.rename(columns=rename)


def read_geojson_points(path, image: str) -> pd.DataFrame:
    """One image's points from a GeoJSON file (QuPath's 'Export objects as GeoJSON', or ours) as a points
    table: ``image,x,y,class`` with a blank class for objects without a classification."""
    pts, names, _ = read_geojson(path)
    return pd.DataFrame({"image": pd.Series([image] * len(pts), dtype=str), "x": pts[:, 0], "y": pts[:, 1],
                         "class": _read_classes(pd.Series(names, dtype=object))})


def _read_classes(labels: pd.Series) -> pd.Series:
    """Class labels as read from a file: text (:func:`_class_text`), with every label that means
    unclassified (:data:`UNCLASSIFIED`, or none at all) as the empty string."""
    text = labels.map(_class_text).astype(str).str.strip()
    return text.where(~text.str.lower().isin(UNCLASSIFIED), "")


def point_annotations(folder) -> str:
    """The one file (or ``geojson/`` folder) holding a data folder's points; a clear error when there is
    none or more than one."""
    folder = os.fspath(folder)
    found = [n for n in POINT_TABLES if os.path.isfile(os.path.join(folder, n))]
    if os.path.isdir(os.path.join(folder, GEOJSON_DIR)):
        found.append(GEOJSON_DIR + "/")
    if not found:
        raise FileNotFoundError(f"{folder}: no point annotations: add points.csv (columns image,x,y[,class]), a "
                                "QuPath measurement export as points.tsv, or geojson/<image>.geojson files")
    if len(found) > 1:
        raise ValueError(f"{folder}: point annotations in both {found[0]} and {found[1]}; keep one of them")
    return os.path.join(folder, found[0].rstrip("/"))


def read_folder_points(folder) -> tuple[pd.DataFrame, str]:
    """A data folder's points, from whichever of :data:`POINT_TABLES` or ``geojson/`` it has:
    ``(table image,x,y[,class], the file or folder read)``."""
    where = point_annotations(folder)
    if os.path.isfile(where):
        return read_points_csv(where), where
    files = sorted(f for f in os.listdir(where) if f.lower().endswith((".geojson", ".json")))
    if not files:
        raise FileNotFoundError(f"{where}: no .geojson files (one per image, named after the image)")
    frames = [read_geojson_points(os.path.join(where, f), os.path.splitext(f)[0]) for f in files]
    return pd.concat(frames, ignore_index=True), where


def _class_text(v) -> str:
    """A class label as text; a whole number without a decimal point (``2.0`` -> ``"2"``), so one class is
    one label however a spreadsheet wrote it."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    text = str(v).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def write_points_csv(path, points, image: str | Sequence[str] = "", classes=None, class_names=None) -> None:
    """Writes points (and optionally class names) to a points CSV, atomically.

    Args:
        path: output file.
        points: (N, 2) (x, y) array.
        image: image name for every row, or one name per row.
        classes: optional (N,) class indices (into ``class_names``) or class names.
        class_names: names for integer ``classes``.
    """
    pts = _checks.as_points(points)
    df = pd.DataFrame({"image": image if isinstance(image, str) else list(image),
                       "x": pts[:, 0], "y": pts[:, 1]})
    if classes is not None:
        df["class"] = _class_labels(classes, len(pts), class_names)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")


def _class_labels(classes, n, class_names):
    cls = np.asarray(classes)
    if cls.shape[0] != n:
        raise ValueError(f"classes has {cls.shape[0]} entries but there are {n} points")
    if cls.dtype.kind in "iu":
        if class_names is None:
            return [str(int(c)) for c in cls]
        idx = _checks.as_classes(cls, n, len(class_names), allow_unlabelled=True)
        return [class_names[c] if c >= 0 else "unclassified" for c in idx]
    return [str(c) for c in cls]


# --------------------------------------------------------------------------------------------
# CRCHisto .mat


def read_crchisto_mat(path, zero_based: bool = True) -> np.ndarray:
    """Reads a CRCHistoPhenotypes annotation file (variable ``detection``, N x 2, MATLAB 1-based x, y).

    Args:
        path: ``imgN_<kind>.mat``.
        zero_based: subtract 1 so that coordinates follow the library convention (0-based pixels).

    Returns:
        (N, 2) float64 (x, y) array (empty files give (0, 2)).
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = _checks.existing_file(path, "path")
    try:
        mat = loadmat(path)
    except (MatReadError, ValueError, OSError, IndexError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    if "detection" not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise ValueError(f"{path}: no 'detection' variable (found {keys}); not a CRCHisto annotation file")
    arr = np.asarray(mat["detection"], dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{path}: 'detection' must be N x 2, got shape {arr.shape}")
    return _checks.as_points(arr - 1.0 if zero_based else arr, name=f"{path}: detection")


# --------------------------------------------------------------------------------------------
# Pascal VOC XML


@dataclass(frozen=True)
class VocAnnotation:
    """Boxes of one Pascal VOC file: ``boxes`` (N, 4) = xmin, ymin, xmax, ymax in pixels."""

    filename: str
    width: int
    height: int
    boxes: np.ndarray
    labels: list

    @property
    def centres(self) -> np.ndarray:
        """(N, 2) box centres (x, y)."""
        if len(self.boxes) == 0:
            return np.zeros((0, 2), dtype=np.float64)
        return np.stack([(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2], 1)


def read_voc_xml(path, drop_degenerate: bool = True, zero_based: bool = True) -> VocAnnotation:
    """Reads a Pascal VOC annotation.

    Args:
        path: XML file.
        drop_degenerate: skip zero-area boxes (BCCD has two).
        zero_based: convert VOC's 1-based pixel indices to 0-based coordinates (subtract 1).
    """
    path = _checks.existing_file(path, "path")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: malformed XML ({exc})") from exc
    if root.tag != "annotation":
        raise ValueError(f"{path}: root element is <{root.tag}>, expected a VOC <annotation>")

    def number(node, tag):
        el = node.find(tag)
        if el is None or el.text is None:
            raise ValueError(f"{path}: missing <{tag}>")
        try:
            return float(el.text)
        except ValueError:
            raise ValueError(f"{path}: <{tag}> is not a number: {el.text!r}") from None

    size = root.find("size")
    width = int(number(size, "width")) if size is not None else 0
    height = int(number(size, "height")) if size is not None else 0
    boxes, labels = [], []
    for obj in root.findall("object"):
        name = obj.findtext("name")
        bb = obj.find("bndbox")
        if not name or bb is None:
            raise ValueError(f"{path}: an <object> lacks <name> or <bndbox>")
        b = [number(bb, t) for t in ("xmin", "ymin", "xmax", "ymax")]
        if zero_based and min(b) < 1:
            tag = ("xmin", "ymin", "xmax", "ymax")[int(np.argmin(b))]
            raise ValueError(f"{path}: <{tag}> is {min(b):g} in the box of {name.strip()!r}, but VOC pixel coordinates "
                             "start at 1 (the first pixel is 1): write the box 1-based, e.g. 1 for one touching the "
                             "image's edge")
        if b[2] < b[0] or b[3] < b[1]:
            raise ValueError(f"{path}: box {b} of {name!r} has xmax < xmin or ymax < ymin")
        if drop_degenerate and (b[2] == b[0] or b[3] == b[1]):
            continue
        boxes.append(b)
        labels.append(name.strip())
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if zero_based:
        arr = arr - 1.0
    return VocAnnotation(root.findtext("filename") or os.path.basename(path), width, height, arr, labels)


# --------------------------------------------------------------------------------------------
# QuPath GeoJSON

_PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (128, 128, 0), (0, 0, 128)]


def default_colours(class_names: Sequence[str]) -> dict:
    """A distinct RGB colour per class name."""
    return {n: list(_PALETTE[i % len(_PALETTE)]) for i, n in enumerate(class_names)}


def write_geojson(path, points, classes=None, class_names=None, scores=None, colours=None,
                  id_prefix: str | None = None, boxes=None) -> None:
    """Writes points as a QuPath-importable GeoJSON FeatureCollection of detections, atomically.

    Each point becomes a ``Point`` feature with ``properties.objectType = "detection"``, an optional
    ``classification {name, color: [r, g, b]}`` and an optional ``measurements.score``.

    Args:
        path: output ``.geojson`` file.
        points: (N, 2) (x, y) pixel coordinates.
        classes: optional (N,) class indices into ``class_names``, or class names.
        class_names: names for integer classes.
        scores: optional (N,) confidences.
        colours: optional {class name: [r, g, b]}; defaults to a fixed palette.
        id_prefix: what makes the feature ids unique across files (default: the file name); each
            feature's id is a UUID derived from it and the cell's index, so re-running gives the
            same ids and two images never share one.
        boxes: optional (N, 4) xmin, ymin, xmax, ymax: each cell is then a rectangle (a closed
            ``Polygon``, QuPath's rectangle annotation shape) instead of a point.
    """
    import uuid

    pts = _checks.as_points(points)
    prefix = os.path.basename(os.fspath(path)) if id_prefix is None else str(id_prefix)
    names = None if classes is None else _class_labels(classes, len(pts), class_names)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape[0] != len(pts):
            raise ValueError(f"scores has {scores.shape[0]} entries but there are {len(pts)} points")
    palette = default_colours(list(class_names) if class_names is not None else sorted(set(names or [])))
    palette.update(colours or {})
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) != len(pts):
            raise ValueError(f"{len(boxes)} boxes for {len(pts)} points")
    features = []
    for k, (x, y) in enumerate(pts):
        props = {"objectType": "detection", "isLocked": False}
        if names is not None:
            col = palette.get(names[k], [128, 128, 128])
            props["classification"] = {"name": names[k], "color": [int(c) for c in col]}
        if scores is not None:
            props["measurements"] = {"score": float(scores[k])}
        features.append({"type": "Feature", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cellrepro/{prefix}/{k}")),
                         "geometry": _rectangle(boxes[k]) if boxes is not None else
                         {"type": "Point", "coordinates": [float(x), float(y)]},
                         "properties": props})
    atomic_write_text(path, json.dumps({"type": "FeatureCollection", "features": features}))


def _rectangle(box) -> dict:
    x0, y0, x1, y1 = (float(v) for v in box)
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _polygon_centroid(ring) -> tuple[float, float]:
    r = np.asarray(ring, dtype=np.float64)
    x, y = r[:, 0], r[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return float(x.mean()), float(y.mean())
    return float(((x + x1) * cross).sum() / (6 * a)), float(((y + y1) * cross).sum() / (6 * a))


def read_geojson(path):
    """Reads detections from a GeoJSON file written by :func:`write_geojson` or exported by QuPath.

    Accepts a FeatureCollection, a list of features or one feature; ``Point`` and ``MultiPoint``
    geometries give their points, ``Polygon`` / ``MultiPolygon`` (QuPath cell outlines) their
    centroid. ``objectType`` may sit in ``properties`` (QuPath) or at the feature's top level.

    Returns:
        ``(points, class_names, scores)``: (N, 2) array, list of class names (None when unclassified)
        and (N,) array of probabilities (NaN when absent).
    """
    path = _checks.existing_file(path, "path")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, list):
        features = data
    else:
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection, Feature or list of features")
    if not isinstance(features, list):
        raise ValueError(f"{path}: 'features' must be a list")
    pts, names, scores = [], [], []
    for k, feat in enumerate(features):
        if not isinstance(feat, dict) or not isinstance(feat.get("geometry"), dict):
            raise ValueError(f"{path}: feature {k} has no geometry")
        geom = feat["geometry"]
        gtype, coords = geom.get("type"), geom.get("coordinates")
        try:
            if gtype == "Point":
                here = [(float(coords[0]), float(coords[1]))]
            elif gtype == "MultiPoint":
                here = [(float(c[0]), float(c[1])) for c in coords]
            elif gtype == "Polygon":
                here = [_polygon_centroid(coords[0])]
            elif gtype == "MultiPolygon":
                here = [_polygon_centroid(poly[0]) for poly in coords]
            else:
                raise ValueError(f"{path}: feature {k} has unsupported geometry type {gtype!r}")
        except (TypeError, IndexError, KeyError):
            raise ValueError(f"{path}: feature {k} has malformed {gtype} coordinates") from None
        props = feat.get("properties") or {}
        cls = props.get("classification") or {}
        name = cls.get("name") if isinstance(cls, dict) else None
        meas = props.get("measurements") or {}
        prob = meas.get("score", meas.get("probability", np.nan)) if isinstance(meas, dict) else np.nan
        for p in here:
            pts.append(p)
            names.append(name)
            scores.append(float(prob) if prob is not None else np.nan)
    points = _checks.as_points(np.asarray(pts, dtype=np.float64).reshape(-1, 2), name=f"{path}: coordinates")
    return points, names, np.asarray(scores, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# images


def read_image(path) -> np.ndarray:
    """Reads a PNG / JPEG / TIFF / BMP image as RGB uint8 (H, W, 3).

    Greyscale images are repeated to three channels and an alpha channel is dropped; 16-bit,
    floating-point and other channel layouts raise ``ValueError``.
    """
    import cv2

    path = _checks.existing_file(path, "path")
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: not a readable image file")
    if img.dtype != np.uint8:
        raise ValueError(f"{path}: {img.dtype} pixels; only 8-bit images are supported (convert to uint8 first)")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"{path}: unsupported layout {img.shape}; expected greyscale, RGB or RGBA")
    return np.ascontiguousarray(img[:, :, 2::-1])  # BGR(A) -> RGB


def write_image(path, image) -> None:
    """Writes an RGB uint8 image (format from the extension), atomically."""
    import cv2

    img = _checks.as_rgb_image(image)
    ext = os.path.splitext(os.fspath(path))[1] or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(img[:, :, ::-1]), params)
    if not ok:
        raise ValueError(f"cannot encode an image with extension {ext!r}")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(buf.tobytes())
