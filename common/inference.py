"""One record for predictions and one predictor interface for every paper.

* :class:`Detections` is what every paper's ``predict`` returns: points, classes, scores and,
  where the paper classifies, class probabilities; it writes itself as points CSV and GeoJSON.
* :func:`receptive_field` reads a functional Keras model's reach (how far an output pixel
  sees into the input), so tiles overlap by what the network actually sees.
* :class:`Predictor` owns tiling (tiles batched, margin from the receptive field) and the
  fully-convolutional copy of a model (re-synchronised with the model's weights on every call, so
  it is never stale); a paper subclasses it with its forward pass and post-processing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from common import _checks

__all__ = ["Detections", "Predictor", "degenerate", "load_keras", "receptive_field", "resolve_run", "run_folder",
           "val_density", "warn_degenerate"]


@dataclass
class Detections:
    """Cells found in one image.

    Attributes:
        points: (N, 2) float (x, y) = (column, row) pixel coordinates.
        classes: (N,) int class indices into ``class_names``, or None for detection-only models.
        scores: (N,) float, the map value the detection was taken from (higher = surer).
        class_probabilities: (N, K) float, or None.
        class_names: names of the K classes (None without classes).
        boxes: (N, 4) float (xmin, ymin, xmax, ymax) for box detectors (YOLO), else None; the
            points are then the box centres.
    """

    points: np.ndarray
    classes: np.ndarray | None
    scores: np.ndarray
    class_probabilities: np.ndarray | None = None
    class_names: tuple | None = None
    info: dict = field(default_factory=dict)
    boxes: np.ndarray | None = None

    def __post_init__(self):
        self.points = _checks.as_points(self.points, name="points")
        n = len(self.points)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(self.scores) != n:
            raise ValueError(f"{len(self.scores)} scores for {n} points")
        if self.classes is not None:
            self.classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
            if len(self.classes) != n:
                raise ValueError(f"{len(self.classes)} classes for {n} points")
            if self.class_names is None:
                raise ValueError("classes need class_names")
            if n and (self.classes.min() < 0 or self.classes.max() >= len(self.class_names)):
                raise ValueError(f"classes must lie in [0, {len(self.class_names)}), got "
                                 f"{self.classes.min()}..{self.classes.max()}")
        if self.class_probabilities is not None:
            p = np.asarray(self.class_probabilities, dtype=np.float64)
            if p.ndim != 2 or len(p) != n:
                raise ValueError(f"class_probabilities must be (N={n}, K), got shape {p.shape}")
            self.class_probabilities = p
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
        if self.boxes is not None:
            from common.boxes import as_boxes

            self.boxes = as_boxes(self.boxes, "boxes") if len(np.asarray(self.boxes)) else np.zeros((0, 4))
            if len(self.boxes) != n:
                raise ValueError(f"{len(self.boxes)} boxes for {n} points")

    def __len__(self) -> int:
        return len(self.points)

    def counts(self) -> dict:
        """``{"cells": N}`` plus one count per class name when classified."""
        out = {"cells": len(self)}
        if self.classes is not None:
            out.update({name: int(np.sum(self.classes == k)) for k, name in enumerate(self.class_names)})
        return out

    def to_frame(self, image: str = ""):
        """A DataFrame with columns image, x, y[, xmin, ymin, xmax, ymax], score[, class][, p_<class> ...]."""
        import pandas as pd

        df = pd.DataFrame({"image": image, "x": self.points[:, 0], "y": self.points[:, 1]})
        if self.boxes is not None:
            for k, col in enumerate(("xmin", "ymin", "xmax", "ymax")):
                df[col] = self.boxes[:, k]
        df["score"] = self.scores
        if self.classes is not None:
            df["class"] = [self.class_names[k] for k in self.classes]
        if self.class_probabilities is not None:
            names = self.class_names or tuple(f"class{k}" for k in range(self.class_probabilities.shape[1]))
            for k, name in enumerate(names):
                df[f"p_{name}"] = self.class_probabilities[:, k]
        return df

    def write_csv(self, path, image: str = "") -> None:
        """Points CSV (readable by ``common.io.read_points_csv``), written atomically."""
        from common.io import atomic_path

        with atomic_path(path) as tmp:
            self.to_frame(image).to_csv(tmp, index=False, float_format="%.6g")

    def write_geojson(self, path, id_prefix: str = "") -> None:
        """QuPath GeoJSON with classification, score and a unique id per cell: points, or rectangles
        (closed polygons) for box detections."""
        from common.io import write_geojson

        write_geojson(path, self.points, classes=self.classes, class_names=self.class_names, scores=self.scores,
                      id_prefix=id_prefix, boxes=self.boxes)


# ------------------------------------------------------------------------------------------------
# receptive field

_ELEMENTWISE = {"InputLayer", "Activation", "ReLU", "BatchNormalization", "Dropout", "SpatialDropout2D",
                "StopGradient", "LayerNormalization", "Identity", "Rescaling", "Normalization", "Cropping2D",
                "ZeroPadding2D", "PerImageStandardization"}
_MERGE = {"Concatenate", "Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract"}


def degenerate(points, scores, shape, expected: float | None = None) -> list[str]:
    """Signs that a model's detections on one image are not cells, as sentences (empty when none).

    Checked: no cells at all on an image of 128 x 128 px or more; 20 or more cells with one score
    (a flat map, or a head that learnt a constant); a regular grid (20 or more cells whose nearest-neighbour
    distances vary by under 5 %: a point model emitting its anchors, a map of tile seams); and, given
    ``expected`` (the count the training data's validation density predicts for this image), a count
    under a fifth or over five times it.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n, out = len(pts), []
    if n == 0:
        if shape[0] >= 128 and shape[1] >= 128:
            out.append("no cells found")
        return out
    if n >= 20:
        from scipy.spatial import cKDTree

        if np.ptp(scores) <= 1e-6 * max(1.0, float(np.abs(scores).max())):
            out.append(f"all {n} cells have the same score ({scores[0]:.4g})")
        d = cKDTree(pts).query(pts, k=2)[0][:, 1]
        if d.mean() > 0 and d.std() / d.mean() < 0.05:
            out.append(f"the {n} cells lie on a regular grid ({d.mean():.1f} px apart)")
    if expected is not None and expected >= 20 and not expected / 5 <= n <= expected * 5:
        out.append(f"{n} cells where the validation data's density predicts about {expected:.0f}")
    return out


def warn_degenerate(found, what: str = "") -> int:
    """Warns once for the images whose detections look degenerate (:func:`degenerate`).

    Args:
        found: ``(image name, Detections, image shape, expected count or None)`` per image.
        what: where the images come from, for the message (e.g. ``"the test split"``).

    Returns:
        The number of images flagged.
    """
    import warnings

    flagged = [(name, why) for name, det, shape, expected in found
               for why in [degenerate(det.points, det.scores, shape[:2], expected)] if why]
    if flagged:
        shown = "; ".join(f"{name}: {', '.join(why)}" for name, why in flagged[:3])
        more = f" (and {len(flagged) - 3} more)" if len(flagged) > 3 else ""
        warnings.warn(f"{len(flagged)} of {len(found)} image(s){' of ' + what if what else ''} look degenerate - "
                      f"{shown}{more}; look at an overlay (predict --overlay) before trusting these cells",
                      UserWarning, stacklevel=2)
    return len(flagged)


def val_density(folder) -> float | None:
    """Cells per megapixel of a run's validation split (``data.json``), or None when not recorded."""
    from common.io import read_run_data

    try:
        data = read_run_data(folder)
    except ValueError:   # a damaged data.json is reported where the run is loaded
        return None
    cells, mpx = data.get("val_cells"), data.get("val_megapixels")
    return float(cells) / mpx if isinstance(cells, (int, float)) and isinstance(mpx, (int, float)) and mpx > 0 \
        else None


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _layer_reach(layer, reach: float, jump: float) -> tuple[float, float]:
    """(reach, jump) after ``layer``; reach in input pixels, jump = input pixels per output pixel."""
    name = type(layer).__name__
    if hasattr(layer, "receptive_field_radius"):       # custom composite layers say theirs
        return reach + layer.receptive_field_radius * jump, jump
    if name == "FixedConv2D":
        return reach + (max(layer.kernel_value.shape[:2]) - 1) / 2 * jump, jump
    if name in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        k = max(_pair(layer.kernel_size))
        d = max(_pair(getattr(layer, "dilation_rate", 1)))
        s = max(_pair(getattr(layer, "strides", 1)))
        return reach + (k - 1) / 2 * d * jump, jump * s
    if name == "Conv2DTranspose":
        k, s = max(_pair(layer.kernel_size)), max(_pair(layer.strides))
        return reach + math.ceil((k - 1) / s) * jump, jump / s
    if name in ("AveragePooling2D", "MaxPooling2D"):
        p, s = max(_pair(layer.pool_size)), max(_pair(layer.strides or layer.pool_size))
        return reach + (p - 1) / 2 * jump, jump * s
    if name in ("UpSampling2D", "NearestUpsampling2D"):
        return reach + jump, jump / max(_pair(layer.size))
    if name == "Resizing":
        in_size = max(layer.input.shape[1:3]) if layer.input.shape[1] is not None else None
        scale = (in_size / layer.height) if in_size else 1.0
        return reach + 2 * max(scale, 1.0) * jump, jump * scale   # bicubic: 4 taps, scaled when shrinking
    if name in _ELEMENTWISE:
        return reach, jump
    raise ValueError(f"receptive_field does not know layer {layer.name!r} of type {name}; give the layer a "
                     "receptive_field_radius attribute (in its input pixels)")


def receptive_field(model) -> tuple[float, float]:
    """``(reach, jump)`` of a functional Keras model with one image input.

    ``reach`` is the largest distance in input pixels from an output pixel's centre to an input
    pixel that can change it; ``jump`` is the output stride. Walks the layer graph (each layer
    called once); merges take the largest reach. Tiles that keep ``ceil(reach)`` pixels of context
    around their core give the same map as one pass over the whole image (for networks without
    image-global operations).
    """
    state: dict = {}
    for layer in model.layers:
        ins = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        if type(layer).__name__ == "InputLayer":
            state[id(layer.output)] = (0.0, 1.0)
            continue
        try:
            prev = [state[id(t)] for t in ins]
        except KeyError as exc:
            raise ValueError(f"receptive_field: layer {layer.name!r} is not reached from the model input") from exc
        reach, jump = max(p[0] for p in prev), max(p[1] for p in prev)
        if type(layer).__name__ not in _MERGE:
            reach, jump = _layer_reach(layer, reach, jump)
        outs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for t in outs:
            state[id(t)] = (reach, jump)
    outs = model.outputs
    return max(state[id(t)][0] for t in outs), max(state[id(t)][1] for t in outs)


# ------------------------------------------------------------------------------------------------
# predictor


PRECISIONS = ("float32", "bfloat16")


def at_precision(model, precision: str = "float32"):
    """``model`` itself (``float32``) or an inference copy computing in bfloat16 (``bfloat16``: the
    ``mixed_bfloat16`` policy, float32 weights and outputs), rebuilt from its config with its weights.

    On CPUs with AMX or AVX512-BF16 (recent Xeons) the copy runs about 2.5 times faster; maps differ by
    about 1 % of their range. Elsewhere bfloat16 is emulated and slower: measure before using it.
    """
    precision = _checks.one_of(precision, PRECISIONS, "precision")
    if precision == "float32":
        return model
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        copy = type(model).from_config(model.get_config())
    finally:
        keras.config.set_dtype_policy(before)
    copy.set_weights(model.get_weights())
    return copy


def run_folder(path, paper: str | None = None) -> str:
    """The run folder of a path: the folder itself, the folder of a file inside one (``model.keras``),
    or a preset's folder when ``path`` names a preset (of ``paper``, checked against its sha256).

    Raises:
        FileNotFoundError: nothing at ``path`` and no preset of that name.
        ValueError: a preset of another paper, or a damaged one.
    """
    from common.presets import resolve

    return resolve(path, paper)[0]


def resolve_run(path, model_file: str = "model.keras") -> tuple[str, str]:
    """``(run folder, model file)`` of a run folder or a ``.keras`` file inside one."""
    path = os.fspath(path)
    if os.path.isdir(path):
        folder, file = path, os.path.join(path, model_file)
    else:
        folder, file = os.path.dirname(os.path.abspath(path)), path
    if not os.path.isfile(file):
        raise FileNotFoundError(f"no model at {file}: pass a run folder written by `train` or a .keras file")
    return folder, file


def load_keras(path, expected: tuple, paper: str):
    """Loads a ``.keras`` model file with clear errors: a missing, truncated or damaged file, or a
    model of another kind than ``expected`` (class names; e.g. another paper's run).

    Raises:
        FileNotFoundError, ValueError: naming the file and what to do.
    """
    import json
    import zipfile

    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model at {path}: pass a run folder written by `python -m {paper} train`")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable .keras file (truncated or damaged?); retrain the run")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("config.json"))
    except (KeyError, zipfile.BadZipFile, json.JSONDecodeError, OSError) as exc:
        raise ValueError(f"{path} is not a readable .keras file ({exc}); retrain the run") from exc
    name = meta.get("class_name", "?")
    if name not in expected:
        raise ValueError(f"{path} holds a {name} model, not a {paper} model ({', '.join(expected)}); was it "
                         f"trained by another paper's command? Use that paper's `python -m <paper>` with it")
    try:
        return keras.saving.load_model(path)
    except Exception as exc:   # Keras raises many kinds on a damaged archive
        raise ValueError(f"{path} could not be loaded ({type(exc).__name__}: {exc}); retrain the run") from exc


