"""Micro-Net, MapDe, SC-CNN and the MapDe loss: shapes, fixed filter, serialisation, formulas."""

import numpy as np
import pytest
import tensorflow as tf

from common.baselines.sccnn import SCCNN, SCCNNLoss, SpatiallyConstrained, sccnn_target
from common.layers import FixedConv2D
from common.testing import (
    run_config_roundtrip,
    run_model_saving_test,
    run_serialization_test,
)
from mapde import (
    MapDe,
    MapDeConfig,
    MapDeLoss,
    MicroNet,
    build_mapde,
    build_micronet,
    label_estimate,
)
from mapde.model import PerImageStandardization

W = 1 / 32  # tiny width for tests


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).uniform(0, 255, (2, 252, 252, 3)).astype(np.float32)


def test_mapping_filter_values_in_the_fixed_layer():
    m = MapDe(width=W)
    layer = m.get_layer("mapping_filter")
    assert isinstance(layer, FixedConv2D)
    k = np.asarray(layer.kernel)[:, :, 0, 0]
    assert k.shape == (11, 11) and k[5, 5] == 1.0
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        assert k[5 + dy, 5 + dx] == pytest.approx(0.8)
    assert k[6, 6] == pytest.approx(1 - np.sqrt(2) / 5, abs=1e-6)
    yy, xx = np.mgrid[-5:6, -5:6]
    assert np.all(k[np.hypot(xx, yy) >= 5] == 0) and np.count_nonzero(k) == 69
    np.testing.assert_array_equal(k, m.filter)


def test_micronet_output_and_auxiliary_outputs(x):
    net = MicroNet(n_outputs=2, width=W)
    out = net(x)
    assert sorted(out) == ["aux1", "aux2", "aux3", "main"]
    for v in out.values():
        assert tuple(v.shape) == (2, 252, 252, 2)
    np.testing.assert_allclose(np.asarray(out["aux1"]).sum(-1), 1.0, atol=1e-5)   # softmax
    plain = MicroNet(n_outputs=1, width=W, out_activation="relu", head_activation="relu", aux_outputs=False)
    y = np.asarray(plain(x))
    assert y.shape == (2, 252, 252, 1) and y.min() >= 0


def test_micronet_layout_at_full_width_has_the_paper_filter_counts():
    net = MicroNet(width=1.0, aux_outputs=False)
    assert net.get_layer("b1_a_conv1").filters == 64 and net.get_layer("b5_conv1").filters == 2048
    assert net.get_layer("fm3").filters == 256
    assert tuple(net.get_layer("b4").output.shape[1:3]) == (12, 12)
    assert tuple(net.get_layer("b9").output.shape[1:3]) == (128, 128)
    assert tuple(net.get_layer("fm1").output.shape[1:3]) == (254, 254)


def test_mapde_and_micronet_builders_follow_the_config():
    cfg = MapDeConfig.quick(width=W)
    assert build_mapde(cfg).n_channels == 1
    assert build_mapde(MapDeConfig.quick(width=W, per_class=True), n_classes=4).output.shape[-1] == 4
    with pytest.raises(ValueError, match="n_classes"):
        build_mapde(MapDeConfig.quick(width=W, per_class=True))
    assert build_micronet(cfg).aux_outputs is False
    assert build_micronet(cfg, aux_outputs=True).aux_outputs is True


def test_fixed_filter_is_not_trainable():
    m = MapDe(width=W)
    layer = m.get_layer("mapping_filter")
    assert not layer.trainable_weights and len(layer.non_trainable_weights) == 1
    assert all("mapping_filter" not in w.path for w in m.trainable_weights)


def test_mapde_feature_model_returns_output_and_layer_l1(x):
    m = MapDe(width=W)
    y, f = m.feature_model()(x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(m(x)), atol=1e-6)
    assert f.shape == y.shape and np.asarray(f).min() >= 0


@pytest.mark.parametrize("make", [lambda: MicroNet(2, W), lambda: MapDe(2, W),
                                  lambda: MicroNet(1, W, "relu", "relu", aux_outputs=False)])
