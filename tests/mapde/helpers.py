import numpy as np

from common.datasets import Sample
from common.labels import mapped_label
from common.matching import detection_scores
from mapde import MapDeConfig

CFG = MapDeConfig.quick(width=1 / 32)

DOTS = np.array([[40.0, 40.0], [60.0, 42.0], [47.0, 70.0], [100.0, 100.0], [20.0, 110.0]])

def sample(points=DOTS, size=128, classes=None, name="s"):
    img = np.full((size, size, 3), 230, np.uint8)
    for x, y in np.asarray(points).reshape(-1, 2):
        img[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 60
    cls = np.zeros(len(points), np.int64) if classes is None else classes
    return Sample(img, np.asarray(points, np.float32).reshape(-1, 2), cls, ("a", "b"), name=name)

def score(pred, gt=DOTS, r=2.0):
    return detection_scores([pred], [gt], r)

def score_map(points, shape=(128, 128), w=1000.0):
    """A map as a trained MapDe would output: the loss minimiser log(w t / (1 - t)), zero outside."""
    t = np.clip(mapped_label(points, shape), 0, 0.999)
    return np.where(t > 0, np.log(np.maximum(w * t / (1 - t), 1.0)), 0.0).astype(np.float32)[..., None]


# Tiny MapDe settings for tests: a 1/32-width Micro-Net, one epoch of two steps.
TINY = dict(width=1 / 32, epochs=1, steps_per_epoch=2, batch_size=2, sccnn_epochs=1, sccnn_patches=256,
            sccnn_width=0.25, min_distances=(3, 5), n_thresholds=6)