class Predictor:
    """A trained model with its post-processing: ``maps(image)`` and ``predict(image) -> Detections``.

    Every predictor takes the same arguments in the same order, ``(model, config, postprocess=None,
    class_names=None, folder=None)``, then its paper's own keyword-only options. Subclasses implement
    :meth:`forward` (a batch of tiles -> a batch of maps), :meth:`detect` (maps -> :class:`Detections`)
    and :meth:`calibrate`, and set ``tile_size``, ``reach`` and ``alignment``; a model that gives
    detections without maps (proposals, boxes) overrides :meth:`predict` instead.

    Attributes:
        tile_size: side of the square tiles large images are cut into.
        reach: the network's receptive-field radius in pixels (context each tile keeps).
        alignment: tile origins fall on multiples of this (the network's total pooling stride).
        max_margin: the largest margin that still leaves a useful core; a reach beyond it is capped
            (recorded in ``margin_note``).
        batch_size: tiles per forward pass.
    """

    tile_size: int = 512
    reach: float = 0.0
    alignment: int = 1
    batch_size: int = 4
    pad_mode: str = "reflect"
    fixed_input: bool = True    # False: fully convolutional, an image that fits one tile runs as it is

    methods: tuple = ()        # the location methods ``predict`` takes (the first is the default)

    def __init__(self, model, config=None, postprocess: dict | None = None, class_names=None,
                 folder: str | None = None):
        self.model = model
        self.config = config
        self.postprocess = dict(postprocess or {})
        self.class_names = tuple(class_names) if class_names is not None else None
        self.folder = folder

    # -- subclass hooks ---------------------------------------------------------------------
    def forward(self, tiles: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """(B, T, T, 3) uint8 tiles -> (B, T, T, K) float32 maps."""
        raise NotImplementedError

    def split_maps(self, stacked: np.ndarray) -> dict:
        """The stitched (H, W, K) array as named maps (default: ``{"map": stacked}``)."""
        return {"map": stacked}

    def detect(self, maps: dict, image: np.ndarray, method: str | None = None, **params) -> Detections:
        raise NotImplementedError  # pragma: no cover - abstract

    def calibrate(self, val, maps=None):  # pragma: no cover - abstract
        """Tunes the post-processing on annotated validation samples: a
        :class:`common.evaluation.Calibration` (``maps``: the validation maps, when already computed)."""
        raise NotImplementedError

    # -- tiling -----------------------------------------------------------------------------
    @property
    def max_margin(self) -> int:
        return (self.tile_size - self.tile_size // 2) // 2 // self.alignment * self.alignment

    @property
    def margin(self) -> int:
        """``ceil(reach)`` rounded up to ``alignment``, capped at :attr:`max_margin`."""
        m = int(math.ceil(self.reach / self.alignment)) * self.alignment
        return min(m, self.max_margin)

    @property
    def margin_note(self) -> str:
        m = int(math.ceil(self.reach))
        if m > self.max_margin:
            return (f"the network sees {m} px around each pixel, more than a {self.tile_size} px tile can keep; "
                    f"tiles keep {self.margin} px, so tiled maps differ slightly from one pass")
        return f"tiles keep {self.margin} px of context (receptive-field reach {self.reach:.1f} px)"

    def maps(self, image, progress: bool = False) -> dict:
        """The network's maps of one RGB uint8 image of any size (tiled and batched when large)."""
        from common.tiling import tiled_map

        image = _checks.as_rgb_image(image, "image")
        self.sync()
        h, w = image.shape[:2]
        mult = self.alignment
        padded = image
        if h % mult or w % mult:
            ph, pw = (-h) % mult, (-w) % mult
            mode = "reflect" if ph < h and pw < w else "symmetric"
            padded = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)
        if not self.fixed_input and max(padded.shape[:2]) <= self.tile_size:
            out = self.forward(padded[None])[0]
        else:
            out = tiled_map(padded, self.forward, self.tile_size, self.margin, pad_mode=self.pad_mode,
                            progress=progress, batch_size=self.batch_size)
        return self.split_maps(np.asarray(out[:h, :w], dtype=np.float32))

    def slide_window(self, tile: int | None = None) -> tuple[int, int]:
        """``(core, margin)`` of the tiles a whole slide is cut into at the model's resolution: cores of
        ``tile`` px (default 1024) and the context the network needs around them (its receptive-field
        reach plus room for the post-processing), both multiples of 32 so tile origins stay on every
        pooling grid."""
        core = 1024 if tile is None else int(tile)
        if core < 64:
            raise ValueError(f"a slide tile must be at least 64 px, got {core}")
        margin = int(math.ceil((self.reach + 16) / 32)) * 32
        return core // 32 * 32, margin

    def sync(self) -> None:
        """Brings any inference copy of the model up to date with the trained weights."""

    def predict(self, image, method: str | None = None, progress: bool = False, **params) -> Detections:
        """Cells in one RGB uint8 image, with the run's tuned post-processing unless overridden."""
        image = _checks.as_rgb_image(image, "image")
        self.check_method(method)
        _checks.finite_params(params)
        return self.detect(self.maps(image, progress=progress), image, method, **params)

    def check_method(self, method) -> None:
        """Refuses a location method this predictor does not have."""
        if method is not None and self.methods and method not in self.methods:
            raise ValueError(f"this model locates cells by {list(self.methods)}, not {method!r}")

    def history(self) -> list:
        """The training history of the run folder (empty without one)."""
        from common.training import RunDir

        if not self.folder or not os.path.isdir(self.folder):
            return []
        return RunDir(self.folder, create=False).history()

    def tuned(self, method: str | None = None) -> tuple[str, dict]:
        """``(method, params)`` from ``postprocess.json``: the default method unless one is named."""
        pp = self.postprocess
        method = method or pp.get("method")
        params = pp.get("params", {}).get(method) if method else None
        if params is None:
            have = sorted(pp.get("params", {}))
            raise ValueError(f"no tuned parameters for method {method!r} (the run has {have or 'none'}): "
                             "pass them explicitly or calibrate the run first")
        where = os.path.join(self.folder, "postprocess.json") if self.folder else "postprocess.json"
        for key in ("threshold", "min_distance"):
            v = params.get(key)
            if key in params and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise ValueError(f"{where}: the {method} {key} is {v!r}, not a finite number; retrain (recalibrate) "
                                 "the run or pass --threshold")
        return method, dict(params)


def score_at(lmap: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map values at the pixels of ``points`` (the detection scores)."""
    m = np.asarray(lmap)
    if not len(points):
        return np.zeros(0)
    r = np.clip(np.rint(points[:, 1]).astype(int), 0, m.shape[0] - 1)
    c = np.clip(np.rint(points[:, 0]).astype(int), 0, m.shape[1] - 1)
    return m[r, c]
