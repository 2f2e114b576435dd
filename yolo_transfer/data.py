"""YOLO data: box data sets (VOC folders, the Ultralytics layout), anchors, augmentation, targets, batches.

* Data: ``"bccd"`` and the synthetic kinds come from :func:`common.datasets.load`; a user's folder is
  read by its layout - a VOC folder (``Annotations/*.xml``, ``JPEGImages/``,
  ``ImageSets/Main/{train,val,test}.txt``) or the Ultralytics layout (``data.yaml`` naming the classes,
  ``images/{train,val,test}/``, ``labels/{train,val,test}/<image>.txt`` with one normalised
  ``class cx cy w h`` line per box). Every box is checked: zero area, outside the image and unknown
  class ids are errors naming the file and line.
* Anchors: the COCO anchors or a 1 - IoU k-means of the training boxes (keras-yolo3 ``kmeans.py``).
* Augmentation (keras-yolo3 ``get_random_data``): aspect-ratio jitter, scale jitter, random placement
  on a grey canvas, horizontal flip and HSV jitter; without augmentation, a letterbox resize.
* Targets: each ground truth goes to the anchor (of all scales) with the best width/height IoU, at
  the cell holding its centre; no cap of 20 boxes per image (``max_boxes`` is an error bound).

Batches are made in NumPy (OpenCV for resizing and colour), so the same stream feeds Keras under the
TensorFlow backend (as a ``tf.data`` pipeline: :func:`as_dataset`) and under JAX.
"""

from __future__ import annotations

import os

import numpy as np

from common.datasets import Sample, SampleList

__all__ = ["augment", "as_dataset", "encode_targets", "kmeans_anchors", "letterbox", "load_data", "load_voc_folder",
           "load_yolo_folder", "network_boxes", "train_stream", "validation_arrays"]

_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


# ------------------------------------------------------------------------------------------------
# data sets


def check_boxes(samples, what: str = "training", max_boxes: int | None = None) -> SampleList:
    """Refuses an empty split, images without boxes, boxes without a class, or (with ``max_boxes``) an
    image with more boxes than the targets hold, naming the image and the setting."""
    if samples is None or not len(samples):
        raise ValueError(f"the {what} split is empty")
    names = samples[0].class_names
    for s in samples:
        if s.boxes is None:
            raise ValueError(f"image {s.name!r} of the {what} split has no boxes: YOLO trains on box annotations "
                             "(VOC XML, Ultralytics labels, 'bccd' or 'synthetic:<kind>:boxes=1')")
        if len(s.classes) and np.min(s.classes) < 0:
            raise ValueError(f"image {s.name!r} of the {what} split has boxes without a class")
        if s.class_names != names:
            raise ValueError(f"the {what} split's images name different classes; load them as one data set")
    if not any(len(s.boxes) for s in samples):
        raise ValueError(f"the {what} split has no boxes at all")
    if max_boxes is not None:
        most = max(samples, key=lambda s: len(s.boxes))
        if len(most.boxes) > max_boxes:
            raise ValueError(f"image {most.name!r} of the {what} split has {len(most.boxes)} boxes, more than "
                             f"max_boxes {max_boxes}: pass --set max_boxes={len(most.boxes)}")
    return samples if isinstance(samples, SampleList) else SampleList(samples)


