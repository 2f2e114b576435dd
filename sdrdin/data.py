"""S-DRDIN targets and input pipeline (section 2.2): dots -> class map Mc and detection mask Md -> patches."""

from __future__ import annotations

import numpy as np

from common import _checks
from common.datasets import Sample, check_min_size
from common.labels import disk_mask
from common.tiling import crop_origins

__all__ = ["check_classified", "patches", "sdrdin_dataset", "targets"]


def check_classified(samples, what: str = "training", n_classes: int | None = None):
    """``samples`` as a list, refusing an empty split, one without cells, or one without classes.

    S-DRDIN learns cell types: a user folder whose ``points.csv`` has no ``class`` column cannot train
    it. Cells of class -1 (unclassified, e.g. some CRCHisto dots) are allowed: they are detection
    targets and are ignored by the classification loss.
    """
    if samples is None or len(samples) == 0:
        raise ValueError(f"the {what} split is empty")
    if getattr(samples, "classified", True) is False:
        raise ValueError(f"the {what} data has no cell classes ({getattr(samples, 'description', '')}): S-DRDIN "
                         "needs a class per cell; add a 'class' column to points.csv")
    if not any(len(s.points) for s in samples):
        raise ValueError(f"the {what} split has no annotated cells: the detection mask would be all zero")
    names = samples[0].class_names
    if any(s.class_names != names for s in samples):
        raise ValueError(f"the {what} split's images name different classes; load them as one data set")
    if n_classes is not None and len(names) != int(n_classes):
        raise ValueError(f"the {what} data has {len(names)} classes {names}, the model {n_classes}")
    if not any(np.any(s.classes >= 0) for s in samples):
        raise ValueError(f"no cell of the {what} split has a class (all are -1)")
    return list(samples)


def targets(sample: Sample, radius: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The class map Mc (H, W, C + 1) and detection mask Md (H, W, 1) of one sample (section 2.2).

    Mc channel k marks the pixels closer than ``radius`` to a cell of class k (9 px for r = 2, as
    :func:`common.labels.class_masks`); the last channel is the
    background 1 - Md, where Md is the disk mask of every cell. A cell of class -1 is in Md and in no
    channel of Mc (all zero there), so the classification loss ignores its pixels.
    """
    if not isinstance(sample, Sample):
        raise ValueError(f"sample must be a common.datasets.Sample, got {type(sample).__name__}")
    h, w = sample.shape
    c = len(sample.class_names)
    if len(sample.classes) and int(np.max(sample.classes)) >= c:
        raise ValueError(f"sample {sample.name!r} has class {int(np.max(sample.classes))} but only {c} class names")
    det = disk_mask(sample.points, (h, w), radius).astype(np.float32)
    mc = np.zeros((h, w, c + 1), np.float32)
    for k in range(c):
        mc[..., k] = disk_mask(sample.points[sample.classes == k], (h, w), radius)
    mc[..., c] = 1.0 - det
    return mc, det[..., None]


def patches(samples, size: int, stride: int, radius: float = 2.0, counts: bool = False):
    """``(images, class maps, detection masks)`` of every ``size`` patch every ``stride`` px (section 2.2),
    and with ``counts`` the number of cell centres in each patch (CONCORDe-Net's count target) last."""
    size = _checks.positive(size, "size", integer=True)
    xs, mcs, mds, ns = [], [], [], []
    for s in samples:
        mc, md = targets(s, radius)
        px, py = np.rint(s.points[:, 0]), np.rint(s.points[:, 1])
        for y, x in crop_origins(s.shape, size, stride):
            xs.append(s.image[y:y + size, x:x + size])
            mcs.append(mc[y:y + size, x:x + size])
            mds.append(md[y:y + size, x:x + size])
            ns.append(np.sum((px >= x) & (px < x + size) & (py >= y) & (py < y + size)))
    out = (np.stack(xs), np.stack(mcs), np.stack(mds))
    return out + (np.asarray(ns, np.float32)[:, None],) if counts else out


def sdrdin_dataset(samples, config, tasks=("class", "det"), training: bool = True, repeat: bool = False,
                   skip: int = 0, batch_size: int | None = None):
    """tf.data pipeline of ``(RGB patch in [0, 255], {"class": Mc, "det": Md})`` for the given tasks.

    ``tasks`` may also name ``"count"``: the number of cell centres in the patch (CONCORDe-Net's
    count target; flips do not change it).

    Training: the patches of section 2.2 (``config.input_size`` every ``config.patch_stride`` px),
    shuffled per pass and flipped left/right and up/down at random (stateless, keyed by
    ``(config.seed, element index)``, so a seed gives the same batches and a resumed run can skip
    ``skip`` elements into the stream). Evaluation: non-overlapping patches, in order.
    """
    import tensorflow as tf

    samples = check_classified(samples, "training" if training else "validation")
    check_min_size(samples, config.input_size, "training" if training else "validation",
                   f"the {config.input_size}x{config.input_size} network input", "use larger images or a smaller "
                   "input_size")
    tasks = tuple(tasks)
    if not tasks or set(tasks) - {"class", "det", "count"}:
        raise ValueError(f"tasks must be a non-empty subset of ('class', 'det', 'count'), got {tasks}")
    batch_size = _checks.positive(batch_size or config.batch_size, "batch_size", integer=True)
    stride = config.patch_stride if training else config.input_size
    x, mc, md, n = patches(samples, config.input_size, stride, config.radius, counts=True)
    nc = mc.shape[-1]
    ds = tf.data.Dataset.from_tensor_slices((x, np.concatenate([mc, md], axis=-1), n))

    def split(img, both, count):
        out = {"class": both[..., :nc], "det": both[..., nc:], "count": count}
        return tf.cast(img, tf.float32), {k: out[k] for k in tasks}

    if not training:
        return ds.map(split).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    seed = int(config.seed)
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.enumerate()
    if skip:
        ds = ds.skip(int(skip))

    def augment(i, triple):
        img, both, count = triple
        k = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), i]), 2)
        stacked = tf.concat([tf.cast(img, tf.float32), both], axis=-1)
        stacked = tf.image.stateless_random_flip_left_right(stacked, seed=k[0])
        stacked = tf.image.stateless_random_flip_up_down(stacked, seed=k[1])
        return split(stacked[..., :3], stacked[..., 3:], count)

    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
