import keras
import numpy as np
import pytest

from common.testing import run_config_roundtrip, run_dtype_check, run_model_saving_test
from pointnet_cells.model import (
    ANCHOR_OFFSETS,
    DensityNet,
    PointNet,
    VGGPreprocess,
    anchor_points,
    build_point_model,
    proposal_scores,
)
from tests.pointnet_cells.helpers import tiny


def test_anchor_layout_five_per_32_px_region():
    a = anchor_points(64, 96)
    assert a.shape == (2 * 3 * 5, 2)
    first = a[:5]   # region (row 0, column 0), centre (16, 16)
    np.testing.assert_array_equal(first, [[16, 16], [8, 8], [8, 24], [24, 24], [24, 8]])
    assert ANCHOR_OFFSETS == ((0, 0), (-1, -1), (-1, 1), (1, 1), (1, -1))
    # every 32 x 32 region holds exactly five anchors, the first at its centre
    cells = np.floor(a / 32).astype(int)
    _, counts = np.unique(cells, axis=0, return_counts=True)
    assert len(counts) == 6 and set(counts) == {5}
    np.testing.assert_array_equal(a[5::5][:2], [[48, 16], [80, 16]])   # row-major regions
    with pytest.raises(ValueError, match="multiples of 32"):
        anchor_points(60, 64)


def _tiny_model(row="ours", **kw):
    return build_point_model(tiny(row, **kw), n_classes=4, verbose=False)


def test_zero_offsets_give_the_anchors_and_output_layout():
    m = _tiny_model()
    out = np.asarray(m(np.zeros((2, 64, 96, 3), "float32")))
    assert out.shape == (2, 30, 2 + 2 + 4)       # x, y, 2 detection logits, 4 class logits
    np.testing.assert_allclose(out[0, :, :2], anchor_points(64, 96), atol=1e-5)   # regression starts at zero
    single = _tiny_model("Baseline")
    assert single(np.zeros((1, 64, 64, 3), "float32")).shape == (1, 20, 2 + 1 + 4)


def test_proposal_scores_are_probabilities():
    raw = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    pts, p_obj, p_cls = proposal_scores(raw, "independent", 4)
    assert pts.shape == (3, 2) and p_obj.shape == (3,) and p_cls.shape == (3, 4)
    np.testing.assert_allclose(p_cls.sum(-1), 1.0, rtol=1e-6)
    raw1 = raw[:, :7]
    _, p_obj1, p_cls1 = proposal_scores(raw1, "single", 4)
    e = np.exp(raw1[:, 2:] - raw1[:, 2:].max(1, keepdims=True))
    np.testing.assert_allclose(p_obj1, 1 - e[:, 0] / e.sum(1), rtol=1e-6)
    np.testing.assert_allclose(p_cls1.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("row", ["ours", "Baseline", "Baseline+PFA"])
def test_point_models_save_and_round_trip(row, tmp_path):
    m = _tiny_model(row)
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    run_model_saving_test(m, x, directory=str(tmp_path))
    run_config_roundtrip(m, x)
    run_dtype_check(m, x)


def test_pfa_reads_every_vgg_level_and_the_baseline_p2pnets_two():
    assert len(_tiny_model().backbone.outputs) == 6
    baseline = _tiny_model("Baseline")
    bb = baseline.backbone
    assert [t.shape[-1] for t in bb.outputs] == [bb.get_layer(n).filters for n in ("block4_conv3", "block5_conv3")]
    assert bb.outputs[0] is bb.get_layer("block4_conv3").output and bb.outputs[1] is bb.get_layer("block5_conv3").output
    # P2PNet's FPN-lite: P5 from stride 16, added to stride 8 at the head width; its heads are plain 3x3 convs
    assert baseline.get_layer("p2p_p5").filters == baseline.head_channels
    assert baseline.get_layer("p2p_grid").strides == (4, 4)
    assert baseline.get_layer("cls_out").kernel_size == (3, 3) and baseline.get_layer("reg_conv1").filters == \
        baseline.head_channels
    old = build_point_model(tiny("Baseline", p2pnet=False), 4, verbose=False)   # runs made before: still built
    assert len(old.backbone.outputs) == 1 and old.get_layer("pfa_reduce_s8").filters == max(4, old.head_channels // 8)
    pooled = build_point_model(tiny("ours", aggregation="pool"), 4, verbose=False)
    assert pooled.get_layer("pfa_pool_s4").pool_size == (8, 8)


def test_width_one_is_keras_vgg16_and_random_init_is_announced(capsys):
    m = build_point_model(tiny(width=1.0, head_channels=8), n_classes=2)
    assert "random weights" in capsys.readouterr().err
    names = [layer.name for layer in m.backbone.layers if "conv" in layer.name]
    assert names[0] == "block1_conv1" and names[-1] == "block5_conv3" and len(names) == 13
    assert m.backbone.get_layer("block1_conv1").filters == 64 and m.input_scale == pytest.approx(1 / 58)


def test_imagenet_weights_load_from_a_file(tmp_path):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg16_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, vgg)
    m = build_point_model(tiny(width=1.0, head_channels=8, vgg_weights=str(path)), n_classes=2)
    np.testing.assert_array_equal(m.backbone.get_layer("block3_conv2").get_weights()[0],
                                  vgg.get_layer("block3_conv2").get_weights()[0])
    assert m.input_scale == 1.0    # Caffe input for ImageNet weights
    with pytest.raises(FileNotFoundError, match="VGG16 weights"):
        build_point_model(tiny(width=1.0, vgg_weights=str(tmp_path / "none.h5")), n_classes=2)
    with pytest.raises(ValueError, match="width 1.0"):
        build_point_model(tiny(vgg_weights=str(path)), n_classes=2)


def test_preprocess_is_caffe():
    x = np.array([[[[10.0, 20.0, 30.0]]]], "float32")
    y = np.asarray(VGGPreprocess()(x))
    np.testing.assert_allclose(y[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="heads"):
        PointNet(heads="two")
    with pytest.raises(ValueError, match="arch"):
        DensityNet("vgg")


@pytest.mark.parametrize("arch", ["fcrn_a", "fcrn_b", "unet", "resunet", "deeplabv3plus", "zhang"])
def test_density_networks(arch, tmp_path):
    m = DensityNet(arch, 3, width=0.0625, name=arch)
    x = np.random.default_rng(2).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    out = np.asarray(m(x))
    assert out.shape == (1, 64, 64, 4) and out.min() >= 0 and out.max() <= 1
    run_model_saving_test(m, x, directory=str(tmp_path))
    run_config_roundtrip(m, x)
    assert np.asarray(m(np.zeros((1, 96, 128, 3), "float32"))).shape == (1, 96, 128, 4)   # any multiple of 16
