import os

import numpy as np
import pytest

from common.io import write_image
from tests.yolo_transfer.helpers import tiny
from yolo_transfer.data import (
    augment,
    check_boxes,
    letterbox,
    load_data,
    load_voc_folder,
    load_yolo_folder,
    train_stream,
)

IMG = np.full((48, 64, 3), 200, np.uint8)


def _voc(folder, name, objects, split="train", size=(64, 48)):
    os.makedirs(folder / "Annotations", exist_ok=True)
    os.makedirs(folder / "JPEGImages", exist_ok=True)
    os.makedirs(folder / "ImageSets" / "Main", exist_ok=True)
    write_image(folder / "JPEGImages" / f"{name}.png", IMG)
    objs = "".join(f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                   f"<ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    (folder / "Annotations" / f"{name}.xml").write_text(
        f"<annotation><filename>{name}.png</filename><size><width>{size[0]}</width><height>{size[1]}</height>"
        f"</size>{objs}</annotation>")
    with open(folder / "ImageSets" / "Main" / f"{split}.txt", "a") as f:
        f.write(name + "\n")


def _ultra(folder, lines, names="names: [RBC, WBC, Platelets]\n", split="train", stem="a"):
    os.makedirs(folder / "images" / split, exist_ok=True)
    os.makedirs(folder / "labels" / split, exist_ok=True)
    (folder / "data.yaml").write_text(f"path: .\ntrain: images/train\nval: images/val\n{names}")
    write_image(folder / "images" / split / f"{stem}.png", IMG)
    (folder / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + "\n")


def test_voc_folder(tmp_path):
    _voc(tmp_path, "x1", [("WBC", (11, 11, 31, 21)), ("RBC", (1, 1, 10, 10))])
    s = load_voc_folder(tmp_path, "train")
    assert s.class_names == ("RBC", "WBC") and len(s) == 1
    np.testing.assert_allclose(s[0].boxes, [[10, 10, 30, 20], [0, 0, 9, 9]])   # VOC is 1-based
    assert s[0].classes.tolist() == [1, 0]
    assert load_data(str(tmp_path), "train")[0].name == "x1"


def test_voc_folder_errors(tmp_path):
    _voc(tmp_path, "x1", [("WBC", (11, 11, 90, 21))])
    with pytest.raises(ValueError, match="outside"):
        load_voc_folder(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="split list"):
        load_voc_folder(tmp_path, "val")
    zero = tmp_path / "z"
    _voc(zero, "x2", [("RBC", (5, 5, 5, 9))])
    with pytest.raises(ValueError, match="x2.xml boxes: box 0 .* zero or negative area"):
        load_voc_folder(zero, "train")
    other = tmp_path / "o"
    _voc(other, "y", [("Neutrophil", (2, 2, 9, 9))])
    with pytest.raises(ValueError, match="unknown class"):
        load_voc_folder(other, "train", class_names=("RBC", "WBC"))


def test_ultralytics_folder(tmp_path):
    _ultra(tmp_path, ["1 0.5 0.5 0.25 0.5", "2 0.1 0.1 0.1 0.1"])
    s = load_yolo_folder(tmp_path, "train")
    assert s.class_names == ("RBC", "WBC", "Platelets")
    np.testing.assert_allclose(s[0].boxes, [[24, 12, 40, 36], [3.2, 2.4, 9.6, 7.2]])
    assert s[0].classes.tolist() == [1, 2]
    _ultra(tmp_path / "m", ["0 0.5 0.5 0.2 0.2"], names="nc: 2\nnames: {0: tumour, 1: lymphocyte}\n")
    assert load_data(str(tmp_path / "m"), "train").class_names == ("tumour", "lymphocyte")