def load_voc_folder(folder, split: str = "train", class_names=None) -> SampleList:
    """A VOC folder: ``Annotations/<id>.xml``, ``JPEGImages/<id>.jpg|png``, ``ImageSets/Main/<split>.txt``.

    Args:
        class_names: the class order (default: every name in the folder's annotations, sorted).

    Raises:
        FileNotFoundError, ValueError: a missing list, image or annotation; a box of zero area or outside
            its image; a class not in ``class_names``.
    """
    from common.io import read_image, read_voc_xml

    folder = os.fspath(folder)
    lst = os.path.join(folder, "ImageSets", "Main", f"{split}.txt")
    if not os.path.isfile(lst):
        raise FileNotFoundError(f"{folder}: no split list {lst} (a VOC folder has ImageSets/Main/<split>.txt)")
    with open(lst, encoding="utf-8") as f:
        ids = [line.split()[0] for line in f if line.strip()]
    # zero-area boxes are errors here (the built-in "bccd" loader drops BCCD's two known ones)
    annots = {i: read_voc_xml(os.path.join(folder, "Annotations", f"{i}.xml"), drop_degenerate=False) for i in ids}
    if class_names is None:
        all_ids = set()
        for name in os.listdir(os.path.join(folder, "Annotations")):
            if name.endswith(".xml"):
                all_ids.add(name[:-4])
        names = set()
        for i in sorted(all_ids):
            names.update(annots[i].labels if i in annots else
                         read_voc_xml(os.path.join(folder, "Annotations", f"{i}.xml"), drop_degenerate=False).labels)
        class_names = tuple(sorted(names))
    class_names = tuple(class_names)
    out = SampleList(description=f"VOC folder {folder}, split {split} ({len(ids)} images)")
    for i in ids:
        img_path = next((os.path.join(folder, "JPEGImages", i + e) for e in _IMAGE_EXT
                         if os.path.isfile(os.path.join(folder, "JPEGImages", i + e))), None)
        if img_path is None:
            raise FileNotFoundError(f"{folder}: no image JPEGImages/{i}.* for annotation {i}.xml")
        image = read_image(img_path)
        voc = annots[i]
        unknown = sorted(set(voc.labels) - set(class_names))
        if unknown:
            raise ValueError(f"{i}.xml: unknown class(es) {unknown}; the classes are {list(class_names)}")
        out.append(_sample(image, voc.boxes, [class_names.index(n) for n in voc.labels], class_names, i,
                           f"{i}.xml"))
    return out


def _read_yaml_names(path) -> tuple:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            meta = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    names = (meta or {}).get("names") if isinstance(meta, dict) else None
    if isinstance(names, dict):
        keys = sorted(int(k) for k in names)
        if keys != list(range(len(keys))):
            raise ValueError(f"{path}: 'names' must number the classes 0..{len(keys) - 1}, got {keys}")
        names = [names[k] if k in names else names[str(k)] for k in keys]
    if not isinstance(names, list) or not names:
        raise ValueError(f"{path}: needs 'names', a list or {{id: name}} mapping of the classes")
    if "nc" in meta and int(meta["nc"]) != len(names):
        raise ValueError(f"{path}: nc is {meta['nc']} but {len(names)} names are given")
    return tuple(str(n) for n in names)


def load_yolo_folder(folder, split: str = "train") -> SampleList:
    """The Ultralytics layout: ``data.yaml`` (``names``), ``images/<split>/``, ``labels/<split>/<stem>.txt``
    of ``class cx cy w h`` lines normalised to the image (an image without a label file has no boxes).

    Raises:
        FileNotFoundError, ValueError: naming the file and line of a bad box.
    """
    from common.io import read_image

    folder = os.fspath(folder)
    names = _read_yaml_names(os.path.join(folder, "data.yaml"))
    img_dir = os.path.join(folder, "images", split)
    if not os.path.isdir(img_dir):
        raise FileNotFoundError(f"{folder}: no images/{split}/ folder (Ultralytics layout)")
    files = sorted(f for f in os.listdir(img_dir) if f.lower().endswith(_IMAGE_EXT))
    lab_dir = os.path.join(folder, "labels", split)
    stems = {os.path.splitext(f)[0] for f in files}
    orphans = sorted(f for f in (os.listdir(lab_dir) if os.path.isdir(lab_dir) else ())
                     if f.endswith(".txt") and os.path.splitext(f)[0] not in stems)
    if orphans:
        raise ValueError(f"{lab_dir}: {len(orphans)} label file(s) name no image of images/{split}/ (e.g. "
                         f"{orphans[0]}); each labels/{split}/<stem>.txt belongs to images/{split}/<stem>.<ext>: "
                         "rename or remove them")
    out = SampleList(description=f"Ultralytics folder {folder}, split {split} ({len(files)} images)")
    for name in files:
        image = read_image(os.path.join(img_dir, name))
        h, w = image.shape[:2]
        stem = os.path.splitext(name)[0]
        lab = os.path.join(folder, "labels", split, stem + ".txt")
        boxes, classes = [], []
        if os.path.isfile(lab):
            with open(lab, encoding="utf-8") as f:
                for ln, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    parts = line.split()
                    where = f"{lab}:{ln}"
                    if len(parts) != 5:
                        raise ValueError(f"{where}: expected 'class cx cy w h', got {line.strip()!r}")
                    try:
                        cid = float(parts[0])
                        cx, cy, bw, bh = (float(v) for v in parts[1:])
                    except ValueError:
                        raise ValueError(f"{where}: expected numbers 'class cx cy w h', got {line.strip()!r}") from None
                    if not np.isfinite([cid, cx, cy, bw, bh]).all():
                        raise ValueError(f"{where}: NaN or infinite value in {line.strip()!r}")
                    if not cid.is_integer():
                        raise ValueError(f"{where}: the class id must be a whole number (0..{len(names) - 1}), got "
                                         f"{parts[0]!r}")
                    c = int(cid)
                    if not 0 <= c < len(names):
                        raise ValueError(f"{where}: unknown class id {c}; data.yaml names {len(names)} classes "
                                         f"(0..{len(names) - 1})")
                    if bw <= 0 or bh <= 0:
                        raise ValueError(f"{where}: box of zero area (w {bw}, h {bh})")
                    tol = 1e-3
                    if cx - bw / 2 < -tol or cy - bh / 2 < -tol or cx + bw / 2 > 1 + tol or cy + bh / 2 > 1 + tol:
                        raise ValueError(f"{where}: box (cx {cx}, cy {cy}, w {bw}, h {bh}) lies outside the image "
                                         "(coordinates are fractions of the image, 0-1)")
                    boxes.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
                    classes.append(c)
        out.append(_sample(image, boxes, classes, names, stem, lab))
    return out


