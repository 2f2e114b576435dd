import keras
import numpy as np
import pytest

from common.testing import run_config_roundtrip, run_dtype_check, run_model_saving_test, run_serialization_test
from yolo_transfer import YoloConfig, YOLOv3, build_yolo, set_trainable_modules
from yolo_transfer.model import COCO_ANCHORS, TINY_ANCHORS, conv_layers


@pytest.fixture(scope="module")
def full():
    return YOLOv3(3, COCO_ANCHORS, "yolov3")


def test_yolov3_outputs_at_strides_32_16_8_for_416_and_a_non_square_input(full):
    out = full(np.zeros((1, 416, 416, 3), "float32"))
    assert [tuple(o.shape) for o in out] == [(1, 13, 13, 24), (1, 26, 26, 24), (1, 52, 52, 24)]
    out = full(np.zeros((1, 320, 480, 3), "float32"))
    assert [tuple(o.shape) for o in out] == [(1, 10, 15, 24), (1, 20, 30, 24), (1, 40, 60, 24)]
    assert full.strides == (32, 16, 8)


def test_yolov3_has_the_published_layer_counts(full):
    convs = conv_layers(full)
    assert len(convs) == 75 and sum(bn is not None for _, _, bn in convs) == 72   # 52 backbone + 23 head
    assert [i for i, _, bn in convs if bn is None] == [58, 66, 74]
    assert len(conv_layers(full.get_layer("darknet"))) == 52
    coco = YOLOv3(80, COCO_ANCHORS, "yolov3")
    assert coco.count_params() == 62_001_757   # yolov3.weights' network (Darknet-53 + head, 255 filters)
    assert [layer.name for layer in full.layers if isinstance(layer, keras.Model)] == ["darknet", "multiscale",
                                                                                      "detection"]
    # stride-2 convolutions pad top-left then run 'valid' (Darknet)
    pad = full.get_layer("darknet").get_layer("pad_01")
    assert pad.padding == ((1, 0), (1, 0)) and full.get_layer("darknet").get_layer("conv_01").padding == "valid"


def test_tiny_has_two_scales_and_thirteen_convolutions():
    m = YOLOv3(3, TINY_ANCHORS, "tiny")
    out = m(np.zeros((2, 416, 416, 3), "float32"))
    assert [tuple(o.shape) for o in out] == [(2, 13, 13, 24), (2, 26, 26, 24)]
    assert len(conv_layers(m)) == 13 and [i for i, _, bn in conv_layers(m) if bn is None] == [9, 12]
    assert YOLOv3(80, TINY_ANCHORS, "tiny").count_params() == 8_858_734   # yolov3-tiny.weights' network


def test_anchor_groups_follow_the_masks():
    m = YOLOv3(3, COCO_ANCHORS[::-1], "yolov3", width=0.125)   # given in any order, sorted by area
    groups = m.scale_anchors()
    assert groups[0].tolist() == [[116, 90], [156, 198], [373, 326]]      # mask 6, 7, 8 at stride 32
    assert groups[2].tolist() == [[10, 13], [16, 30], [33, 23]]           # mask 0, 1, 2 at stride 8


def test_freezing_by_stage_counts_trainable_variables():
    m = YOLOv3(3, TINY_ANCHORS, "tiny", width=0.125)
    per = {n: len(m.get_layer(n).trainable_weights) for n in ("darknet", "multiscale", "detection")}
    assert per == {"darknet": 7 * 3, "multiscale": 2 * 3, "detection": 2 * 3 + 2 * 2}   # conv + gamma/beta; outs
    for modules in (("darknet",), ("multiscale",), ("multiscale", "detection")):
        set_trainable_modules(m, modules)
        assert len(m.trainable_weights) == sum(per[n] for n in modules)
        frozen = [n for n in per if n not in modules]
        assert all(not m.get_layer(n).trainable for n in frozen)
    with pytest.raises(ValueError, match="unknown module"):
        set_trainable_modules(m, ("neck",))


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="n_classes"):
        YOLOv3(0)
    with pytest.raises(ValueError, match="variant"):
        YOLOv3(3, variant="yolov4")
    with pytest.raises(ValueError, match="anchors"):
        YOLOv3(3, COCO_ANCHORS[:8])


@pytest.mark.parametrize("variant", ["tiny", "yolov3"])
def test_models_through_the_common_checks(variant, tmp_path):
    m = build_yolo(YoloConfig(model=variant, width=0.125, input_size=64))
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    run_dtype_check(m, x)
    run_config_roundtrip(m, x)
    run_serialization_test(m)
    restored = run_model_saving_test(m, x, directory=str(tmp_path))
    assert restored.scale_anchors()[0].tolist() == m.scale_anchors()[0].tolist()


def test_frozen_state_survives_a_keras_file(tmp_path):
    m = build_yolo(YoloConfig(model="tiny", width=0.125, input_size=64))
    set_trainable_modules(m, ("multiscale", "detection"))
    m.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    assert not back.get_layer("darknet").trainable and back.get_layer("detection").trainable
