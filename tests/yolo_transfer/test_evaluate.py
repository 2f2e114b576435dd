import json

import numpy as np
import pytest

from tests.yolo_transfer.helpers import tiny
from yolo_transfer.evaluate import calibrate_threshold, score_split
from yolo_transfer.inference import _nms_cv2, nms
from yolo_transfer.paper import load
from yolo_transfer.train import train


def test_nms_is_per_class_and_the_tensorflow_and_opencv_paths_agree():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.3, 0.6]])
    b, s, c = nms(boxes, scores, iou=0.5, score_threshold=0.1)
    got = sorted(zip(np.round(s, 3), c, map(tuple, b)))
    # the near-duplicate of class 0 is suppressed; the overlapping box of class 1 is not
    assert [(float(x), int(k)) for x, k, _ in got] == [(0.3, 0), (0.6, 1), (0.7, 1), (0.9, 0)]
    b2, s2, c2 = _nms_cv2(boxes.astype("float32"), scores.astype("float32"), 0.5, 0.1, 300)
    assert sorted(zip(np.round(s2, 3), c2)) == sorted(zip(np.round(s, 3), c))
    empty = nms(np.zeros((0, 4)), np.zeros((0, 2)))
    assert len(empty[0]) == 0


@pytest.fixture(scope="module")
def run(splits, tmp_path_factory):
    tr, va, _ = splits
    folder = tmp_path_factory.mktemp("yolo") / "run"
    train(tiny(), tr, va, folder, verbose=0)
    return folder


def test_predictor_maps_boxes_back_to_the_image(run, splits):
    pred = load(run)
    img = np.zeros((48, 96, 3), np.uint8)           # non-square: letterboxed into 64 x 64
    det = pred.predict(img, threshold=0.0)
    assert len(det) > 0
    assert np.all(det.boxes[:, [0, 2]] <= 96) and np.all(det.boxes[:, [1, 3]] <= 48) and np.all(det.boxes >= 0)
    np.testing.assert_allclose(det.points, (det.boxes[:, :2] + det.boxes[:, 2:]) / 2, atol=1e-3)
    assert det.counts()["cells"] == len(det) and set(det.counts()) == {"cells", "RBC", "WBC", "Platelets"}
    calibrated = pred.predict(img)
    assert len(calibrated) <= len(det)
    with pytest.raises(ValueError):
        pred.predict(np.zeros((10, 10), np.uint8))


def test_detections_write_boxes_as_csv_and_geojson_rectangles(run, tmp_path):
    import pandas as pd

    det = load(run).predict(np.zeros((64, 64, 3), np.uint8), threshold=0.0)
    det.write_csv(tmp_path / "d.csv", image="x.png")
    df = pd.read_csv(tmp_path / "d.csv")
    assert list(df.columns[:8]) == ["image", "x", "y", "xmin", "ymin", "xmax", "ymax", "score"]
    det.write_geojson(tmp_path / "d.geojson")
    f = json.loads((tmp_path / "d.geojson").read_text())["features"][0]
    ring = f["geometry"]["coordinates"][0]
    assert f["geometry"]["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
    assert f["properties"]["classification"]["name"] in ("RBC", "WBC", "Platelets")


def test_score_split_has_map_and_per_class_ap(run, splits):
    df = score_split(load(run), splits[2], [10.0])
    assert {"mAP@0.5", "AP@0.5 RBC", "AP@0.5 WBC", "AP@0.5 Platelets", "count MAE RBC"} <= set(df.columns)
    assert 0 <= df["mAP@0.5"].iloc[0] <= 1


def test_calibration_picks_the_best_mean_f1(splits):
    from common.inference import Detections

    s = splits[1][0]
    n = len(s.boxes)
    good = Detections(s.points, s.classes, np.full(n, 0.8), class_names=s.class_names, boxes=s.boxes)
    junk = Detections(np.full((3, 2), 5.0), np.zeros(3, int), np.full(3, 0.2), class_names=s.class_names,
                      boxes=np.tile([[0, 0, 10, 10.0]], (3, 1)))
    both = Detections(np.concatenate([good.points, junk.points]), np.concatenate([good.classes, junk.classes]),
                      np.concatenate([good.scores, junk.scores]), class_names=s.class_names,
                      boxes=np.concatenate([good.boxes, junk.boxes]))
    params, sweep = calibrate_threshold([both], [s], s.class_names)
    assert 0.2 < params["threshold"] <= 0.8 and {"threshold", "F1", "Precision", "Recall"} <= set(sweep.columns)