def _sample(image, boxes, classes, names, name, where) -> Sample:
    from common.boxes import as_boxes

    h, w = image.shape[:2]
    b = np.clip(as_boxes(boxes, f"{where} boxes", shape=(h, w)), 0, [w, h, w, h])
    b = np.minimum(b, [w - 1e-3, h - 1e-3, w, h])
    centres = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], 1) if len(b) else np.zeros((0, 2))
    centres = np.minimum(centres, [w - 1, h - 1])
    return Sample(image, centres, np.asarray(classes, np.int64), names, boxes=b, name=name)


def load_data(name: str, split: str, seed: int = 0, data_root=None, synthetic_size=None) -> SampleList:
    """A split of a named data set or of a user's folder (VOC or Ultralytics layout, else the shared folder
    layout of :func:`common.datasets.load`)."""
    from common.datasets import load

    if os.path.isdir(name):
        if os.path.isfile(os.path.join(name, "data.yaml")):
            return load_yolo_folder(name, split)
        if os.path.isdir(os.path.join(name, "Annotations")):
            return load_voc_folder(name, split)
        return load(name, split=split, seed=seed)
    if name.startswith("synthetic"):
        n, size = synthetic_size or (None, 256)
        return load(name, split=split, seed=seed, size=size, **({"n_images": n} if n else {}))
    return load(name, split=split, data_root=data_root)


# ------------------------------------------------------------------------------------------------
# anchors


def _wh_iou(wh, centroids):
    inter = np.minimum(wh[:, None, 0], centroids[None, :, 0]) * np.minimum(wh[:, None, 1], centroids[None, :, 1])
    return inter / (wh[:, None, 0] * wh[:, None, 1] + centroids[None, :, 0] * centroids[None, :, 1] - inter)


def kmeans_anchors(wh, k: int = 9, seed: int = 0, max_iter: int = 300) -> np.ndarray:
    """k anchor (w, h) pairs from box sizes by k-means with the 1 - IoU distance (boxes centred
    together; keras-yolo3 ``kmeans.py``, which updates with the median), smallest area first.

    Raises:
        ValueError: fewer distinct box sizes than ``k``.
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    wh = wh[np.all(wh > 0, axis=1)]
    if len(np.unique(wh, axis=0)) < k:
        raise ValueError(f"k-means needs at least {k} distinct box sizes, got {len(np.unique(wh, axis=0))}; "
                         "use anchors='coco'")
    rng = np.random.default_rng(seed)
    centroids = wh[rng.choice(len(wh), k, replace=False)]
    last = None
    for _ in range(max_iter):
        assign = np.argmax(_wh_iou(wh, centroids), axis=1)
        if last is not None and np.array_equal(assign, last):
            break
        for j in range(k):
            if np.any(assign == j):
                centroids[j] = np.median(wh[assign == j], axis=0)
        last = assign
    return centroids[np.argsort(centroids.prod(1), kind="stable")]


def network_boxes(samples, size: int) -> np.ndarray:
    """Every box's (w, h) after the letterbox resize to ``size`` (what the anchors are fitted to)."""
    out = []
    for s in samples:
        h, w = s.shape
        scale = min(size / w, size / h)
        if len(s.boxes):
            out.append((s.boxes[:, 2:] - s.boxes[:, :2]) * scale)
    return np.concatenate(out) if out else np.zeros((0, 2))