def test_models_round_trip(make, x, tmp_path):
    model = make()
    restored = run_model_saving_test(model, x[:1], directory=tmp_path)
    run_config_roundtrip(model, x[:1])
    if isinstance(model, MapDe):
        np.testing.assert_array_equal(np.asarray(restored.get_layer("mapping_filter").kernel),
                                      np.asarray(model.get_layer("mapping_filter").kernel))


def test_sccnn_round_trip_and_shapes(tmp_path):
    m = SCCNN(width=0.25)
    p = np.random.default_rng(1).uniform(0, 255, (3, 31, 31, 3)).astype(np.float32)
    assert tuple(m(p).shape) == (3, 13, 13, 1)
    run_model_saving_test(m, p, directory=tmp_path)
    run_config_roundtrip(m, p)
    dense = m.param_model()(np.zeros((1, 67, 71, 3), np.float32))
    assert tuple(dense.shape) == (1, 10, 11, 3)   # one parameter set per patch at stride 4


@pytest.mark.parametrize("obj", [PerImageStandardization(), SpatiallyConstrained(13, 4.0), MapDeLoss(500.0),
                                 SCCNNLoss(0.2)])
def test_layers_and_losses_serialise(obj):
    run_serialization_test(obj)


def test_per_image_standardization_matches_tensorflow(x):
    ours = np.asarray(PerImageStandardization()(x))
    ref = tf.image.per_image_standardization(x / 255.0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_spatially_constrained_map_is_centred_on_the_estimate():
    layer = SpatiallyConstrained(13, 4.0)
    p = np.array([[[[0.25, 0.75, 0.8]]]], np.float32)   # row 3, col 9, height 0.8
    m = np.asarray(layer(p))[0, ..., 0]
    assert np.unravel_index(m.argmax(), m.shape) == (3, 9) and m.max() == pytest.approx(0.8)
    assert m[3, 9 - 4] > 0 and m[3, 9 - 5] == 0 and m[3 + 3, 9 + 3] == 0   # zero beyond radius 4


def test_sccnn_target():
    t = sccnn_target(np.array([[20.0, 12.0]]), (18, 12))[..., 0]   # cell 2 px right of the centre
    assert np.unravel_index(t.argmax(), t.shape) == (6, 8) and t.max() == pytest.approx(1.0)
    assert t[6, 7] == pytest.approx(1 / 1.5) and t[6, 2] == 0
    assert sccnn_target(np.zeros((0, 2)), (5, 5)).max() == 0


def test_mapde_loss_is_tensorflows_weighted_cross_entropy():
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 8, (2, 5, 5, 1)).astype(np.float32)
    t = rng.uniform(0, 1, (2, 5, 5, 1)).astype(np.float32)
    ref = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(t, y, pos_weight=1000.0)).numpy()
    assert float(MapDeLoss(1000.0)(t, y)) == pytest.approx(ref, rel=1e-5)


def test_mapde_loss_clips_overlapping_labels_so_it_is_bounded_below():
    loss = MapDeLoss(1000.0)
    t = np.full((1, 2, 2, 1), 1.6, np.float32)   # two overlapping cells
    big = float(loss(t, np.full_like(t, 50.0)))
    assert big >= 0 and big == pytest.approx(float(loss(np.ones_like(t), np.full_like(t, 50.0))))
    unclipped = MapDeLoss(1000.0, clip_target=False)
    assert float(unclipped(t, np.full_like(t, 50.0))) < float(unclipped(t, np.full_like(t, 10.0))) < 0


def test_label_estimate_inverts_the_loss_minimiser():
    t = np.array([0.01, 0.2, 0.5, 0.8, 0.95])
    y_star = np.log(1000 * t / (1 - t))   # per-pixel minimiser of the loss
    np.testing.assert_allclose(label_estimate(y_star, 1000.0), t, rtol=1e-4)
    assert label_estimate(np.zeros(3)).max() < 1e-3
    with pytest.raises(ValueError):
        label_estimate(y_star, 0)
