import keras
import numpy as np
import pytest

from common.baselines.unet import UNet
from common.testing import run_config_roundtrip, run_dtype_check, run_model_saving_test, run_serialization_test
from sdrdin import SDRDIN, PixelWeightedCE, build_sdrdin
from tests.sdrdin.helpers import tiny

X = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def small(branches="both", stop_gradient=True, **kw):
    return SDRDIN(6, 32, 4, 3, branches, stop_gradient, **kw)


def test_both_output_shapes_and_heads():
    out = small()(X)
    assert set(out) == {"class", "det"}
    assert out["class"].shape == (2, 32, 32, 7) and out["det"].shape == (2, 32, 32, 1)
    np.testing.assert_allclose(np.sum(out["class"], -1), 1.0, rtol=1e-5)   # softmax over C + 1
    assert np.all((np.asarray(out["det"]) > 0) & (np.asarray(out["det"]) < 1))   # sigmoid


@pytest.mark.parametrize("branches, keys", [("detection", {"det"}), ("classification", {"class"})])
def test_single_task_variants_have_one_output(branches, keys):
    m = small(branches)
    assert set(m(X)) == keys and m.tasks == tuple(sorted(keys)) and not m.stop_gradient
    assert not any("stop" in layer.name for layer in m.layers)


def test_layout_follows_the_paper():
    m = SDRDIN(6, 224, 16, 4)
    assert [m.get_layer(f"enc{i}").filters for i in (1, 2, 3)] + [m.get_layer("enc_last").filters] == [16, 32, 64, 128]
    assert [layer.name for layer in m.layers if layer.name.startswith("det_stop")] == ["det_stop3", "det_stop2",
                                                                                       "det_stop1"]
    assert all(isinstance(m.get_layer(f"pool{i}"), keras.layers.AveragePooling2D) for i in (1, 2, 3))
    assert m.get_layer("det_with_class") is not None and m.get_layer("det_conv1").kernel.shape[:2] == (3, 3)
    assert m.get_layer("det").kernel.shape[:2] == (1, 1) and m.get_layer("class").kernel.shape[:2] == (1, 1)
    assert m.encoder_model()(np.zeros((1, 224, 224, 3), "float32")).shape == (1, 28, 28, 128)


def _encoder_grads(model):
    import tensorflow as tf

    t = np.zeros((2, 32, 32, 1), "float32")
    t[:, 10:14, 10:14] = 1
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(t, model(X, training=True)["det"])
    grads = tape.gradient(loss, [model.get_layer("enc1").p3.kernel])
    return grads[0]


def test_detection_loss_sends_no_gradient_through_the_stopped_skips():
    """The detection loss reaches the encoder by three paths: the bottleneck, the skips and the
    classification decoder (det_with_class). Cut the other two (zero the kernels that read them) and
    what is left is the skips: S-DRDIN's encoder then gets exactly no gradient, S-DRDIN-gradient's does."""
    keras.utils.set_random_seed(0)
    stop, free = small(stop_gradient=True), small(stop_gradient=False)
    free.set_weights(stop.get_weights())
    for m in (stop, free):
        k, b = m.get_layer("det_conv1").get_weights()
        k[:, :, 4:, :] = 0.0                      # the channels from the classification decoder
        m.get_layer("det_conv1").set_weights([k, b])
        k, b = m.get_layer("det_up2").get_weights()
        m.get_layer("det_up2").set_weights([np.zeros_like(k), b])   # the bottleneck path
    g_stop, g_free = _encoder_grads(stop), _encoder_grads(free)
    assert g_stop is None or float(np.max(np.abs(g_stop))) == 0.0
    assert float(np.max(np.abs(g_free))) > 0.0
    # uncut, both train the encoder (through the bottleneck), but differently
    keras.utils.set_random_seed(0)
    a, b = small(stop_gradient=True), small(stop_gradient=False)
    b.set_weights(a.get_weights())
    ga, gb = _encoder_grads(a), _encoder_grads(b)
    assert float(np.max(np.abs(ga))) > 0 and not np.allclose(ga, gb)


