"""Artificial labels, the input pipeline, the four location methods on hand-made maps, tiling."""

import numpy as np
import pytest

from common.datasets import Sample
from common.deconv import richardson_lucy
from common.labels import dot_image, mapped_label, mapping_filter
from common.matching import detection_scores
from common.postprocess import guided_filter
from mapde import MapDe, MapDeConfig, locate, location_map, predict_maps, tune
from mapde.data import check_annotated, mapde_dataset, mapped_targets

CFG = MapDeConfig.quick(width=1 / 32)
DOTS = np.array([[40.0, 40.0], [60.0, 42.0], [47.0, 70.0], [100.0, 100.0], [20.0, 110.0]])


def _sample(points=DOTS, size=128, classes=None, name="s"):
    img = np.full((size, size, 3), 230, np.uint8)
    for x, y in np.asarray(points).reshape(-1, 2):
        img[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 60
    cls = np.zeros(len(points), np.int64) if classes is None else classes
    return Sample(img, np.asarray(points, np.float32).reshape(-1, 2), cls, ("a", "b"), name=name)


def _score(pred, gt=DOTS, r=2.0):
    return detection_scores([pred], [gt], r)


def test_mapped_targets_single_and_per_class():
    s = _sample(classes=np.array([0, 1, 0, 1, 0]))
    t = mapped_targets(s)
    assert t.shape == (128, 128, 1) and t[40, 40, 0] == pytest.approx(1.0) and t[40, 41, 0] == pytest.approx(0.8)
    np.testing.assert_allclose(t[..., 0], mapped_label(s.points, s.shape))
    pc = mapped_targets(s, per_class=True)
    assert pc.shape == (128, 128, 2)
    np.testing.assert_allclose(pc.sum(-1), t[..., 0], atol=1e-6)
    assert pc[42, 60, 0] == 0 and pc[42, 60, 1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unclassified"):
        mapped_targets(_sample(classes=np.array([0, -1, 0, 1, 0])), per_class=True)


def test_empty_annotations_are_refused():
    empty = _sample(points=np.zeros((0, 2)), size=256)
    with pytest.raises(ValueError, match="empty annotations"):
        check_annotated([empty, empty])
    with pytest.raises(ValueError, match="empty"):
        check_annotated([])
    with pytest.raises(ValueError, match="empty annotations"):
        mapde_dataset([empty], CFG)
    with pytest.raises(ValueError, match="empty annotations"):
        tune([np.zeros((256, 256))], [empty], "deconv", CFG)


def test_images_smaller_than_the_input_are_refused_for_training():
    with pytest.raises(ValueError, match="smaller than Micro-Net's 252x252"):
        mapde_dataset([_sample(size=128)], CFG)


def test_dataset_shapes_and_determinism():
    samples = [_sample(size=264, name="a"), _sample(DOTS + 20, size=270, name="b")]
    a = [(x.numpy(), t.numpy()) for x, t in mapde_dataset(samples, CFG, batch_size=2).take(2)]
    b = [(x.numpy(), t.numpy()) for x, t in mapde_dataset(samples, CFG, batch_size=2).take(2)]
    assert a[0][0].shape == (2, 252, 252, 3) and a[0][1].shape == (2, 252, 252, 1)
    assert 0 <= a[0][0].min() and a[0][0].max() <= 255
    for (x1, t1), (x2, t2) in zip(a, b):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(t1, t2)
    ev = list(mapde_dataset(samples, CFG, batch_size=8, training=False))
    assert ev[0][0].shape == (8, 252, 252, 3)   # 2x2 grid crops per image


def test_deconvolution_of_a_mapped_dot_image_recovers_the_dots():
    t = mapped_label(DOTS, (128, 128))
    d = richardson_lucy(t, mapping_filter(), 2)
    assert d[40, 40] > d[40, 45] and d[40, 40] > d[45, 40]   # sharper than the blur
    pts = locate(d, "deconv", 0.5 * d.max())
    sc = _score(pts, r=1.0)
    assert sc.tp == 5 and sc.fp == 0


def _score_map(points, shape=(128, 128), w=1000.0):
    """A map as a trained MapDe would output: the loss minimiser log(w t / (1 - t)), zero outside."""
    t = np.clip(mapped_label(points, shape), 0, 0.999)
    return np.where(t > 0, np.log(np.maximum(w * t / (1 - t), 1.0)), 0.0).astype(np.float32)[..., None]


def test_proposed_deconv_location_on_a_hand_made_map():
    maps = {"map": _score_map(DOTS)}
    lm = location_map(maps, np.zeros((128, 128, 3), np.uint8), "deconv", CFG)
    pts = locate(lm, "deconv", 0.5 * lm.max())
    assert _score(pts).f1 == 1.0


def test_peak_location_on_a_hand_made_map():   # MapDe-Peak and Micro-Net-Peak
    maps = {"map": _score_map(DOTS)}
    lm = location_map(maps, None, "peak", CFG)
    assert lm is maps["map"]
    assert _score(locate(lm, "peak", 2.0, min_distance=4)).f1 == 1.0
    assert len(locate(lm, "peak", 2.0, min_distance=30)) < 5   # a large tolerance merges cells


def test_feat_location_on_a_hand_made_l1_map():
    rng = np.random.default_rng(0)
    feat = dot_image(DOTS, (128, 128))
    feat = np.maximum(feat + rng.normal(0, 0.05, feat.shape), 0).astype(np.float32)
    image = _sample().image
    maps = {"map": _score_map(DOTS), "feat": feat[..., None]}
    lm = location_map(maps, image, "feat", CFG)
    assert lm.shape == (128, 128, 1)
    pts = locate(lm, "feat", 0.5 * lm.max())
    assert _score(pts).f1 == 1.0
    with pytest.raises(ValueError, match="needs a MapDe"):
        location_map({"map": maps["map"]}, image, "feat", CFG)


def test_locate_per_class_channels():
    m = np.concatenate([_score_map(DOTS[:2]), _score_map(DOTS[2:])], axis=-1)
    pts, cls = locate(m, "peak", 2.0, 4, return_classes=True)
    assert len(pts) == 5 and sorted(cls.tolist()) == [0, 0, 1, 1, 1]


def test_tune_picks_a_working_threshold():
    samples = [_sample(), _sample(DOTS[:3] + 5, name="b")]
    lms = [_score_map(s.points)[..., 0] for s in samples]
    params, sweep = tune(lms, samples, "peak", CFG)
    assert sweep["F1Score"].max() == 1.0 and params["min_distance"] in CFG.min_distances
    assert {"threshold", "Precision", "Recall", "F1Score", "min_distance"} <= set(sweep.columns)


def test_guided_filter_smooths_flat_regions_and_keeps_edges():
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    src = guide + np.random.default_rng(0).normal(0, 0.1, guide.shape).astype(np.float32)
    out = guided_filter(guide, src, 3, 1e-3)
    assert np.std(out[:, :15]) < 0.5 * np.std(src[:, :15])
    assert out[:, 25:].mean() - out[:, :15].mean() > 0.9
    with pytest.raises(ValueError, match="guide is"):
        guided_filter(guide[:30], src)


def test_predict_maps_tiling_and_size_errors():
    m = MapDe(width=1 / 32)
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (200, 240, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="smaller than Micro-Net's 252x252 input and tiling is off"):
        predict_maps(m, small, tile=False)
    with pytest.raises(ValueError, match="larger"):
        predict_maps(m, rng.integers(0, 255, (300, 260, 3), dtype=np.uint8), tile=False)
    out = predict_maps(m, small)   # padded into one tile
    assert out["map"].shape == (200, 240, 1) and out["feat"].shape == (200, 240, 1)
    exact = rng.integers(0, 255, (252, 252, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict_maps(m, exact)["map"], predict_maps(m, exact, tile=False)["map"])
    big = predict_maps(m, rng.integers(0, 255, (400, 300, 3), dtype=np.uint8), margin=16)
    assert big["map"].shape == (400, 300, 1)
    with pytest.raises(ValueError):
        predict_maps(m, np.zeros((300, 300), np.uint8))
