import numpy as np
import pytest

from common.deconv import richardson_lucy
from common.labels import dot_image, mapped_label, mapping_filter
from common.postprocess import guided_filter
from mapde import MapDe, MapDeConfig, locate, location_map
from mapde.inference import MapDePredictor, calibrate
from tests.mapde.helpers import CFG, DOTS, sample, score, score_map


def test_deconvolution_of_a_mapped_dot_image_recovers_the_dots():
    t = mapped_label(DOTS, (128, 128))
    d = richardson_lucy(t, mapping_filter(), 2)
    assert d[40, 40] > d[40, 45] and d[40, 40] > d[45, 40]   # sharper than the blur
    pts = locate(d, "deconv", 0.5 * d.max())
    sc = score(pts, r=1.0)
    assert sc.tp == 5 and sc.fp == 0

def test_proposed_deconv_location_on_a_hand_made_map():
    maps = {"map": score_map(DOTS)}
    lm = location_map(maps, np.zeros((128, 128, 3), np.uint8), "deconv", CFG)
    pts = locate(lm, "deconv", 0.5 * lm.max())
    assert score(pts).f1 == 1.0

def test_peak_location_on_a_hand_made_map():   # MapDe-Peak and Micro-Net-Peak
    maps = {"map": score_map(DOTS)}
    lm = location_map(maps, None, "peak", CFG)
    assert lm is maps["map"]
    assert score(locate(lm, "peak", 2.0, min_distance=4)).f1 == 1.0
    assert len(locate(lm, "peak", 2.0, min_distance=30)) < 5   # a large tolerance merges cells

def test_feat_location_on_a_hand_made_l1_map():
    rng = np.random.default_rng(0)
    feat = dot_image(DOTS, (128, 128))
    feat = np.maximum(feat + rng.normal(0, 0.05, feat.shape), 0).astype(np.float32)
    image = sample().image
    maps = {"map": score_map(DOTS), "feat": feat[..., None]}
    lm = location_map(maps, image, "feat", CFG)
    assert lm.shape == (128, 128, 1)
    pts = locate(lm, "feat", 0.5 * lm.max())
    assert score(pts).f1 == 1.0
    with pytest.raises(ValueError, match="needs a MapDe"):
        location_map({"map": maps["map"]}, image, "feat", CFG)

def test_locate_per_class_channels():
    m = np.concatenate([score_map(DOTS[:2]), score_map(DOTS[2:])], axis=-1)
    pts, cls = locate(m, "peak", 2.0, 4, return_classes=True)
    assert len(pts) == 5 and sorted(cls.tolist()) == [0, 0, 1, 1, 1]

def test_calibrate_picks_a_working_threshold_and_distance():
    samples = [sample(), sample(DOTS[:3] + 5, name="b")]
    lms = [score_map(s.points)[..., 0] for s in samples]
    params, sweep = calibrate(lms, samples, "peak", CFG)
    assert sweep["F1"].max() == 1.0 and params["F1"] == 1.0 and params["min_distance"] in CFG.min_distances
    assert {"threshold", "Precision", "Recall", "F1", "min_distance", "stage"} <= set(sweep.columns)
    assert set(sweep["stage"]) <= {"grid", "extend", "refine"}


def test_deconv_input_raw_is_the_papers_and_label_estimate_is_ours():
    maps = {"map": score_map(DOTS)}
    img = np.zeros((128, 128, 3), np.uint8)
    raw = location_map(maps, img, "deconv", CFG)
    est = location_map(maps, img, "deconv", CFG, deconv_input="label_estimate")
    assert CFG.deconv_input == "raw" and raw.max() > 1.5 and est.max() < 1.5   # the estimate lies in [0, 1)
    assert score(locate(raw, "deconv", 0.5 * raw.max())).f1 == 1.0
    assert score(locate(est, "deconv", 0.5 * est.max())).f1 == 1.0
    with pytest.raises(ValueError, match="deconv_input"):
        location_map(maps, img, "deconv", CFG, deconv_input="sigmoid")


def test_guided_filter_smooths_flat_regions_and_keeps_edges():
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    src = guide + np.random.default_rng(0).normal(0, 0.1, guide.shape).astype(np.float32)
    out = guided_filter(guide, src, 3, 1e-3)
    assert np.std(out[:, :15]) < 0.5 * np.std(src[:, :15])
    assert out[:, 25:].mean() - out[:, :15].mean() > 0.9
    with pytest.raises(ValueError, match="guide is"):
        guided_filter(guide[:30], src)

def test_predictor_tiles_large_images_and_pads_small_ones():
    m = MapDe(width=1 / 32)
    pred = MapDePredictor(m, MapDeConfig.quick(width=1 / 32))
    assert pred.reach > 126 and pred.margin == MapDePredictor.TILE_MARGIN == 16
    assert "differ slightly" in pred.margin_note
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (200, 240, 3), dtype=np.uint8)
    out = pred.maps(small)   # padded into one tile
    assert out["map"].shape == (200, 240, 1) and out["feat"].shape == (200, 240, 1)
    exact = rng.integers(0, 255, (252, 252, 3), dtype=np.uint8)
    one = np.asarray(m.feature_model()(exact[None].astype(np.float32), training=False)[0])[0]
    np.testing.assert_allclose(pred.maps(exact)["map"], one, atol=1e-5)
    big = pred.maps(rng.integers(0, 255, (400, 300, 3), dtype=np.uint8))
    assert big["map"].shape == (400, 300, 1)
    with pytest.raises(ValueError):
        pred.maps(np.zeros((300, 300), np.uint8))
    with pytest.raises(ValueError, match="MapDe, MicroNet or SCCNN"):
        MapDePredictor(object(), CFG)


def test_predictor_batches_tiles_like_one_at_a_time():
    m = MapDe(width=1 / 32)
    img = np.random.default_rng(1).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    one = MapDePredictor(m, CFG, batch_size=1).maps(img)["map"]
    four = MapDePredictor(m, CFG, batch_size=4).maps(img)["map"]
    np.testing.assert_allclose(one, four, atol=1e-5)
