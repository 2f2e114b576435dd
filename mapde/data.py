"""MapDe targets and input pipeline: dot annotations -> artificial labels (section 2.1) -> patches."""

from __future__ import annotations

import numpy as np

from common import _checks
from common.datasets import Sample, check_min_size, require_cells
from common.labels import mapped_label, mapping_filter
from common.tiling import grid_crops

__all__ = ["check_annotated", "check_sizes", "mapped_targets", "mapde_dataset", "steps_per_epoch"]


def check_annotated(samples, what: str = "training"):
    """``samples``, refusing an empty split or one with no annotated cell at all."""
    return require_cells(samples, what, "MapDe's artificial labels would be all zero")


def check_sizes(train, val, size: int) -> None:
    """Refuses training or validation images smaller than Micro-Net's input, before any training."""
    for what, samples in (("training", train), ("validation", val)):
        check_min_size(samples, size, what, f"Micro-Net's {size}x{size} input",
                       "use larger images (prediction tiles and pads them)")


def mapped_targets(sample: Sample, radius: float = 5.0, filter_size: int = 11, per_class: bool = False) -> np.ndarray:
    """Artificial labels of one sample: dots convolved with the eq. 1 filter, (H, W, C) float32.

    One channel (all cells) by default; with ``per_class`` one channel per class of
    ``sample.class_names`` (then every cell needs a class: class -1 raises ``ValueError``).
    """
    if not isinstance(sample, Sample):
        raise ValueError(f"sample must be a common.datasets.Sample, got {type(sample).__name__}")
    kernel = mapping_filter(radius, filter_size)
    h, w = sample.shape
    if not per_class:
        return mapped_label(sample.points, (h, w), kernel)[..., None]
    if np.any(sample.classes < 0):
        raise ValueError(f"sample {sample.name!r} has {int(np.sum(sample.classes < 0))} unclassified cells; "
                         "per_class=True needs a class for every cell")
    return np.stack([mapped_label(sample.points[sample.classes == k], (h, w), kernel)
                     for k in range(len(sample.class_names))], axis=-1)


def steps_per_epoch(samples, input_size: int, batch_size: int) -> int:
    """Random crops per epoch that cover the training pixels about once, in batches."""
    pixels = sum(s.shape[0] * s.shape[1] for s in samples)
    return max(1, int(round(pixels / float(input_size) ** 2 / batch_size)))


def mapde_dataset(samples, config, batch_size: int | None = None, training: bool = True, repeat: bool = False,
                  skip: int = 0):
    """tf.data pipeline of (RGB image in [0, 255], artificial label) patches of ``config.input_size``.

    Training (section 3): a random crop per image per pass, random left/right and up/down flips,
    and random brightness, contrast, hue and saturation; every random op is stateless, keyed by
    ``(config.seed, element index)``, so the same seed gives the same batches. Evaluation: each
    image is cut into a fixed grid of crops. Images smaller than the input raise ``ValueError``.
    """
    import tensorflow as tf

    samples = check_annotated(samples, "training" if training else "validation")
    size = config.input_size
    batch_size = _checks.positive(batch_size or config.batch_size, "batch_size", integer=True)
    images, targets = [], []
    for s in samples:
        if min(s.shape) < size:
            raise ValueError(f"sample {s.name!r} is {s.shape[0]}x{s.shape[1]}, smaller than Micro-Net's "
                             f"{size}x{size} input; use larger images (prediction tiles and pads them)")
        images.append(s.image)
        targets.append(mapped_targets(s, config.radius, config.filter_size, config.per_class))
    nt = targets[0].shape[-1]
    if not training:
        ci = [c for im in images for c in grid_crops(im, size)]
        ct = [c for t in targets for c in grid_crops(t, size)]
        ds = tf.data.Dataset.from_tensor_slices((np.stack(ci).astype(np.float32), np.stack(ct)))
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    if len({im.shape for im in images}) == 1:
        ds = tf.data.Dataset.from_tensor_slices((np.stack(images), np.stack(targets)))
    else:
        ds = tf.data.Dataset.from_generator(lambda: zip(images, targets), output_signature=(
            tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((None, None, nt), tf.float32)))
    seed = int(config.seed)
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    lo, hi = config.brightness_contrast
    hue, s_lo, s_hi = config.hue_saturation

    def augment(i, pair):
        img, tgt = pair
        k = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), i]), 7)
        both = tf.concat([tf.cast(img, tf.float32) / 255.0, tgt], axis=-1)
        both = tf.image.stateless_random_crop(both, (size, size, 3 + nt), seed=k[0])
        both = tf.image.stateless_random_flip_left_right(both, seed=k[1])
        both = tf.image.stateless_random_flip_up_down(both, seed=k[2])
        x, t = both[..., :3], both[..., 3:]
        x = tf.image.stateless_random_brightness(x, config.brightness, seed=k[3])
        x = tf.image.stateless_random_contrast(x, lo, hi, seed=k[4])
        x = tf.image.stateless_random_hue(x, hue, seed=k[5])
        x = tf.image.stateless_random_saturation(x, s_lo, s_hi, seed=k[6])
        return tf.clip_by_value(x, 0.0, 1.0) * 255.0, t

    ds = ds.enumerate()
    if skip:   # resume mid-stream: the same crops and colour jitter as an uninterrupted run
        ds = ds.skip(int(skip))
    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
