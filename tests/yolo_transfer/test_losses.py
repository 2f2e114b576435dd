import keras
import numpy as np
import pytest
import tensorflow as tf

from common.testing import run_serialization_test
from yolo_transfer import YoloLoss
from yolo_transfer.data import encode_targets

ANCHORS = [np.array([[40, 40], [60, 50], [80, 90]], float), np.array([[8, 9], [15, 12], [20, 24]], float)]


def _targets(boxes, classes, size=64):
    return [a[None] for a in encode_targets(boxes, classes, ANCHORS, (32, 16), size, 3, max_boxes=6)]


def test_loss_is_finite_with_finite_gradients_for_an_image_without_boxes():
    t = _targets(np.zeros((0, 4)), [])
    raw = tf.Variable(np.random.default_rng(0).normal(size=(1, 4, 4, 24)).astype("float32"))
    loss = YoloLoss(ANCHORS[1], 16, 3)
    with tf.GradientTape() as tape:
        value = loss(t[1], raw)
    g = tape.gradient(value, raw).numpy()
    assert np.isfinite(float(value)) and float(value) > 0 and np.all(np.isfinite(g))
    # only objectness is pushed (towards "no object"); box and class logits get no gradient
    g = g.reshape(1, 4, 4, 3, 8)
    assert np.all(g[..., [0, 1, 2, 3, 5, 6, 7]] == 0) and np.all(g[..., 4] > 0)


def test_each_term_follows_keras_yolo3():
    """One box on a 2x2 grid (stride 32, 64 px): the loss equals the hand-written sum of the four terms."""
    box = np.array([[10.0, 6.0, 50.0, 46.0]])   # 40 x 40 at centre (30, 26): anchor 0, cell (0, 0)
    t = _targets(box, [2])[0]
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(1, 2, 2, 24)).astype("float32")
    got = float(YoloLoss(ANCHORS[0], 32, 3, ignore_thresh=0.5)(t, raw))

    def bce(z, p):
        return -(z * np.log(p) + (1 - z) * np.log(1 - p))

    sig = 1 / (1 + np.exp(-raw.reshape(2, 2, 3, 8).astype(np.float64)))
    r = raw.reshape(2, 2, 3, 8).astype(np.float64)
    w = h = 40 / 64
    scale = 2 - w * h
    txy = np.array([30 / 64 * 2 - 0, 26 / 64 * 2 - 0])
    xy = scale * bce(txy, sig[0, 0, 0, :2]).sum()
    twh = np.log(np.array([40, 40]) / ANCHORS[0][0])
    wh = scale * 0.5 * np.sum((twh - r[0, 0, 0, 2:4]) ** 2)
    cls = bce(np.array([0, 0, 1.0]), sig[0, 0, 0, 5:]).sum()
    # objectness: the assigned anchor -> BCE(1); others -> BCE(0) unless their box overlaps the truth > 0.5
    gy, gx = np.mgrid[:2, :2]
    px = (sig[..., 0] + gx[..., None]) / 2
    py = (sig[..., 1] + gy[..., None]) / 2
    pw = np.exp(r[..., 2]) * ANCHORS[0][:, 0] / 64
    ph = np.exp(r[..., 3]) * ANCHORS[0][:, 1] / 64
    tb = np.array([10, 6, 50, 46]) / 64
    ix = np.clip(np.minimum(px + pw / 2, tb[2]) - np.maximum(px - pw / 2, tb[0]), 0, None)
    iy = np.clip(np.minimum(py + ph / 2, tb[3]) - np.maximum(py - ph / 2, tb[1]), 0, None)
    iou = ix * iy / (pw * ph + (tb[2] - tb[0]) * (tb[3] - tb[1]) - ix * iy)
    obj = np.zeros((2, 2, 3))
    obj[0, 0, 0] = 1
    conf = np.where(obj == 1, bce(1, sig[..., 4]), bce(0, sig[..., 4]) * (iou < 0.5)).sum()
    assert got == pytest.approx(xy + wh + conf + cls, rel=1e-4)


def test_loss_serialises_and_averages_over_the_batch():
    loss = YoloLoss(ANCHORS[0], 32, 3, ignore_thresh=0.7)
    clone = run_serialization_test(loss)
    assert clone.ignore_thresh == 0.7 and clone.stride == 32
    t = _targets(np.array([[10.0, 6.0, 50.0, 46.0]]), [1])[0]
    raw = np.random.default_rng(2).normal(size=(1, 2, 2, 24)).astype("float32")
    one = float(loss(t, raw))
    two = float(loss(np.concatenate([t, t]), np.concatenate([raw, raw])))
    assert two == pytest.approx(one, rel=1e-5)


def test_loss_trains_a_model_under_keras_fit():
    from yolo_transfer import YOLOv3

    m = YOLOv3(3, np.concatenate(ANCHORS[::-1]), "tiny", width=0.125)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=[YoloLoss(a, s, 3) for a, s in zip(m.scale_anchors(),
                                                                                           m.strides)])
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    ys = [_targets(np.array([[5.0, 5.0, 30.0, 40.0]]), [0]), _targets(np.zeros((0, 4)), [])]
    y = tuple(np.concatenate([ys[0][k], ys[1][k]]) for k in range(2))
    from common.testing import run_fit_check

    run_fit_check(m, tf.data.Dataset.from_tensors((x, y)).repeat(), steps=3)
