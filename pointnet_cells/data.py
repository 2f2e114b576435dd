"""Training batches for the point-proposal model and the density-regression competitors.

* :func:`random_resized_crop` - the section 3.1 augmentation: a random resize (``crop_scale``,
  P2PNet's 0.7-1.3), a random ``crop_size`` crop, horizontal and vertical flips; points follow.
* :func:`point_stream` - endless batches ``(images (B, S, S, 3) float32, annotations (B, N, 4))``
  (annotations as :func:`pointnet_cells.losses.pad_annotations`); batch ``t`` is a pure function of
  ``(seed, t)``, so a resumed run sees the batches an uninterrupted one would.
* :func:`validation_crops` - fixed ``crop_size`` crops covering each validation image.
* :func:`density_targets` - the Table 1 regression targets: Gaussian reference density maps
  (7 x 7, sigma 6, peak 1 at each cell) of all cells and of each class.
"""

from __future__ import annotations

import cv2
import numpy as np

from common.datasets import SampleList
from common.labels import gaussian_density
from common.tiling import crop_origins
from pointnet_cells.losses import pad_annotations

__all__ = ["as_dataset", "check_annotated", "check_crop_density", "crop_batches", "densest_window", "density_stream",
           "density_targets", "density_validation", "fixed_crops", "point_stream", "random_resized_crop", "rescaled",
           "validation_crops"]


def check_annotated(samples, what: str = "training", crop_size: int | None = None) -> SampleList:
    """Samples with annotated cells and class names, big enough for a crop; clear errors otherwise."""
    samples = samples if isinstance(samples, SampleList) else SampleList(samples)
    if not len(samples):
        raise ValueError(f"the {what} split is empty")
    if not samples[0].class_names:
        raise ValueError(f"the {what} samples have no class names: the model classifies cells")
    if not sum(len(s.points) for s in samples):
        raise ValueError(f"the {what} split has no annotated cells")
    if crop_size is not None:
        small = [s.name for s in samples if min(s.image.shape[:2]) < crop_size]
        if small:
            raise ValueError(f"{len(small)} {what} image(s) are smaller than the {crop_size} px crop (first: "
                             f"{small[0]}); lower crop_size")
    return samples


def densest_window(points, shape, side: int) -> int:
    """The most cells any ``side`` x ``side`` window of an image of ``shape`` holds (summed-area table)."""
    h, w = int(shape[0]), int(shape[1])
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if not len(p):
        return 0
    side = max(1, min(int(np.ceil(side)), h, w))
    grid = np.zeros((h + 1, w + 1), np.int64)
    r = np.clip(np.floor(p[:, 1]).astype(int), 0, h - 1) + 1
    c = np.clip(np.floor(p[:, 0]).astype(int), 0, w - 1) + 1
    np.add.at(grid, (r, c), 1)
    sat = grid.cumsum(0).cumsum(1)
    win = sat[side:, side:] - sat[:-side, side:] - sat[side:, :-side] + sat[:-side, :-side]
    return int(win.max())


def _densest_crop(samples, config, image_scale: float) -> tuple:
    """``(cells, image name, resize)`` of the densest training crop at ``image_scale`` (at the smallest
    random resize, where a crop covers the most of the image)."""
    size = int(config.crop_size)
    worst = (0, None, 0.0)
    for s in samples:
        h, w = (max(1, int(round(d * image_scale))) for d in s.shape)
        smallest = max(float(config.crop_scale[0]), size / min(h, w))
        n = densest_window(s.points * image_scale, (h, w), size / smallest)
        if n > worst[0]:
            worst = (n, s.name, smallest)
    return worst


