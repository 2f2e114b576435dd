"""One record type (:class:`Sample`) and loaders for every dataset the library knows.

``load(name_or_path, split)`` accepts:

* ``"synthetic:<kind>"`` - the embedded synthetic data (:mod:`common.synthetic`), kinds ``mihc``,
  ``mihc6``, ``he``, ``pdl1``, ``blood``; splits are generated from fixed seeds
  (train = seed, val = seed + 1000, test = seed + 2000).
* ``"crchisto"`` - CRCHistoPhenotypes (100 H&E 500x500 images). Points are the 29,756 detection
  dots; a dot gets a class when a classified dot lies within 3 px (one-to-one matching), otherwise
  class -1 (unclassified, 7,312 dots). Split: the sfcn-opi 70/10/20 image lists.
* ``"bccd"`` - BCCD blood smears (364 640x480 images); boxes from VOC XML (zero-area boxes dropped),
  points are box centres. Split: the dataset's ImageSets/Main lists.
* ``"deepliif"`` - the DeepLIIF Ki67 IHC sample (6 tiles of 512x512: 4 test tiles and the IHC panel of
  2 six-panel training tiles). Points are the centres of the positive / negative nucleus components
  of the reference masks (``points_from_masks.csv``; components under 10 px dropped). Fixed split:
  train Bladder1, Lung1, 22_2; val 34_3; test 6_2, 799_2. A smoke-level real IHC set (594 nuclei).
* a folder path holding ``images/`` (PNG/JPEG/TIFF) and its points: ``points.csv`` (``image,x,y[,class]``),
  a QuPath measurement export saved as ``points.tsv`` (or ``.csv``; ``Image``, ``Class``, ``Centroid X px``,
  ``Centroid Y px``), or ``geojson/<image>.geojson`` (QuPath's object export, one file per image); a blank
  class is an unclassified cell (class -1); optionally ``splits/{train,val,test}.txt``; without split
  files a fixed, seeded 70/15/15 split of the sorted image names is made and stated in the returned
  list's ``description``.

Real data are read from ``data_root`` (default: ``$CELLREPRO_DATA``, else ``../shared/data`` beside
the repository or the working directory); they are never copied into the project.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from common import _checks
from common.io import point_annotations, read_crchisto_mat, read_folder_points, read_image, read_voc_xml
from common.labels import encode_classes

__all__ = ["SPLITS", "Sample", "SampleList", "align_classes", "check_data_name", "check_min_size", "class_counts",
           "default_data_root", "is_classified", "load", "load_split", "load_splits", "parse_synthetic",
           "require_cells", "seeded_split"]

SPLITS = ("train", "val", "test", "trainval", "all")
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class Sample:
    """One annotated image.

    Attributes:
        image: RGB uint8 array (H, W, 3).
        points: (N, 2) float32 cell centres, (x, y) = (column, row), 0-based pixels.
        classes: (N,) int64 class indices into ``class_names``; -1 = unclassified.
        class_names: names of the classes.
        boxes: optional (N, 4) float boxes (xmin, ymin, xmax, ymax), one per point.
        mpp: optional microns per pixel.
        name: image identifier.
    """

    image: np.ndarray
    points: np.ndarray
    classes: np.ndarray
    class_names: tuple
    boxes: np.ndarray | None = None
    mpp: float | None = None
    name: str = ""

    def __post_init__(self):
        self.image = _checks.as_rgb_image(self.image, f"Sample {self.name!r} image")
        self.points = _checks.as_points(self.points, self.image.shape,
                                        f"Sample {self.name!r} points").astype(np.float32)
        self.class_names = tuple(str(c) for c in self.class_names)
        self.classes = _checks.as_classes(self.classes, len(self.points), len(self.class_names),
                                          f"Sample {self.name!r} classes", allow_unlabelled=True)
        if self.boxes is not None:
            b = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
            if len(b) != len(self.points):
                raise ValueError(f"Sample {self.name!r}: {len(b)} boxes for {len(self.points)} points")
            self.boxes = b

    @property
    def shape(self) -> tuple:
        return self.image.shape[:2]


class SampleList(list):
    """A list of samples that also says where they came from (``description``) and whether its
    points carry classes (``classified``; False for a folder whose points.csv has no class column)."""

    def __init__(self, samples=(), description: str = "", classified: bool = True):
        super().__init__(samples)
        self.description = description
        self.classified = classified

    @property
    def class_names(self) -> tuple:
        return self[0].class_names if self else ()


def is_classified(samples) -> bool:
    """Whether the samples carry cell classes: the list does not say otherwise and some cell has a class."""
    return getattr(samples, "classified", True) is not False and any(bool(np.any(s.classes >= 0)) for s in samples)


def align_classes(samples, names, what: str = "the model"):
    """The samples with their classes re-indexed into ``names``, matched by name (never by position).

    Raises:
        ValueError: the samples have cells of a class ``names`` does not hold (naming them and ``what``).
    """
    names = tuple(str(n) for n in names)
    if not len(samples):
        return samples
    data = tuple(samples[0].class_names)
    if data == names:
        return samples
    used = sorted({data[k] for s in samples for k in np.unique(s.classes[s.classes >= 0])})
    unknown = [n for n in used if n not in names]
    if unknown:
        raise ValueError(f"the data has cells of class(es) {unknown} that {what} does not know (its classes: "
                         f"{list(names)}); evaluate it on data of those classes, or fine-tune it on yours")
    index = np.array([names.index(n) if n in names else -1 for n in data] + [-1], np.int64)
    out = SampleList([dataclasses.replace(s, classes=index[s.classes], class_names=names) for s in samples],
                     getattr(samples, "description", ""), getattr(samples, "classified", True))
    return out


def check_min_size(samples, size: int, what: str, network: str, hint: str) -> None:
    """Refuses images smaller than a network input before any training, naming the first one.

    Args:
        samples: the samples of one split.
        size: the smallest side accepted.
        what: the split's name for the message (``"training"``).
        network: what the size is, for the message (``"the 256x256 network input"``).
        hint: the fix to suggest.
    """
    small = [s.name for s in samples if min(s.shape) < size]
    if small:
        raise ValueError(f"{len(small)} {what} image(s) are smaller than {network} (e.g. {small[0]!r}); {hint}")


def require_cells(samples, what: str = "training", why: str = ""):
    """``samples`` unless the split is empty or has no annotated cell at all (a clear error naming the
    split; ``why`` says what needs them)."""
    if samples is None or len(samples) == 0:
        raise ValueError(f"the {what} split is empty")
    if not any(len(s.points) for s in samples):
        raise ValueError(f"the {what} split has no annotated cells (empty annotations)" + (f": {why}" if why else ""))
    return samples


def class_counts(samples: Sequence[Sample]) -> np.ndarray:
    """Number of annotated cells of each class over ``samples`` (unclassified cells excluded)."""
    if not samples:
        raise ValueError("samples is empty")
    n = len(samples[0].class_names)
    total = np.zeros(n, dtype=np.int64)
    for s in samples:
        c = s.classes[s.classes >= 0]
        total += np.bincount(c, minlength=n)
    return total


def default_data_root() -> str:
    """``$CELLREPRO_DATA``, else the first existing ``../shared/data`` (repository, then cwd)."""
    env = os.environ.get("CELLREPRO_DATA")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for cand in (os.path.join(repo, "..", "shared", "data"), os.path.join(os.getcwd(), "..", "shared", "data"),
                 os.path.join(os.getcwd(), "shared", "data")):
        if os.path.isdir(cand):
            return os.path.normpath(cand)
    return os.path.normpath(os.path.join(repo, "..", "shared", "data"))


def seeded_split(names: Sequence[str], seed: int = 0, fractions=(0.7, 0.15, 0.15)) -> dict:
    """A fixed split of sorted ``names`` into train / val / test by a seeded permutation."""
    names = sorted(names)
    order = np.random.default_rng(seed).permutation(len(names))
    n = len(names)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    if n >= 3:
        n_train = min(max(n_train, 1), n - 2)
        n_val = min(max(n_val, 1), n - n_train - 1)
    parts = np.split(order, [n_train, n_train + n_val])
    return {k: sorted(names[i] for i in p) for k, p in zip(("train", "val", "test"), parts)}


def _select(split: str, lists: dict) -> list:
    if split == "all":
        out = []
        for k in ("train", "val", "test"):
            out += lists.get(k, [])
        return out
    if split == "trainval":
        return lists.get("train", []) + lists.get("val", [])
    return lists[split]


def _read_list(path) -> list:
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


def load(name_or_path, split: str = "train", data_root=None, **options) -> SampleList:
    """Loads a dataset split as a :class:`SampleList` of :class:`Sample`.

    Args:
        name_or_path: ``"synthetic:<kind>"``, ``"crchisto"``, ``"bccd"``, ``"deepliif"`` or a folder path.
        split: ``train``, ``val``, ``test``, ``trainval`` or ``all``.
        data_root: folder holding ``crchistophenotypes/`` and ``bccd/``.
        **options: for synthetic data ``n_images`` (per split; default 24/8/8), ``size`` (256) and
            ``seed`` (0); for folders ``class_names`` (fixes the class order; unknown names in the
            CSV then raise) and ``seed`` (for the split when no split files exist).
    """
    _checks.one_of(split, SPLITS, "split")
    name = os.fspath(name_or_path)
    if name == "synthetic" or name.startswith("synthetic:"):
        kind, opts = parse_synthetic(name)
        return _load_synthetic(kind or options.pop("kind", ""), split, **{**options, **opts})
    if name == "crchisto":
        return _load_crchisto(split, data_root or default_data_root())
    if name == "bccd":
        return _load_bccd(split, data_root or default_data_root())
    if name == "deepliif":
        return _load_deepliif(split, data_root or default_data_root())
    if os.path.isdir(name):
        return _load_folder(name, split, **options)
    raise FileNotFoundError(
        f"unknown dataset {name!r}: expected 'synthetic:<kind>', 'crchisto', 'bccd', 'deepliif' or an existing folder"
    )


_SYNTHETIC_OPTIONS = "faint_factor=<number>, boxes=1|0, images=<count per split>, size=<px>"


def parse_synthetic(name: str) -> tuple[str, dict]:
    """``"synthetic:mihc:faint_factor=1"`` -> ``("mihc", {"faint_factor": 1.0})``.

    Options after the kind are ``key=value`` pairs separated by ``:`` or ``,``: ``faint_factor`` (a
    number), ``boxes`` (1 / 0: give every cell its bounding box; ``blood`` has them by default), and
    ``images`` / ``size`` (images per split and their side, replacing a paper's synthetic sizes).
    """
    parts = name.split(":")
    kind = parts[1] if len(parts) > 1 else ""
    opts = {}
    for item in ",".join(parts[2:]).split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if key not in ("faint_factor", "boxes", "images", "size") or not sep:
            raise ValueError(f"unknown synthetic data option {item!r} in {name!r}; known: {_SYNTHETIC_OPTIONS}")
        if key == "boxes":
            if value not in ("0", "1", "true", "false"):
                raise ValueError(f"boxes must be 1 or 0, got {value!r} in {name!r}")
            opts["boxes"] = value in ("1", "true")
        elif key in ("images", "size"):
            if not value.isdigit() or int(value) < (1 if key == "images" else 16):
                raise ValueError(f"{key} must be a whole number >= {1 if key == 'images' else 16}, got {value!r} "
                                 f"in {name!r}")
            opts["n_images" if key == "images" else "size"] = int(value)
        else:
            try:
                opts["faint_factor"] = float(value)
            except ValueError as exc:
                raise ValueError(f"faint_factor must be a number, got {value!r} in {name!r}") from exc
            if not np.isfinite(opts["faint_factor"]) or opts["faint_factor"] < 0:
                raise ValueError(f"faint_factor must be a finite number >= 0, got {value!r} in {name!r}")
    return kind, opts


_NAMED = {"crchisto": ("crchistophenotypes", "CRCHistoPhenotypes"), "bccd": ("bccd", "BCCD"),
          "deepliif": ("deepliif_ki67_sample", "the DeepLIIF Ki67 sample")}


def check_data_name(name, data_root=None) -> str:
    """A quick check of a data name or folder before anything is loaded: a known synthetic kind with
    valid options, a named set present under ``data_root``, or a folder with ``images/`` and one
    point annotation file or folder (:func:`common.io.point_annotations`). Returns the name; raises
    ``ValueError`` / ``FileNotFoundError`` in one line."""
    name = os.fspath(name) if name is not None else ""
    if not name:
        raise ValueError("data must be a dataset name or folder, got ''")
    if name == "synthetic" or name.startswith("synthetic:"):
        from common.synthetic import KINDS, OBJECT_KINDS

        kind, _ = parse_synthetic(name)
        if kind not in KINDS and kind not in OBJECT_KINDS:
            raise ValueError(f"synthetic kind must be one of {sorted(KINDS) + list(OBJECT_KINDS)} "
                             f"(as 'synthetic:<kind>'), got {kind!r}")
        return name
    if name in _NAMED:
        sub, what = _NAMED[name]
        _require_dir(os.path.join(data_root or default_data_root(), sub), what)
        return name
    if os.path.isdir(name):
        _require_dir(os.path.join(name, "images"), f"images/ folder of {name}")
        point_annotations(name)
        return name
    if os.path.exists(name):
        raise ValueError(f"--data {name} is a file: give a folder holding images/ and points.csv (or points.tsv, "
                         "geojson/), or a data set name")
    raise FileNotFoundError(f"unknown dataset {name!r}: expected 'synthetic[:<kind>]', 'crchisto', 'bccd', "
                            "'deepliif' or an existing folder with images/ and points.csv")


def load_splits(name, seed: int = 0, data_root=None, synthetic_sizes: dict | None = None) -> tuple:
    """``(train, val, test)`` of a dataset name or folder.

    Args:
        name: as :func:`load` takes it.
        seed: synthetic data seed (and a folder's split seed when it has no split files).
        data_root: root of the shared data.
        synthetic_sizes: ``{split: (n_images, size)}`` for synthetic data (a paper's sizes).
    """
    return tuple(load_split(name, s, seed, data_root, synthetic_sizes) for s in ("train", "val", "test"))


def load_split(name, split: str, seed: int = 0, data_root=None, synthetic_sizes: dict | None = None):
    """One split of a dataset name or folder, synthetic data at ``synthetic_sizes[split]`` (see
    :func:`load_splits`)."""
    name = os.fspath(name)
    if not name:
        raise ValueError("data must be a dataset name or folder, got ''")
    if name == "synthetic" or name.startswith("synthetic:"):
        sizes = synthetic_sizes or {"train": (24, 256), "val": (8, 256), "test": (8, 256)}
        if split not in sizes:
            raise ValueError(f"split must be one of {list(sizes)}, got {split!r}")
        n, size = sizes[split]
        _, opts = parse_synthetic(name)   # images= / size= in the name replace the paper's sizes
        return load(name, split=split, seed=seed, **{"n_images": n, "size": size, **opts})
    return load(name, split=split, data_root=data_root, **({"seed": seed} if os.path.isdir(name) else {}))


def _load_synthetic(kind, split, n_images=None, size=256, seed=0, faint_factor=None, boxes=None):
    from common.synthetic import KINDS, OBJECT_KINDS, make_dataset

    if kind not in KINDS and kind not in OBJECT_KINDS:
        raise ValueError(f"synthetic kind must be one of {sorted(KINDS) + list(OBJECT_KINDS)} (as 'synthetic:<kind>'), "
                         f"got {kind!r}")
    defaults = {"train": 24, "val": 8, "test": 8}
    parts = {"train": ["train"], "val": ["val"], "test": ["test"], "trainval": ["train", "val"],
             "all": ["train", "val", "test"]}[split]
    out = SampleList()
    offset = {"train": 0, "val": 1000, "test": 2000}
    for p in parts:
        n = n_images if n_images is not None else defaults[p]
        out.extend(make_dataset(kind, n, size, seed + offset[p], faint_factor=faint_factor, boxes=boxes))
    out.description = (f"synthetic:{kind}, split {split} ({len(out)} images of {size} px; "
                       f"seeds train={seed}, val={seed + 1000}, test={seed + 2000}"
                       + (f"; faint class drawn at {faint_factor:g}" if faint_factor is not None else "")
                       + ("; with boxes" if boxes else "") + ")")
    return out


def _require_dir(path, what):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found at {path}; set data_root= or $CELLREPRO_DATA to the folder "
                                "that holds it (e.g. ../shared/data)")


def _load_crchisto(split, root):
    from common.matching import match_points

    base = os.path.join(root, "crchistophenotypes")
    _require_dir(base, "CRCHistoPhenotypes")
    lists = {k: _read_list(os.path.join(base, "splits", f"sfcn_opi_{f}.txt"))
             for k, f in (("train", "train"), ("val", "validation"), ("test", "test"))}
    class_names = ("epithelial", "inflammatory", "fibroblast", "miscellaneous")
    files = {"epithelial": "epithelial", "inflammatory": "inflammatory", "fibroblast": "fibroblast",
             "miscellaneous": "others"}
    out = SampleList()
    for img_name in _select(split, lists):
        ann = os.path.join(base, "annotations", img_name)
        image = read_image(os.path.join(base, "images", f"{img_name}.png"))
        h, w = image.shape[:2]
        det = np.clip(read_crchisto_mat(os.path.join(ann, f"{img_name}_detection.mat")), 0, [w - 1, h - 1])
        classes = np.full(len(det), -1, dtype=np.int64)
        for k, cname in enumerate(class_names):
            cp = np.clip(read_crchisto_mat(os.path.join(ann, f"{img_name}_{files[cname]}.mat")), 0, [w - 1, h - 1])
            if len(cp) == 0:
                continue
            free = np.flatnonzero(classes < 0)
            r = match_points(det[free], cp, radius=3.0)
            classes[free[r.pairs[:, 0]]] = k
        out.append(Sample(image, det, classes, class_names, mpp=0.5, name=img_name))
    out.description = (f"crchisto (CRCHistoPhenotypes), split {split} = sfcn-opi list ({len(out)} images); "
                       "unclassified dots have class -1")
    return out


def _load_bccd(split, root):
    base = os.path.join(root, "bccd")
    _require_dir(base, "BCCD")
    lists = {k: _read_list(os.path.join(base, "ImageSets", "Main", f"{k}.txt")) for k in ("train", "val", "test")}
    class_names = ("RBC", "WBC", "Platelets")
    out = SampleList()
    for img_id in _select(split, lists):
        voc = read_voc_xml(os.path.join(base, "Annotations", f"{img_id}.xml"))
        image = read_image(os.path.join(base, "JPEGImages", f"{img_id}.jpg"))
        h, w = image.shape[:2]
        boxes = np.clip(voc.boxes, 0, [w - 1, h - 1, w - 1, h - 1])
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1) if len(boxes) \
            else np.zeros((0, 2))
        classes = encode_classes(voc.labels, class_names)
        out.append(Sample(image, centres, classes, class_names, boxes=boxes, name=img_id))
    out.description = f"bccd, split {split} = ImageSets/Main ({len(out)} images); points are box centres"
    return out


DEEPLIIF_SPLITS = {"train": ["Bladder1", "Lung1", "22_2"], "val": ["34_3"], "test": ["6_2", "799_2"]}


def _load_deepliif(split, root, min_area: int = 10):
    import pandas as pd

    base = os.path.join(root, "deepliif_ki67_sample")
    _require_dir(base, "the DeepLIIF Ki67 sample")
    df = pd.read_csv(os.path.join(base, "points_from_masks.csv"))
    df = df[df["area_px"] >= min_area]
    class_names = ("positive", "negative")
    out = SampleList()
    for tile in _select(split, DEEPLIIF_SPLITS):
        rows = df[df["tile"] == tile]
        if rows.empty:
            raise ValueError(f"{base}: points_from_masks.csv has no row for tile {tile!r}")
        image = read_image(os.path.join(base, rows["image_file"].iloc[0]))[:512, :512]   # six-panel: IHC panel
        points = rows[["x_0based", "y_0based"]].to_numpy(np.float32)
        out.append(Sample(image, points, encode_classes(list(rows["class"]), class_names), class_names, name=tile))
    out.description = (f"deepliif (DeepLIIF Ki67 IHC sample), split {split} ({len(out)} tiles of 512 px); points are "
                       f"mask-component centres (>= {min_area} px); reference masks, not manual dots")
    return out


def _check_disjoint(lists: dict, where: str) -> None:
    """Refuses split lists that share images (train/test leakage), naming them."""
    keys = list(lists)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            both = sorted(set(lists[a]) & set(lists[b]))
            if both:
                raise ValueError(f"{where}: {len(both)} image(s) are in both {a}.txt and {b}.txt "
                                 f"({', '.join(both[:5])}); splits must be disjoint")
        dup = sorted({n for n in lists[a] if lists[a].count(n) > 1})
        if dup:
            raise ValueError(f"{where}: {a}.txt lists image(s) twice ({', '.join(dup[:5])})")


def _drop_duplicate_rows(df, csv, min_distance: float = 1.0):
    """Exact duplicate annotation rows are dropped with a warning (they would count as missed cells);
    distinct points of one image closer than ``min_distance`` px are reported."""
    import warnings

    dup = df.duplicated()
    if dup.any():
        warnings.warn(f"{csv}: dropped {int(dup.sum())} exact duplicate annotation row(s) "
                      f"(e.g. {df[dup].iloc[0].to_dict()})", UserWarning, stacklevel=3)
        df = df[~dup].reset_index(drop=True)
    from scipy.spatial import cKDTree

    close = 0
    for _, g in df.groupby("image"):
        if len(g) > 1:
            close += len(cKDTree(g[["x", "y"]].to_numpy()).query_pairs(min_distance))
    if close:
        warnings.warn(f"{csv}: {close} pair(s) of annotations of one image are closer than {min_distance:g} px "
                      "(double clicks?); they are kept", UserWarning, stacklevel=3)
    return df


def _clip_border(points, shape, csv, image):
    """Points up to half a pixel beyond the image's pixel footprint (an annotation tool's edge, e.g. y = 255.93
    in a 256 px image) clipped onto the border pixels, with a warning; points further out are left for
    :class:`Sample` to refuse."""
    import warnings

    h, w = shape[:2]
    p = np.asarray(points, np.float64)
    if not len(p):
        return p
    lo, hi = np.array([-1.0, -1.0]), np.array([w, h], np.float64)
    near = ((p >= lo) & (p < hi)).all(axis=1) & ((p < -0.5) | (p >= hi - 0.5)).any(axis=1)
    if near.any():
        warnings.warn(f"{csv}: {int(near.sum())} point(s) of {image} lie within half a pixel beyond the image "
                      f"border; clipped onto the border", UserWarning, stacklevel=3)
        p = p.copy()
        p[near] = np.clip(p[near], 0, [w - 1, h - 1])
    return p


def _load_folder(folder, split, class_names=None, seed=0):
    img_dir = os.path.join(folder, "images")
    _require_dir(img_dir, f"images/ folder of {folder}")
    df, csv = read_folder_points(folder)
    files, by_stem = {}, {}
    for f in sorted(os.listdir(img_dir)):
        stem, ext = os.path.splitext(f)
        if ext.lower() in _IMAGE_EXT:
            by_stem.setdefault(stem, []).append(f)
            files[stem] = os.path.join(img_dir, f)
            files[f] = files[stem]
    clash = {stem: fs for stem, fs in by_stem.items() if len(fs) > 1}
    if clash:
        stem, fs = next(iter(clash.items()))
        raise ValueError(f"{img_dir}: {len(clash)} image name(s) differ only in the extension (e.g. {', '.join(fs)}); "
                         "points and splits name images by their stem, so rename or remove one of each")
    names = sorted(by_stem)
    if not names:
        raise FileNotFoundError(f"{img_dir}: no PNG/JPEG/TIFF images")
    df = _drop_duplicate_rows(df, csv)
    unknown = sorted(set(df["image"]) - set(files))
    if unknown:
        raise ValueError(f"{csv}: points refer to image(s) not in images/: {unknown[:5]}")
    classified = "class" in df.columns and bool((df["class"] != "").any())
    if classified:
        found = sorted(set(df["class"]) - {""})
        if class_names is None:
            class_names = tuple(found)
        labelled = df["class"] != ""
        df["cls"] = -1
        df.loc[labelled, "cls"] = encode_classes(df.loc[labelled, "class"].tolist(), class_names)
        df["cls"] = df["cls"].astype(np.int64)
    elif "class" in df.columns:   # a class column of unclassified cells only: detection data
        class_names = tuple(class_names) if class_names else ("cell",)
        df["cls"] = -1
    else:
        class_names = tuple(class_names) if class_names else ("cell",)
        df["cls"] = 0
    df["stem"] = [os.path.splitext(i)[0] if i not in names else i for i in df["image"]]
    split_dir = os.path.join(folder, "splits")
    split_files = {k: os.path.join(split_dir, f"{k}.txt") for k in ("train", "val", "test")}
    if any(os.path.isfile(p) for p in split_files.values()):
        lists = {k: [os.path.splitext(n)[0] if n not in names else n for n in _read_list(p)]
                 for k, p in split_files.items() if os.path.isfile(p)}
        missing = sorted({n for v in lists.values() for n in v} - set(names))
        if missing:
            raise ValueError(f"{split_dir}: split lists name image(s) not in images/: {missing[:5]}")
        _check_disjoint(lists, split_dir)
        if split not in ("all", "trainval") and split not in lists:
            raise ValueError(f"{split_dir}: no {split}.txt")
        how = "split files in splits/"
    else:
        lists = seeded_split(names, seed)
        how = f"no split files: fixed seeded 70/15/15 split of sorted image names (seed {seed})"
    groups = dict(tuple(df.groupby("stem")))
    out = SampleList()
    for n in _select(split, lists):
        image = read_image(files[n])
        g = groups.get(n)
        pts = g[["x", "y"]].to_numpy() if g is not None else np.zeros((0, 2))
        cls = g["cls"].to_numpy() if g is not None else np.zeros(0, dtype=np.int64)
        out.append(Sample(image, _clip_border(pts, image.shape, csv, n), cls, class_names, name=n))
    unclassified = int((df["cls"] < 0).sum())
    out.description = (f"folder {folder}, split {split} ({len(out)} images; {how}"
                        + (f"; {unclassified} unclassified cells (class -1)" if classified and unclassified else "")
                        + ")")
    out.classified = classified
    return out
