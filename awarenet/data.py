"""AwareNet targets and input pipelines: Sample -> (I, [R, W]) patches, and 28x28 cell patches."""

from __future__ import annotations

import numpy as np

from common import _checks
from common.datasets import Sample, class_counts
from common.labels import AbundanceWeights, abundance_weights, disk_mask, dot_image, weight_image
from common.tiling import grid_crops

__all__ = ["cell_patches", "class_weights_for", "classifier_dataset", "detection_dataset", "detection_targets",
           "steps_per_epoch"]


def class_weights_for(train_samples, scheme: str | None) -> AbundanceWeights | None:
    """Abundance weights from the training split's cell counts N (AwareNet eq. 2-4), or None."""
    if scheme is None:
        return None
    counts = class_counts(train_samples)
    if np.any(counts == 0):
        names = [n for n, c in zip(train_samples[0].class_names, counts) if c == 0]
        raise ValueError(f"the training split has no cells of class(es) {names}; abundance weights need N_k > 0")
    return abundance_weights(counts, scheme)


def detection_targets(sample: Sample, radius: float = 4.0, weights: AbundanceWeights | None = None):
    """Reference image R (eq. 1) and weight image W (eq. 2-4) of one sample, each (H, W, 1) float32.

    Unclassified cells (class -1, e.g. in CRCHisto) count in R; inside their disks W takes the
    smallest class weight, so they are learned but never up-weighted. Without ``weights`` W is all
    ones (plain Dice).
    """
    h, w = sample.shape
    r = disk_mask(sample.points, (h, w), radius).astype(np.float32)[..., None]
    if weights is None:
        return r, np.ones_like(r)
    lab = sample.classes >= 0
    wimg = weight_image(sample.points[lab], sample.classes[lab], (h, w), weights.class_weights,
                        weights.background, radius)
    if (~lab).any():  # unclassified cells: inside their disks use the smallest class weight
        unl = disk_mask(sample.points[~lab], (h, w), radius) & (wimg == weights.background)
        wimg[unl] = float(np.min(weights.class_weights))
    return r, wimg[..., None].astype(np.float32)


def steps_per_epoch(samples, input_size: int, batch_size: int) -> int:
    """Random crops per epoch that cover the training pixels about once, in batches."""
    pixels = sum(s.shape[0] * s.shape[1] for s in samples)
    return max(1, int(round(pixels / float(input_size) ** 2 / batch_size)))