def check_crop_density(samples, config, what: str = "training") -> None:
    """Refuses, before any training, an image with a training crop that can hold more cells than the point
    model has proposals (5 per 32 x 32 region; the eq. 2 matching needs one per cell), naming the image and
    the smallest ``image_scale`` (in tenths) at which every crop fits."""
    size = int(config.crop_size)
    proposals = (5 if config.anchor_shift > 0 else 1) * (size // config.anchor_stride) ** 2
    n, name, smallest = _densest_crop(samples, config, config.image_scale)
    if n <= proposals:
        return
    fits = next((k / 10 for k in range(int(config.image_scale * 10) + 1, 41)
                 if _densest_crop(samples, config, k / 10)[0] <= proposals), None)
    hint = f"pass --set image_scale={fits:g} (the images enlarged; the anchors are set for 40x)" if fits else \
        "lower the cell density (larger images per cell) or crop_size"
    raise ValueError(f"{what} image {name!r} has {n} cells in one {size} px crop (at the smallest random resize "
                     f"{smallest:.2f}), more than the {proposals} proposals of a crop: {hint}")


def random_resized_crop(image, points, classes, size: int, rng, scale=(0.7, 1.3), flip: bool = True):
    """One augmented crop: ``(image (size, size, 3) uint8, points (K, 2), classes (K,))``."""
    h, w = image.shape[:2]
    s = float(rng.uniform(*scale))
    s = max(s, size / min(h, w))          # never smaller than the crop
    nh, nw = max(size, int(round(h * s))), max(size, int(round(w * s)))
    img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else image
    pts = np.asarray(points, np.float64) * np.array([nw / w, nh / h])
    y0 = int(rng.integers(0, nh - size + 1))
    x0 = int(rng.integers(0, nw - size + 1))
    img = img[y0:y0 + size, x0:x0 + size]
    pts = pts - np.array([x0, y0])
    keep = (pts[:, 0] >= 0) & (pts[:, 0] <= size - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= size - 1)
    pts, cls = pts[keep], np.asarray(classes)[keep]   # inside the crop's pixel centres, so flips stay inside
    if flip and rng.random() < 0.5:
        img = img[:, ::-1]
        pts = np.column_stack([size - 1 - pts[:, 0], pts[:, 1]])
    if flip and rng.random() < 0.5:
        img = img[::-1]
        pts = np.column_stack([pts[:, 0], size - 1 - pts[:, 1]])
    return np.ascontiguousarray(img), pts.reshape(-1, 2), cls


def crop_batches(samples, config, scale, start_batch: int = 0):
    """Endless batches of augmented crops: ``(x float32 (B, S, S, 3), [(points, classes) per crop])``;
    the batch schedule is :func:`common.training.batch_schedule` (last batch of an epoch filled)."""
    from common.training import batch_schedule

    size = int(config.crop_size)
    for _, idx, rng in batch_schedule(len(samples), int(config.batch_size), config.seed, start_batch, fill=True):
        xs, cells = [], []
        for i in idx:
            s = samples[int(i)]
            img, p, c = random_resized_crop(s.image, s.points, s.classes, size, rng, scale)
            xs.append(img)
            cells.append((p, c))
        yield np.stack(xs).astype(np.float32), cells


def point_stream(samples, config, start_batch: int = 0):
    """Endless augmented batches ``(x float32 (B, S, S, 3), annotations float32 (B, N, 4))``; crops are
    resized by ``crop_scale`` times ``image_scale``."""
    scale = tuple(float(f) * config.image_scale for f in config.crop_scale)
    for x, cells in crop_batches(samples, config, scale, start_batch):
        yield x, pad_annotations([p for p, _ in cells], [c for _, c in cells])


def rescaled(image, points, factor: float):
    """``(image, points)`` resized by ``factor`` (unchanged at 1)."""
    if factor == 1:
        return image, np.asarray(points, np.float64).reshape(-1, 2)
    h, w = image.shape[:2]
    nh, nw = max(1, int(round(h * factor))), max(1, int(round(w * factor)))
    img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return img, np.asarray(points, np.float64).reshape(-1, 2) * np.array([nw / w, nh / h])


def fixed_crops(samples, size: int, image_scale: float = 1.0) -> list:
    """``(image, points, classes)`` of the ``size`` crops covering every image (resized by
    ``image_scale``; no overlap but at the far edges), with the cells inside each crop."""
    out = []
    for s in samples:
        image, points = rescaled(s.image, s.points, image_scale)
        for y0, x0 in crop_origins(image.shape, size):
            p = points - np.array([x0, y0])
            keep = (p[:, 0] >= 0) & (p[:, 0] < size) & (p[:, 1] >= 0) & (p[:, 1] < size)
            out.append((image[y0:y0 + size, x0:x0 + size], p[keep], np.asarray(s.classes)[keep]))
    return out


def validation_crops(samples, size: int, image_scale: float = 1.0):
    """Fixed ``size`` crops covering every image: ``(x float32 (K, S, S, 3), annotations (K, N, 4))``."""
    crops = fixed_crops(samples, size, image_scale)
    return (np.stack([c[0] for c in crops]).astype(np.float32),
            pad_annotations([c[1] for c in crops], [c[2] for c in crops]))


def as_dataset(stream, target_shape=(None, 4)):
    """The stream as Keras takes it (:func:`common.training.stream_dataset`); targets of ``(batch,
    *target_shape)``, annotations by default."""
    from common.training import stream_dataset

    return stream_dataset(stream, target_shape)


def density_targets(points, classes, shape, n_classes: int, size: int = 7, sigma: float = 6.0) -> np.ndarray:
    """(H, W, 1 + C) float32 reference density maps: all cells, then one map per class (section 3.1:
    a 7 x 7 Gaussian, sigma 6, scaled to 1 at each cell so the BCE target peaks at the centre;
    overlaps add, clipped at 1). Unclassified cells (-1) are in the first map only."""
    h, w = shape[:2]
    c = size // 2
    yy, xx = np.mgrid[-c:c + 1, -c:c + 1]
    peak = float(np.exp(-(xx ** 2 + yy ** 2) / (2.0 * sigma ** 2)).sum())   # 1 / the kernel's centre value
    out = np.zeros((h, w, 1 + n_classes), np.float32)
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    cls = np.asarray(classes, np.int64).reshape(-1)
    out[..., 0] = gaussian_density(pts, (h, w), size, sigma) * peak
    for k in range(n_classes):
        sel = cls == k
        if sel.any():
            out[..., 1 + k] = gaussian_density(pts[sel], (h, w), size, sigma) * peak
    return np.minimum(out, 1.0)


def density_stream(samples, config, n_classes: int, start_batch: int = 0):
    """Endless augmented batches ``(x float32 (B, S, S, 3), RDMs (B, S, S, 1 + C))`` (crops resized by
    ``crop_scale``; ``image_scale`` is the point model's)."""
    size = int(config.crop_size)
    for x, cells in crop_batches(samples, config, config.crop_scale, start_batch):
        yield x, np.stack([density_targets(p, c, (size, size), n_classes, config.density_kernel,
                                           config.density_sigma) for p, c in cells])


def density_validation(samples, config, n_classes: int):
    """Fixed ``crop_size`` crops of the validation images and their RDMs, ``(x float32, y)``."""
    size = config.crop_size
    crops = fixed_crops(samples, size)
    ys = [density_targets(p, c, (size, size), n_classes, config.density_kernel, config.density_sigma)
          for _, p, c in crops]
    return np.stack([c[0] for c in crops]).astype(np.float32), np.stack(ys)