@pytest.mark.parametrize("line, message", [
    ("3 0.5 0.5 0.2 0.2", "unknown class id 3"),
    ("0 0.5 0.5 0 0.2", "zero area"),
    ("0 0.95 0.5 0.2 0.2", "outside the image"),
    ("0 0.5 0.5 0.2", "expected 'class cx cy w h'"),
    ("a 0.5 0.5 0.2 0.2", "expected numbers"),
])
def test_ultralytics_bad_boxes_name_file_and_line(tmp_path, line, message):
    _ultra(tmp_path, ["0 0.5 0.5 0.1 0.1", line])
    with pytest.raises(ValueError, match=message) as err:
        load_yolo_folder(tmp_path, "train")
    assert "a.txt:2" in str(err.value)


def test_ultralytics_yaml_errors(tmp_path):
    _ultra(tmp_path, ["0 0.5 0.5 0.1 0.1"])
    with pytest.raises(FileNotFoundError, match="images/test"):
        load_yolo_folder(tmp_path, "test")
    _ultra(tmp_path, ["0 0.5 0.5 0.1 0.1"], names="nc: 3\nnames: [a, b]\n")
    with pytest.raises(ValueError, match="nc is 3"):
        load_yolo_folder(tmp_path, "train")
    _ultra(tmp_path, ["0 0.5 0.5 0.1 0.1"], names="classes: [a]\n")
    with pytest.raises(ValueError, match="needs 'names'"):
        load_yolo_folder(tmp_path, "train")


def test_letterbox_keeps_the_aspect_ratio_on_grey():
    canvas, scale, (dx, dy) = letterbox(np.zeros((480, 640, 3), np.uint8), 416)
    assert canvas.shape == (416, 416, 3) and scale == pytest.approx(0.65) and (dx, dy) == (0, 52)
    assert canvas[0, 0].tolist() == [128, 128, 128] and canvas[100, 100].tolist() == [0, 0, 0]


def test_augmentation_moves_boxes_with_the_image():
    img = np.zeros((100, 100, 3), np.uint8)
    img[20:40, 50:80] = 255
    rng = np.random.default_rng(3)
    for _ in range(10):
        out, boxes, classes = augment(img, [[50, 20, 80, 40]], [1], 128, rng, hue=0, saturation=1, value=1)
        assert out.shape == (128, 128, 3)
        if len(boxes):
            x0, y0, x1, y1 = np.round(boxes[0]).astype(int)
            inner = out[y0 + 2:y1 - 2, x0 + 2:x1 - 2]
            assert inner.size == 0 or inner.mean() > 200
            assert classes.tolist() == [1]


def test_stream_is_a_function_of_the_seed_and_the_batch_index(splits):
    tr = splits[0]
    cfg = tiny()
    from yolo_transfer.model import COCO_ANCHORS

    anchors = [np.asarray(COCO_ANCHORS[3:6], float) / 6.5, np.asarray(COCO_ANCHORS[:3], float) / 6.5]
    a = train_stream(tr, cfg, anchors, (32, 16), 3)
    batches = [next(a) for _ in range(3)]
    b = train_stream(tr, cfg, anchors, (32, 16), 3, start_batch=2)
    x, y = next(b)
    np.testing.assert_array_equal(x, batches[2][0])
    assert x.shape == (2, 64, 64, 3) and [t.shape[1] for t in y] == [2 * 2 * 3 + cfg.max_boxes,
                                                                     4 * 4 * 3 + cfg.max_boxes]
    sizes = {next(train_stream(tr, cfg.with_overrides(multiscale_interval=1), anchors, (32, 16), 3, start_batch=t,
                               sizes=(64, 96)))[0].shape[1] for t in range(8)}
    assert sizes == {64, 96}


def test_check_boxes_refuses_point_data(splits):
    from common.datasets import load

    pts = load("synthetic:mihc", split="train", n_images=1, size=64)
    with pytest.raises(ValueError, match="no boxes"):
        check_boxes(pts)
    with pytest.raises(ValueError, match="empty"):
        check_boxes([])
    assert load("synthetic:he:boxes=1", split="train", n_images=1, size=64)[0].boxes is not None