def detection_dataset(samples, input_size: int, radius: float = 4.0, weights: AbundanceWeights | None = None,
                      batch_size: int = 16, training: bool = True, seed: int = 0, repeat: bool = False,
                      counts: bool = False, skip: int = 0):
    """tf.data pipeline of (image / 255, targets) patches.

    Training: one random ``input_size`` crop per image per pass, random flips (seeded), shuffled.
    Evaluation: every image cut into a deterministic grid of crops. Targets are ``[R, W]``
    (H, W, 2) float32; with ``counts=True`` they are ``{"prob": [R, W], "count": (1,)}``, the count
    being the number of annotated cell centres inside the crop (CONCORDe-Net). Targets are computed
    once per image. Images smaller than ``input_size`` raise ``ValueError``. ``skip`` drops that many
    training elements from the start of the stream (a resumed run continues where it stopped).
    """
    import tensorflow as tf

    if not samples:
        raise ValueError("samples is empty")
    input_size = _checks.positive(input_size, "input_size", integer=True)
    batch_size = _checks.positive(batch_size, "batch_size", integer=True)
    images, targets = [], []
    for s in samples:
        if min(s.shape) < input_size:
            raise ValueError(f"sample {s.name!r} is {s.shape[0]}x{s.shape[1]}, smaller than the "
                             f"{input_size}x{input_size} input; use tiling for prediction or a smaller input_size")
        r, w = detection_targets(s, radius, weights)
        t = [r, w]
        if counts:
            t.append(dot_image(s.points, s.shape)[..., None].astype(np.float32))
        images.append(s.image)
        targets.append(np.concatenate(t, axis=-1))
    nt = targets[0].shape[-1]

    def split(img, tgt):
        if counts:
            return img, {"prob": tgt[..., :2], "count": tf.reduce_sum(tgt[..., 2:3], axis=(0, 1))}
        return img, tgt

    if training:
        if len({im.shape for im in images}) == 1:
            ds = tf.data.Dataset.from_tensor_slices((np.stack(images), np.stack(targets)))
        else:
            ds = tf.data.Dataset.from_generator(lambda: zip(images, targets), output_signature=(
                tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((None, None, nt), tf.float32)))
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.enumerate()
        if skip:   # resume mid-stream: the same crops, flips and order as an uninterrupted run
            ds = ds.skip(int(skip))

        def augment(i, pair):
            # Stateless ops keyed by (seed, element index): the same crops and flips on every run,
            # however the parallel map schedules its calls.
            img, tgt = pair
            key = tf.stack([tf.cast(seed, tf.int64), i])
            k = tf.random.experimental.stateless_split(key, 3)
            both = tf.concat([tf.cast(img, tf.float32) / 255.0, tgt], axis=-1)
            both = tf.image.stateless_random_crop(both, (input_size, input_size, 3 + nt), seed=k[0])
            both = tf.image.stateless_random_flip_left_right(both, seed=k[1])
            both = tf.image.stateless_random_flip_up_down(both, seed=k[2])
            return split(both[..., :3], both[..., 3:])

        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        crops_i, crops_t = [], []
        for img, tgt in zip(images, targets):
            crops_i += grid_crops(img, input_size)
            crops_t += grid_crops(tgt, input_size)
        ds = tf.data.Dataset.from_tensor_slices(
            (np.stack(crops_i).astype(np.float32) / 255.0, np.stack(crops_t)))
        ds = ds.map(split)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def cell_patches(samples, patch_size: int = 28):
    """patch_size x patch_size x 3 uint8 patches centred on every classified cell (section 3.4).

    Borders are reflect-padded so cells at the image edge keep a full patch.

    Returns:
        ``(patches (N, P, P, 3) uint8, labels (N,) int64)``.
    """
    patch_size = _checks.positive(patch_size, "patch_size", integer=True)
    if patch_size % 2:
        raise ValueError(f"patch_size must be even (the paper uses 28), got {patch_size}")
    half = patch_size // 2
    patches, labels = [], []
    for s in samples:
        keep = s.classes >= 0
        if not keep.any():
            continue
        padded = np.pad(s.image, ((half, half), (half, half), (0, 0)), mode="reflect")
        cols = np.rint(s.points[keep, 0]).astype(int)
        rows = np.rint(s.points[keep, 1]).astype(int)
        for r, c in zip(rows, cols):
            patches.append(padded[r:r + patch_size, c:c + patch_size])
        labels.append(s.classes[keep])
    if not patches:
        raise ValueError("no classified cells in samples: cannot build classifier patches")
    return np.stack(patches), np.concatenate(labels).astype(np.int64)


def classifier_dataset(patches: np.ndarray, labels: np.ndarray, n_classes: int, batch_size: int,
                       class_weights=None, training: bool = False, seed: int = 0, skip_batches: int | None = None):
    """tf.data of (patch / 255, one-hot[, sample weight]); flips when ``training`` (as the authors').

    With ``skip_batches`` (training) the passes repeat endlessly (each reshuffled, each ending in its
    partial batch) and the first ``skip_batches`` batches are dropped, so a resumed run continues the
    stream of an uninterrupted one; fit it with ``steps_per_epoch = ceil(N / batch_size)``.
    """
    import tensorflow as tf

    x = patches.astype(np.float32) / 255.0
    y = np.eye(n_classes, dtype=np.float32)[np.asarray(labels, np.int64)]
    parts = (x, y) if class_weights is None else (x, y, np.asarray(class_weights, np.float32)[labels])
    ds = tf.data.Dataset.from_tensor_slices(parts)
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).enumerate()

        def flip(i, parts):  # stateless, keyed by (seed, element index): deterministic in parallel
            k = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), i]), 2)
            img = tf.image.stateless_random_flip_left_right(parts[0], seed=k[0])
            img = tf.image.stateless_random_flip_up_down(img, seed=k[1])
            return (img, *parts[1:])

        ds = ds.map(flip, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if training and skip_batches is not None:
        ds = ds.repeat().skip(int(skip_batches))
    return ds.prefetch(tf.data.AUTOTUNE)
