import numpy as np
import pytest

from common.datasets import Sample
from common.inference import Detections
from pointnet_cells.evaluate import class_scores, scores
from pointnet_cells.inference import PointPredictor
from pointnet_cells.model import build_point_model
from tests.pointnet_cells.helpers import tiny

NAMES = ("a", "b")


def _sample(points, classes):
    return Sample(np.zeros((64, 64, 3), np.uint8), np.asarray(points, float), np.asarray(classes), NAMES, name="s")


def test_classification_needs_the_right_class_within_the_radius():
    s = _sample([[10, 10], [40, 40], [10, 50]], [0, 1, 1])
    d = Detections(np.array([[11, 10], [41, 40], [30, 30]]), np.array([0, 0, 1]), np.ones(3), class_names=NAMES)
    df = class_scores([d], [s], 12, NAMES)
    # class a: 2 predicted, 1 right (the cell at 40,40 is b) -> P 1/2, R 1/1; class b: 1 predicted, 0 right, 2 cells
    assert df.loc["a", "Precision"] == 0.5 and df.loc["a", "Recall"] == 1.0
    assert df.loc["b", "Precision"] == 0.0 and df.loc["b", "Recall"] == 0.0
    assert df.loc["macro", "F1"] == pytest.approx((2 / 3 + 0) / 2)
    assert df.loc["micro", "TP"] == 1 and df.loc["micro", "Predicted"] == 3 and df.loc["micro", "Support"] == 3
    sc = scores([d], [s], 12, NAMES)
    assert sc["Det P"] == pytest.approx(2 / 3) and sc["Det R"] == pytest.approx(2 / 3) and sc["TP"] == 2
    assert sc["Cls F1"] == pytest.approx(1 / 3)


def test_unclassified_cells_and_their_detections_are_left_out_of_classification():
    s = _sample([[10, 10], [40, 40]], [0, -1])
    d = Detections(np.array([[10, 10], [40, 40]]), np.array([0, 1]), np.ones(2), class_names=NAMES)
    df = class_scores([d], [s], 12, NAMES)
    assert df.loc["micro", "Precision"] == 1.0 and df.loc["micro", "Support"] == 1


@pytest.fixture(scope="module")
def predictor():
    cfg = tiny("ours")
    return PointPredictor(build_point_model(cfg, 4, verbose=False), cfg, {"method": "proposals",
                                                                          "params": {"proposals": {"threshold": 0.0}}},
                          class_names=("w", "x", "y", "z"))


def test_any_image_size_gives_cells_inside_it(predictor):
    img = np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8)
    det = predictor.predict(img)
    assert len(det) > 0 and np.all(det.points >= 0)
    assert np.all(det.points[:, 0] < 90) and np.all(det.points[:, 1] < 70)
    assert det.class_probabilities.shape == (len(det), 4) and det.class_names == ("w", "x", "y", "z")


def test_large_images_are_tiled(predictor):
    img = np.random.default_rng(1).integers(0, 255, (300, 260, 3), np.uint8)
    det = predictor.predict(img)   # tile_size 128 in the tiny config
    assert len(det) > 0 and np.all(det.points[:, 0] < 260) and np.all(det.points[:, 1] < 300)
    with pytest.raises(ValueError, match="RGB"):
        predictor.predict(np.zeros((64, 64), np.uint8))


def test_image_scale_enlarges_before_the_network_and_maps_points_back():
    cfg = tiny("ours", image_scale=2.0)
    model = build_point_model(cfg, 4, verbose=False)
    pp = {"method": "proposals", "params": {"proposals": {"threshold": 0.0}}}
    pred = PointPredictor(model, cfg, pp, class_names=("w", "x", "y", "z"))
    img = np.random.default_rng(2).integers(0, 255, (48, 64, 3), np.uint8)
    det = pred.predict(img)
    # a 96 x 128 input: 3 x 4 regions of 5 proposals, some of which may fall outside
    assert 0 < len(det) <= 60 and np.all(det.points[:, 0] < 64) and np.all(det.points[:, 1] < 48)
    same = PointPredictor(model, tiny("ours"), pp, class_names=("w", "x", "y", "z"))
    np.testing.assert_allclose(np.sort(det.points[:, 0]),
                               np.sort(same.predict(np.repeat(np.repeat(img, 2, 0), 2, 1)).points[:, 0] / 2), atol=2)


def test_no_cells_in_a_tiled_image_is_an_empty_detection(predictor):
    img = np.random.default_rng(3).integers(0, 255, (300, 260, 3), np.uint8)
    det = predictor.predict(img, threshold=1.0)   # nothing passes
    assert len(det) == 0 and det.class_probabilities.shape == (0, 4) and det.classes.shape == (0,)
    assert len(predictor.predict(img[:64, :64], threshold=1.0)) == 0
