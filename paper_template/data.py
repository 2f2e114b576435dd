"""The template's targets (a Gaussian at every cell, peak 1) and its resumable training stream."""

from __future__ import annotations

import numpy as np

from common.labels import gaussian_density

__all__ = ["crops", "stream", "target"]


def target(sample, sigma: float) -> np.ndarray:
    """(H, W, 1) float32: a Gaussian of ``sigma`` at every cell, scaled to 1 at its centre, clipped at 1."""
    size = 2 * int(np.ceil(3 * sigma)) + 1
    m = gaussian_density(sample.points, sample.shape, size, sigma) * (2 * np.pi * sigma ** 2)
    return np.clip(m, 0, 1).astype(np.float32)[..., None]


def crops(samples, config, seed: int = 0, rng=None):
    """One batch of random ``crop_size`` crops of each sample and their targets, ``(x float32, y)``."""
    rng = rng if rng is not None else np.random.default_rng(seed)
    size, xs, ys = config.crop_size, [], []
    for s in samples:
        t = target(s, config.sigma)
        r0, c0 = (int(rng.integers(0, d - size + 1)) for d in s.shape)
        xs.append(s.image[r0:r0 + size, c0:c0 + size])
        ys.append(t[r0:r0 + size, c0:c0 + size])
    return np.stack(xs).astype(np.float32), np.stack(ys)


def stream(samples, config, start_batch: int = 0):
    """Endless training batches; batch ``t`` is a pure function of ``(seed, t)``, so a resumed run sees
    the batches an uninterrupted one would (:func:`common.training.batch_schedule`)."""
    from common.training import batch_schedule

    for _, idx, rng in batch_schedule(len(samples), config.batch_size, config.seed, start_batch, fill=True):
        yield crops([samples[int(i)] for i in idx], config, rng=rng)