def test_stopping_everything_sends_no_detection_gradient_to_the_encoder():
    """stop_scope="all" also stops the bottleneck and the classification features into the detection head:
    uncut, the encoder then gets no detection gradient at all, while "skips" (section 2.3) still sends it."""
    keras.utils.set_random_seed(0)
    skips, everything = small(stop_gradient=True), small(stop_gradient=True, stop_scope="all")
    g_all = _encoder_grads(everything)
    assert g_all is None or float(np.max(np.abs(g_all))) == 0.0
    assert float(np.max(np.abs(_encoder_grads(skips)))) > 0.0
    assert everything.get_config()["stop_scope"] == "all"
    assert type(everything).from_config(everything.get_config()).stop_scope == "all"
    with pytest.raises(ValueError, match="stop_scope"):
        small(stop_scope="encoder")


def test_builder_follows_the_rows():
    assert build_sdrdin(tiny("S-DRDIN (all stopped)"), 6).stop_scope == "all"
    assert build_sdrdin(tiny("S-DRDIN"), 6).stop_gradient
    assert not build_sdrdin(tiny("S-DRDIN-gradient"), 6).stop_gradient
    assert build_sdrdin(tiny("DRDIN-detection"), 6).tasks == ("det",)
    assert build_sdrdin(tiny("S-DRDIN"), 6, input_size=None).input_shape == (None, None, None, 3)


@pytest.mark.parametrize("branches", ["both", "detection", "classification"])
def test_every_variant_saves_serialises_and_is_float32(branches, tmp_path):
    m = small(branches, stop_gradient=branches == "both")
    run_model_saving_test(m, X[:1], directory=str(tmp_path))
    run_config_roundtrip(m, X[:1])
    run_dtype_check(m, X[:1])


def test_unet_baseline():
    u = UNet(7, 32, 4, 3, head="softmax", output_name="class")
    assert u(X).shape == (2, 32, 32, 7)
    run_config_roundtrip(u, X[:1])
    with pytest.raises(ValueError, match="divisible"):
        UNet(1, 30, 4, 3)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="branches"):
        SDRDIN(6, 32, 4, 3, branches="two")
    with pytest.raises(ValueError, match="divisible"):
        SDRDIN(6, 30, 4, 3)


def _weighted_ce_numpy(y, p):
    b, h, w, nc = y.shape
    n = h * w
    counts = y.sum(axis=(0, 1, 2))
    wc = np.where(counts > 0, n * nc * b / np.maximum(counts, 1e-12), 0.0)          # eq. 1
    per_image = -(y * np.log(p) * wc).sum(axis=(1, 2, 3)) / (nc * n)                # eq. 2
    return per_image.mean()


def test_pixel_weights_of_eq1_on_a_hand_made_batch():
    """Two 4x4 maps, 3 channels: class 0 on 2 pixels, class 1 on 6, background on the other 24."""
    y = np.zeros((2, 4, 4, 3), "float32")
    y[..., 2] = 1
    y[0, 0, 0] = y[1, 3, 3] = (1, 0, 0)
    y[0, 1, :3] = y[1, 2, :3] = (0, 1, 0)
    p = np.random.default_rng(1).dirichlet((1, 1, 1), size=(2, 4, 4)).astype("float32")
    got = float(PixelWeightedCE()(y, p))
    np.testing.assert_allclose(got, _weighted_ce_numpy(y, p), rtol=1e-5)
    # w = N * Nc * B / count = 16 * 3 * 2 / (2, 6, 24) = (48, 16, 4): each class's mean CE counts once
    per_class = [-np.log(p[..., c][y[..., c] == 1]).mean() for c in range(3)]
    np.testing.assert_allclose(got, sum(per_class), rtol=1e-5)
    # a class absent from the batch gets weight 0, and pixels with no target at all are ignored
    y2 = y.copy()
    y2[..., 0] = 0
    assert np.isfinite(float(PixelWeightedCE()(y2, p)))
    plain = float(PixelWeightedCE("none")(y, p))
    np.testing.assert_allclose(plain, -(y * np.log(p)).sum(-1).mean(), rtol=1e-5)


def test_loss_serialises():
    run_serialization_test(PixelWeightedCE("none"))
    with pytest.raises(ValueError, match="weighting"):
        PixelWeightedCE("inverse")


def test_a_class_map_with_the_wrong_channel_count_is_a_clear_error():
    p = np.full((1, 4, 4, 7), 1 / 7, "float32")
    with pytest.raises(ValueError, match="class map has 5 channels but the classification output 7"):
        PixelWeightedCE()(np.zeros((1, 4, 4, 5), "float32"), p)
