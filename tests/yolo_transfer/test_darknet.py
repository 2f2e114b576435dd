import struct

import numpy as np
import pytest

from yolo_transfer import YOLOv3, load_darknet_weights, save_darknet_weights
from yolo_transfer.darknet import read_header
from yolo_transfer.model import COCO_ANCHORS, TINY_ANCHORS, conv_layers


def _random(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") if "variance" not in w.path
                       else rng.uniform(0.5, 2, size=w.shape).astype("float32") for w in model.weights])
    return model


def _spec_file(path, model, major=0, minor=2, seen=1234, seen_fmt="<q"):
    """A Darknet file written straight from the format description, independently of our writer."""
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", major, minor, 0) + struct.pack(seen_fmt, seen))
        for _, conv, bn in conv_layers(model):
            if bn is not None:
                gamma, beta, mean, var = bn.get_weights()
                arrays = [beta, gamma, mean, var]
            else:
                arrays = [conv.get_weights()[1]]
            kernel = conv.get_weights()[0]                  # (kh, kw, in, out)
            arrays.append(np.transpose(kernel, (3, 2, 0, 1)))  # Darknet: (out, in, kh, kw)
            for a in arrays:
                f.write(np.asarray(a, "<f4").tobytes())


def _same(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("major, minor, fmt, header_bytes", [(0, 2, "<q", 20), (0, 1, "<i", 16)])
def test_reader_follows_the_format_for_both_header_variants(tmp_path, major, minor, fmt, header_bytes):
    src = _random(YOLOv3(3, TINY_ANCHORS, "tiny", width=0.125))
    path = tmp_path / "tiny.weights"
    _spec_file(path, src, major, minor, seen=77, seen_fmt=fmt)
    assert read_header(path) == ((major, minor, 0, 77), header_bytes)
    dst = YOLOv3(3, TINY_ANCHORS, "tiny", width=0.125)
    report = load_darknet_weights(dst, path)
    assert report["loaded"] == list(range(13)) and not report["skipped"]
    _same(src, dst)


@pytest.mark.parametrize("bits", [64, 32])
def test_writer_and_reader_round_trip(tmp_path, bits):
    src = _random(YOLOv3(3, COCO_ANCHORS, "yolov3", width=0.125), seed=1)
    path = save_darknet_weights(src, tmp_path / "y.weights", seen=5, seen_bits=bits)
    assert read_header(path)[0] == (0, 2 if bits == 64 else 1, 0, 5)
    dst = YOLOv3(3, COCO_ANCHORS, "yolov3", width=0.125)
    load_darknet_weights(dst, path)
    _same(src, dst)
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    for a, b in zip(src(x), dst(x)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    with pytest.raises(ValueError, match="exists"):
        save_darknet_weights(src, path)


def test_a_backbone_file_fills_the_darknet_only(tmp_path):
    src = _random(YOLOv3(3, COCO_ANCHORS, "yolov3", width=0.125), seed=2)
    path = save_darknet_weights(src.get_layer("darknet"), tmp_path / "darknet53.conv.74")
    dst = YOLOv3(3, COCO_ANCHORS, "yolov3", width=0.125)
    head_before = dst.get_layer("multiscale").get_weights()
    report = load_darknet_weights(dst, path)
    assert report["loaded"] == list(range(52))
    _same(src.get_layer("darknet"), dst.get_layer("darknet"))
    for u, v in zip(head_before, dst.get_layer("multiscale").get_weights()):
        np.testing.assert_array_equal(u, v)


def test_a_file_of_another_class_count_skips_the_output_convolutions(tmp_path):
    coco = _random(YOLOv3(80, TINY_ANCHORS, "tiny", width=0.125), seed=3)
    path = save_darknet_weights(coco, tmp_path / "coco.weights")
    dst = YOLOv3(3, TINY_ANCHORS, "tiny", width=0.125)
    report = load_darknet_weights(dst, path)
    assert report["skipped"] == [9, 12] and report["file_classes"] == 80
    _same(coco.get_layer("darknet"), dst.get_layer("darknet"))
    _same(coco.get_layer("multiscale"), dst.get_layer("multiscale"))


def test_truncated_and_overlong_files_raise_clear_errors(tmp_path):
    m = _random(YOLOv3(3, TINY_ANCHORS, "tiny", width=0.125))
    path = save_darknet_weights(m, tmp_path / "ok.weights")
    data = path and open(path, "rb").read()
    (tmp_path / "cut.weights").write_bytes(data[:-400])
    with pytest.raises(ValueError, match="truncated"):
        load_darknet_weights(m, tmp_path / "cut.weights")
    (tmp_path / "odd.weights").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="whole number of float32"):
        load_darknet_weights(m, tmp_path / "odd.weights")
    (tmp_path / "long.weights").write_bytes(data + b"\0" * 4)
    with pytest.raises(ValueError, match="another network"):
        load_darknet_weights(m, tmp_path / "long.weights")
    (tmp_path / "head.weights").write_bytes(data[:14])
    with pytest.raises(ValueError, match="seen"):
        load_darknet_weights(m, tmp_path / "head.weights")
    with pytest.raises(FileNotFoundError):
        load_darknet_weights(m, tmp_path / "missing.weights")
