import numpy as np
import pytest

from common.boxes import detection_ap
from common.datasets import Sample
from common.inference import Detections
from yolo_transfer.data import encode_targets, kmeans_anchors
from yolo_transfer.inference import decode, nms

ANCHORS = [np.array([[116, 90], [156, 198], [373, 326]], float), np.array([[30, 61], [62, 45], [59, 119]], float),
           np.array([[10, 13], [16, 30], [33, 23]], float)]
STRIDES = (32, 16, 8)


def test_each_box_goes_to_its_best_anchor_by_width_and_height_at_its_centre_cell():
    boxes = np.array([[100, 100, 110, 113],      # 10 x 13: anchor 0 (stride 8)
                      [200, 40, 320, 130],       # 120 x 90: anchor 6 (stride 32)
                      [10, 300, 72, 345]])       # 62 x 45: anchor 4 (stride 16)
    t = encode_targets(boxes, [0, 1, 2], ANCHORS, STRIDES, 416, n_classes=3, max_boxes=5)
    assert [a.shape for a in t] == [(13 * 13 * 3 + 5, 8), (26 * 26 * 3 + 5, 8), (52 * 52 * 3 + 5, 8)]
    g32 = t[0][:13 * 13 * 3].reshape(13, 13, 3, 8)
    g16 = t[1][:26 * 26 * 3].reshape(26, 26, 3, 8)
    g8 = t[2][:52 * 52 * 3].reshape(52, 52, 3, 8)
    assert g8[105 // 8, 105 // 8, 0, 4] == 1 and g8[..., 4].sum() == 1
    assert g32[int(85 / 32), int(260 / 32), 0, 4] == 1 and g32[..., 4].sum() == 1
    assert g16[int(322.5 / 16), int(41 / 16), 1, 4] == 1 and g16[..., 4].sum() == 1
    np.testing.assert_allclose(g32[2, 8, 0, :4], [260 / 416, 85 / 416, 120 / 416, 90 / 416], rtol=1e-6)
    assert g32[2, 8, 0, 5:].tolist() == [0, 1, 0]
    # every scale carries the full box list (for the ignore mask)
    for a in t:
        assert a[-5:, 4].tolist() == [1, 1, 1, 0, 0]


def test_no_cap_of_twenty_boxes_but_a_clear_error_beyond_max_boxes():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 380, (45, 2))
    boxes = np.concatenate([xy, xy + 30], 1)
    t = encode_targets(boxes, np.zeros(45, int), ANCHORS, STRIDES, 416, 3, max_boxes=50)
    assert t[0][-50:, 4].sum() == 45
    with pytest.raises(ValueError, match="max_boxes"):
        encode_targets(boxes, np.zeros(45, int), ANCHORS, STRIDES, 416, 3, max_boxes=40)
    with pytest.raises(ValueError, match="class ids"):
        encode_targets(boxes[:2], [0, 3], ANCHORS, STRIDES, 416, 3, max_boxes=40)


def _perfect_raw(targets, size, n_classes):
    """Raw maps that decode exactly to the targets (inverse of the decoding)."""
    raws = []
    for t, anc, stride in zip(targets, ANCHORS, STRIDES):
        g = size // stride
        grid = t[:g * g * 3].reshape(g, g, 3, 5 + n_classes)
        raw = np.full(grid.shape, -12.0)
        obj = grid[..., 4] > 0
        cy, cx = np.mgrid[:g, :g]
        off_x = np.clip(grid[..., 0] * g - cx[..., None], 1e-4, 1 - 1e-4)
        off_y = np.clip(grid[..., 1] * g - cy[..., None], 1e-4, 1 - 1e-4)
        raw[..., 0] = np.log(off_x / (1 - off_x))
        raw[..., 1] = np.log(off_y / (1 - off_y))
        with np.errstate(divide="ignore"):
            raw[..., 2] = np.where(obj, np.log(np.maximum(grid[..., 2], 1e-9) * size / anc[None, None, :, 0]), 0)
            raw[..., 3] = np.where(obj, np.log(np.maximum(grid[..., 3], 1e-9) * size / anc[None, None, :, 1]), 0)
        raw[..., 4] = np.where(obj, 12.0, -12.0)
        raw[..., 5:] = np.where(grid[..., 5:] > 0, 12.0, -12.0)
        raws.append(raw.reshape(1, g, g, -1).astype("float32"))
    return raws


def test_targets_decode_back_to_the_boxes():
    rng = np.random.default_rng(1)
    xy = np.stack([rng.permutation(np.arange(20, 380, 40))[:8], rng.permutation(np.arange(20, 380, 40))[:8]], 1)
    wh = rng.uniform(8, 120, (8, 2))
    boxes = np.concatenate([xy, xy + wh], 1).clip(0, 416)
    classes = rng.integers(0, 3, 8)
    t = encode_targets(boxes, classes, ANCHORS, STRIDES, 416, 3, 10)
    b, s = decode(_perfect_raw(t, 416, 3), ANCHORS, 3)
    kb, ks, kc = nms(b[0] * 416, s[0], 0.45, 0.5, 100)
    assert len(kb) == 8
    order = np.lexsort((kb[:, 1], kb[:, 0]))
    ref = np.lexsort((boxes[:, 1], boxes[:, 0]))
    np.testing.assert_allclose(kb[order], boxes[ref], atol=0.05)
    assert kc[order].tolist() == classes[ref].tolist()
    det = Detections(np.zeros((len(kb), 2)), kc, ks, class_names=("a", "b", "c"), boxes=kb)
    truth = Sample(np.zeros((416, 416, 3), np.uint8), (boxes[:, :2] + boxes[:, 2:]) / 2, classes, ("a", "b", "c"),
                   boxes=boxes)
    assert detection_ap([det], [truth]).loc["mAP", "AP"] == pytest.approx(1.0)


def test_kmeans_recovers_well_separated_box_sizes():
    rng = np.random.default_rng(0)
    centres = np.array([[10, 12], [30, 30], [90, 60]], float)
    wh = np.concatenate([c * rng.uniform(0.95, 1.05, (50, 2)) for c in centres])
    got = kmeans_anchors(wh, 3, seed=0)
    np.testing.assert_allclose(got, centres, rtol=0.06)
    assert np.all(np.diff(got.prod(1)) > 0)
    with pytest.raises(ValueError, match="distinct box sizes"):
        kmeans_anchors(wh[:2], 3)
