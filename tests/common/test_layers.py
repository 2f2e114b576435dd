import keras
import numpy as np
import pytest

from common import labels
from common.layers import FixedConv2D, InceptionBlock, NearestUpsampling2D, StopGradient
from common.testing import (
    run_config_roundtrip,
    run_model_saving_test,
    run_serialization_test,
)


def tiny_model(stop=True):
    inp = keras.Input((16, 16, 3))
    x = InceptionBlock(4, name="inc")(inp)
    s = StopGradient(name="stop")(x) if stop else x
    y = InceptionBlock(4, batch_norm=True, name="inc_bn")(s)
    out = FixedConv2D.from_filter(labels.mapping_filter(), in_channels=4, out_channels=1, activation="relu",
                                  name="fixed")(y)
    return keras.Model(inp, out)


def test_inception_block_shape_and_structure():
    blk = InceptionBlock(8)
    y = blk(np.zeros((2, 12, 12, 3), np.float32))
    assert tuple(y.shape) == (2, 12, 12, 8)
    assert len(blk.trainable_weights) == 10  # five convolutions, kernel + bias each
    bn = InceptionBlock(8, batch_norm=True)
    bn(np.zeros((1, 12, 12, 3), np.float32))
    assert len(bn.non_trainable_weights) == 4  # moving mean / variance of two BN layers


def test_inception_block_is_the_add_of_three_paths():
    blk = InceptionBlock(3)
    x = np.random.default_rng(0).normal(size=(1, 9, 9, 2)).astype(np.float32)
    y = keras.ops.convert_to_numpy(blk(x))
    expect = blk.p1b(blk.p1a(x)) + blk.p2b(blk.p2a(x)) + blk.p3(x)
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(expect), atol=1e-6)


def test_fixed_conv_is_the_filter_and_not_trainable():
    f = labels.mapping_filter()
    layer = FixedConv2D.from_filter(f, 1, 1)
    dots = labels.dot_image([[10, 10], [20, 15]], (32, 32))
    out = keras.ops.convert_to_numpy(layer(dots[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_allclose(out, labels.mapped_label([[10, 10], [20, 15]], (32, 32)), atol=1e-5)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    layer.trainable = True
    assert layer.trainable_weights == []


def test_fixed_conv_sum_and_diagonal_modes():
    f = np.zeros((3, 3), np.float32)
    f[1, 1] = 1.0
    x = np.random.default_rng(1).normal(size=(1, 5, 5, 2)).astype(np.float32)
    s = keras.ops.convert_to_numpy(FixedConv2D.from_filter(f, 2, 1)(x))
    np.testing.assert_allclose(s[..., 0], x.sum(-1), atol=1e-6)
    d = keras.ops.convert_to_numpy(FixedConv2D.from_filter(f, 2, 2, mode="diagonal")(x))
    np.testing.assert_allclose(d, x, atol=1e-6)
    v = FixedConv2D.from_filter(np.ones((3, 3)), 2, 1, padding="valid")
    assert tuple(v(x).shape) == (1, 3, 3, 1)


def test_fixed_conv_unchanged_by_training():
    model = tiny_model(stop=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    before = keras.ops.convert_to_numpy(model.get_layer("fixed").kernel).copy()
    x = np.random.default_rng(0).uniform(size=(4, 16, 16, 3)).astype(np.float32)
    model.fit(x, np.ones((4, 16, 16, 1), np.float32), epochs=2, batch_size=2, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("fixed").kernel), before)


def test_stop_gradient_blocks_gradients():
    import tensorflow as tf

    x = tf.constant(np.ones((1, 3), np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = StopGradient()(x * 2.0)
        z = x * 2.0
    assert tape.gradient(y, x) is None
    assert np.allclose(tape.gradient(z, x).numpy(), 2.0)


def test_model_saving_and_config_round_trips(tmp_path):
    model = tiny_model()
    x = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    restored = run_model_saving_test(model, x, directory=str(tmp_path))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored.get_layer("fixed").kernel),
                                  keras.ops.convert_to_numpy(model.get_layer("fixed").kernel))
    assert restored.get_layer("fixed").trainable_weights == []
    run_config_roundtrip(model, x)
    for layer in (InceptionBlock(5, batch_norm=True), FixedConv2D(np.ones((3, 3, 2, 1)), activation="relu"),
                  StopGradient(), NearestUpsampling2D(3)):
        run_serialization_test(layer)


@pytest.mark.parametrize("size", [2, 4])
def test_nearest_upsampling_equals_keras_upsampling_with_dynamic_shapes(size):
    import tensorflow as tf

    x = np.random.default_rng(1).normal(size=(2, 5, 7, 3)).astype(np.float32)
    ours, theirs = NearestUpsampling2D(size), keras.layers.UpSampling2D(size)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours(x)), keras.ops.convert_to_numpy(theirs(x)))
    inp = keras.Input((None, None, 3))
    assert NearestUpsampling2D(size)(inp).shape == (None, None, None, 3)
    assert NearestUpsampling2D(size)(keras.Input((5, 7, 3))).shape == (None, 5 * size, 7 * size, 3)
    fn = tf.function(lambda t: ours(t), input_signature=[tf.TensorSpec((None, None, None, 3))])  # multi-scale
    np.testing.assert_array_equal(fn(x).numpy(), keras.ops.convert_to_numpy(theirs(x)))
    w = np.random.default_rng(2).normal(size=(2, 5 * size, 7 * size, 3)).astype(np.float32)
    grads = []
    for layer in (ours, theirs):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(layer(xt) * w)
        grads.append(tape.gradient(loss, xt).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-6)


def test_models_do_not_use_keras_upsampling():
    # Keras' UpSampling2D tiles, and the tile's gradient makes oneDNN log an error line in training.
    from pointnet_cells.config import DENSITY_NETS
    from pointnet_cells.model import build_density_model, build_point_model
    from tests.pointnet_cells.helpers import tiny
    from tests.yolo_transfer.helpers import tiny as tiny_yolo
    from yolo_transfer.model import build_yolo

    models = [build_point_model(tiny(row), n_classes=2, verbose=False) for row in ("P2PNet", "ours")]
    models += [build_density_model(tiny(density_net=net), 2) for net in DENSITY_NETS]
    models += [build_yolo(tiny_yolo(), 2), build_yolo(tiny_yolo(model="yolov3"), 2)]
    for m in models:
        if not m.built:
            m(np.zeros((1, 64, 64, 3), np.float32))
        found = [layer.name for layer in m._flatten_layers() if type(layer).__name__ == "UpSampling2D"]
        assert not found, (m.name, found)