# ------------------------------------------------------------------------------------------------
# images


def letterbox(image, size: int):
    """The image resized to fit ``size`` x ``size`` with its aspect ratio kept, centred on grey (128).

    Returns:
        ``(canvas uint8, scale, (dx, dy))``: a point (x, y) maps to (x * scale + dx, y * scale + dy).
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    dx, dy = (size - nw) // 2, (size - nh) // 2
    canvas = np.full((size, size, 3), 128, np.uint8)
    canvas[dy:dy + nh, dx:dx + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                                                else cv2.INTER_LINEAR)
    return canvas, scale, (dx, dy)


def augment(image, boxes, classes, size: int, rng: np.random.Generator, jitter=0.3, scale=(0.25, 2.0), hue=0.1,
            saturation=1.5, value=1.5, flip=True):
    """keras-yolo3's random augmentation: a ``size`` x ``size`` image and its boxes (pixels).

    The image is resized to a random aspect ratio (``jitter``) and scale (``scale`` x ``size``),
    placed at a random offset on a grey canvas, flipped left-right with probability 0.5 and jittered
    in hue / saturation / value; boxes follow, are clipped to the canvas and dropped below 1 px.
    """
    import cv2

    h, w = image.shape[:2]
    ar = w / h * rng.uniform(1 - jitter, 1 + jitter) / rng.uniform(1 - jitter, 1 + jitter)
    s = rng.uniform(*scale)
    if ar < 1:
        nh = int(s * size)
        nw = int(nh * ar)
    else:
        nw = int(s * size)
        nh = int(nw / ar)
    nw, nh = max(nw, 2), max(nh, 2)
    dx = int(rng.uniform(0, size - nw)) if size > nw else -int(rng.uniform(0, nw - size))
    dy = int(rng.uniform(0, size - nh)) if size > nh else -int(rng.uniform(0, nh - size))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), 128, np.uint8)
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + nw, size), min(dy + nh, size)
    canvas[y0:y1, x0:x1] = resized[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, [0, 2]] = b[:, [0, 2]] * nw / w + dx
    b[:, [1, 3]] = b[:, [1, 3]] * nh / h + dy
    if flip and rng.uniform() < 0.5:
        canvas = canvas[:, ::-1]
        b[:, [0, 2]] = size - b[:, [2, 0]]
    b = np.clip(b, 0, size)
    keep = ((b[:, 2] - b[:, 0]) > 1) & ((b[:, 3] - b[:, 1]) > 1)
    dh, ds, dv = rng.uniform(-hue, hue), rng.uniform(1, saturation), rng.uniform(1, value)
    ds = ds if rng.uniform() < 0.5 else 1 / ds
    dv = dv if rng.uniform() < 0.5 else 1 / dv
    hsv = cv2.cvtColor(np.ascontiguousarray(canvas).astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + dh * 360.0) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * ds, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * dv, 0, 1)
    out = np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out, b[keep], np.asarray(classes)[keep]


# ------------------------------------------------------------------------------------------------
# targets


def encode_targets(boxes, classes, anchors, strides, size, n_classes: int, max_boxes: int = 200):
    """The per-scale loss targets of one image (:class:`yolo_transfer.losses.YoloLoss` layout).

    Args:
        boxes: (N, 4) xmin, ymin, xmax, ymax in network-input pixels.
        classes: (N,) class indices.
        anchors: per scale (coarsest first) its (A, 2) anchors in input pixels.
        strides: per scale its stride (32, 16[, 8]).
        size: the network input side, or (height, width).
        max_boxes: the rows of the ground-truth list (an error when the image holds more).

    Returns:
        A list, per scale, of float32 arrays (H*W*A + max_boxes, 5 + C).
    """
    hgt, wid = (size, size) if np.isscalar(size) else size
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    c = np.asarray(classes, dtype=np.int64).reshape(-1)
    if len(b) > max_boxes:
        raise ValueError(f"an image holds {len(b)} boxes, more than max_boxes={max_boxes}; raise max_boxes")
    if len(c) and (c.min() < 0 or c.max() >= n_classes):
        raise ValueError(f"class ids must lie in [0, {n_classes}), got {c.min()}..{c.max()}")
    xy = (b[:, :2] + b[:, 2:]) / 2 / [wid, hgt]
    wh = (b[:, 2:] - b[:, :2]) / [wid, hgt]
    all_anchors = np.concatenate(anchors)
    n_a = [len(a) for a in anchors]
    out, lists = [], np.zeros((max_boxes, 5 + n_classes), np.float32)
    lists[:len(b), :2], lists[:len(b), 2:4], lists[:len(b), 4] = xy, wh, 1.0
    grids = []
    for s, stride in enumerate(strides):
        gh, gw = hgt // stride, wid // stride
        grids.append(np.zeros((gh, gw, n_a[s], 5 + n_classes), np.float32))
    if len(b):
        best = np.argmax(_wh_iou(b[:, 2:] - b[:, :2], all_anchors), axis=1)
        for k in range(len(b)):
            s = int(np.searchsorted(np.cumsum(n_a), best[k], side="right"))
            a = best[k] - sum(n_a[:s])
            gh, gw = grids[s].shape[:2]
            i = min(int(np.floor(xy[k, 1] * gh)), gh - 1)
            j = min(int(np.floor(xy[k, 0] * gw)), gw - 1)
            grids[s][i, j, a, :] = 0
            grids[s][i, j, a, 0:2] = xy[k]
            grids[s][i, j, a, 2:4] = wh[k]
            grids[s][i, j, a, 4] = 1.0
            grids[s][i, j, a, 5 + c[k]] = 1.0
    for g in grids:
        out.append(np.concatenate([g.reshape(-1, 5 + n_classes), lists], axis=0))
    return out


# ------------------------------------------------------------------------------------------------
# batches


def _letterboxed(sample, size):
    canvas, scale, (dx, dy) = letterbox(sample.image, size)
    b = sample.boxes * scale + [dx, dy, dx, dy] if len(sample.boxes) else np.zeros((0, 4))
    return canvas, b


def validation_arrays(samples, size: int, anchors, strides, n_classes: int, max_boxes: int):
    """Letterboxed images (uint8) and their targets, plus each image's boxes in network pixels."""
    xs, ys, boxes = [], [[] for _ in strides], []
    for s in samples:
        canvas, b = _letterboxed(s, size)
        xs.append(canvas)
        boxes.append(b)
        for k, t in enumerate(encode_targets(b, s.classes, anchors, strides, size, n_classes, max_boxes)):
            ys[k].append(t)
    return np.stack(xs), tuple(np.stack(y) for y in ys), boxes


