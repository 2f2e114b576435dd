import keras
import numpy as np
import pytest

from awarenet import AwareNetConfig, build_classifier, build_detector
from awarenet.losses import WeightedDiceLoss, weighted_dice
from common.testing import (
    run_config_roundtrip,
    run_model_saving_test,
    run_serialization_test,
)


@pytest.fixture(scope="module")
def small_config():
    return AwareNetConfig(input_size=32, base_filters=4, depth=3)

def test_detector_shapes_and_head():
    model = build_detector(AwareNetConfig())  # paper size: 256x256x3, base 16, depth 4
    assert model.input_shape == (None, 256, 256, 3) and model.output_shape == (None, 256, 256, 1)
    head = model.get_layer("prob")
    assert head.kernel.shape == (1, 1, 16, 1) and head.activation.__name__ == "sigmoid"
    assert [model.get_layer(n).filters for n in ("enc1", "enc2", "enc3", "bottleneck")] == [16, 32, 64, 128]
    assert isinstance(model.get_layer("pool1"), keras.layers.AveragePooling2D)
    up = model.get_layer("up1")
    assert up.strides == (2, 2) and up.kernel_size == (2, 2)
    # Skips come from the encoder block before pooling: 256x256x(16 + 16) into the last decoder block.
    assert model.get_layer("skip1").output.shape == (None, 256, 256, 32)

@pytest.mark.parametrize("depth, base", [(3, 4), (5, 2)])
def test_detector_configurable(depth, base):
    m = build_detector(AwareNetConfig(input_size=32, base_filters=base, depth=depth))
    out = m(np.zeros((2, 32, 32, 3), np.float32))
    assert tuple(out.shape) == (2, 32, 32, 1)
    assert m.get_layer("bottleneck").filters == base * 2 ** (depth - 1)

def test_detector_round_trips(tmp_path, small_config):
    m = build_detector(small_config)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    run_model_saving_test(m, x, directory=str(tmp_path))
    run_config_roundtrip(m, x)

def test_classifier_features_and_round_trips(tmp_path):
    cfg = AwareNetConfig()
    clf = build_classifier(cfg, n_classes=3)
    assert clf.input_shape == (None, 28, 28, 3) and clf.output_shape == (None, 3)
    assert [clf.get_layer(n).filters for n in ("conv0", "block1_conv1", "block2_conv1")] == [16, 32, 64]
    feats = clf.feature_extractor()(np.zeros((5, 28, 28, 3), np.float32))
    assert tuple(feats.shape) == (5, 200)
    x = np.random.default_rng(1).uniform(size=(3, 28, 28, 3)).astype(np.float32)
    probs = keras.ops.convert_to_numpy(clf(x))
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    run_model_saving_test(clf, x, directory=str(tmp_path))
    run_config_roundtrip(clf, x)

def numpy_eq5(r, y, w, eps):
    return 1 - (2 * np.sum(w * y * r) + eps) / (np.sum(w * (y + r)) + eps)


@pytest.mark.parametrize("eps", [1e-5, 1.0])
def test_loss_matches_numpy_eq5(eps):
    rng = np.random.default_rng(0)
    r = (rng.random((3, 16, 16, 1)) > 0.7).astype(np.float32)
    y = rng.random((3, 16, 16, 1)).astype(np.float32)
    w = rng.uniform(0.3, 9, (3, 16, 16, 1)).astype(np.float32)
    got = float(weighted_dice(r, y, w, eps))
    assert got == pytest.approx(numpy_eq5(r, y, w, eps), rel=1e-5)
    assert float(weighted_dice(r, y, None, eps)) == pytest.approx(numpy_eq5(r, y, 1.0, eps), rel=1e-5)
    loss = WeightedDiceLoss(eps=eps)
    assert float(loss(np.concatenate([r, w], -1), y)) == pytest.approx(numpy_eq5(r, y, w, eps), rel=1e-5)
    plain = WeightedDiceLoss(eps=eps, use_weights=False)
    assert float(plain(np.concatenate([r, w], -1), y)) == pytest.approx(numpy_eq5(r, y, 1.0, eps), rel=1e-5)
    # Summed over the whole batch, not averaged per image.
    per_image = np.mean([numpy_eq5(r[i], y[i], w[i], eps) for i in range(3)])
    assert got != pytest.approx(per_image, rel=1e-6)

def test_loss_on_a_patch_without_cells_is_finite():
    z = np.zeros((1, 8, 8, 1), np.float32)
    assert float(weighted_dice(z, z, np.ones_like(z))) == pytest.approx(0.0)
    assert np.isfinite(float(weighted_dice(z, z + 0.5, np.ones_like(z))))

def test_loss_serialises():
    run_serialization_test(WeightedDiceLoss(eps=1.0, use_weights=False))