def train_stream(samples, config, anchors, strides, n_classes: int, start_batch: int = 0, sizes=None,
                 augment_images: bool = True):
    """An endless generator of augmented training batches ``(x float32, (y per scale))``.

    Every epoch visits the images once in a fresh order; batch ``t`` of the stream is a pure function
    of ``(config.seed, t)``, so a resumed run (``start_batch``) sees the batches an uninterrupted one
    would. With ``sizes``, the input side changes every ``config.multiscale_interval`` batches
    (multi-scale training); else it is ``config.input_size``.
    """
    from common.training import batch_schedule

    for t, idx, rng in batch_schedule(len(samples), int(config.batch_size), config.seed, start_batch):
        size = config.input_size
        if sizes:
            pick = np.random.default_rng([config.seed, 7, t // config.multiscale_interval])
            size = int(sizes[pick.integers(len(sizes))])
        xs, ys = [], [[] for _ in strides]
        for i in idx:
            s = samples[int(i)]
            if augment_images:
                img, b, c = augment(s.image, s.boxes, s.classes, size, rng, config.jitter, config.scale, config.hue,
                                    config.saturation, config.value, config.flip)
            else:
                img, b = _letterboxed(s, size)
                c = s.classes
            xs.append(img)
            for j, tg in enumerate(encode_targets(b, c, anchors, strides, size, n_classes, config.max_boxes)):
                ys[j].append(tg)
        yield np.stack(xs).astype(np.float32), tuple(np.stack(y) for y in ys)


def as_dataset(stream, n_scales: int, n_classes: int):
    """The stream as Keras takes it (:func:`common.training.stream_dataset`), image sizes free so
    multi-scale batches do not fix the signature."""
    from common.training import stream_dataset

    return stream_dataset(stream, tuple((None, 5 + n_classes) for _ in range(n_scales)))
