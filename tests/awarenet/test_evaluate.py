import numpy as np
import pytest

from awarenet import AwareNetConfig, build_detector, inference, train
from awarenet.evaluate import classification_report
from awarenet.inference import AwareNetPredictor
from awarenet.model import AwareNetDetector
from awarenet.paper import load
from common.datasets import Sample
from common.inference import Detections
from common.labels import disk_mask


def test_predictor_maps_any_size_and_tiles_equal_one_pass():
    det = AwareNetDetector(32, 4, 3)
    pred = AwareNetPredictor(det, tile_size=256)
    img = np.random.default_rng(0).integers(0, 255, (70, 45, 3), dtype=np.uint8)
    p = pred.maps(img)["prob"]
    assert p.shape == (70, 45) and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    big = np.random.default_rng(1).integers(0, 255, (150, 130, 3), dtype=np.uint8)
    whole = pred.maps(big)["prob"]
    tiled = AwareNetPredictor(det, tile_size=96).maps(big)["prob"]
    assert pred.reach == 27.5 and pred.margin == 28   # rounded up to the pooling grid of 4
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of 4"):
        AwareNetPredictor(det, tile_size=66)
    with pytest.raises(ValueError, match="image"):
        pred.maps(np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="AwareNetDetector"):
        AwareNetPredictor(object())


def test_paper_size_detector_tiles_equal_one_pass():
    """The paper's detector (depth 4, base 16) sees 61.5 px: more than the old fixed 32 px margin."""
    det = build_detector(AwareNetConfig())
    pred = AwareNetPredictor(det, tile_size=256)
    assert pred.reach == pytest.approx(61.5) and pred.margin == 64
    img = np.random.default_rng(2).integers(0, 255, (400, 360, 3), dtype=np.uint8)
    tiled = pred.maps(img)["prob"]
    whole = AwareNetPredictor(det, tile_size=512).maps(img)["prob"]
    exact = np.max(np.abs(tiled - whole))
    assert exact < 1e-5
    narrow = AwareNetPredictor(det, tile_size=256)
    narrow.reach = 32   # the old fixed margin leaves seams
    assert np.max(np.abs(narrow.maps(img)["prob"] - whole)) > max(10 * exact, 1e-5)


def test_predictor_sees_retrained_weights():
    det = AwareNetDetector(32, 4, 2)
    pred = AwareNetPredictor(det, tile_size=64)
    img = np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    before = pred.maps(img)["prob"]
    det.set_weights([w * 0.5 for w in det.get_weights()])   # "retraining" the same object
    after = pred.maps(img)["prob"]
    expect = AwareNetPredictor(AwareNetDetector.from_config(det.get_config()), tile_size=64)
    expect.detector.set_weights(det.get_weights())
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, expect.maps(img)["prob"], atol=1e-6)


def test_calibration_on_perfect_maps(splits):
    _, _, te = splits
    cfg = AwareNetConfig(n_thresholds=8)
    maps = [disk_mask(s.points, s.shape, 3).astype(np.float32) * 0.9 for s in te]
    params, sweep = inference.calibrate(maps, te, cfg)
    assert {"threshold", "Precision", "Recall", "F1", "TP", "FP", "FN", "stage"} <= set(sweep.columns)
    assert params["F1"] > 0.9 and 0 <= params["logit_threshold"] < 0.9 and params["min_area"] == 3
    assert params["threshold"] == pytest.approx(1 / (1 + np.exp(-params["logit_threshold"])))
    assert {"threshold", "logit_threshold"} <= set(sweep.columns)
    with pytest.raises(ValueError, match="maps for"):
        inference.calibrate(maps[:1], te, cfg)
    with pytest.raises(ValueError, match="no variance"):
        inference.calibrate([np.zeros(s.shape, np.float32) for s in te], te, cfg)


def test_predict_returns_detections_with_classes(tmp_path, splits, tiny):
    tr, va, te = splits
    pred = train.train(tiny, tr, va, tmp_path, classifier=True, verbose=0)
    det = pred.predict(te[0].image)
    assert isinstance(det, Detections) and det.class_names == tuple(te[0].class_names)
    assert det.class_probabilities.shape == (len(det), 3) and len(det.scores) == len(det)
    loaded = load(tmp_path)
    again = loaded.predict(te[0].image)
    np.testing.assert_allclose(again.points, det.points)
    np.testing.assert_array_equal(again.classes, det.classes)
    sure = loaded.predict(te[0].image, threshold=0.99)   # scores are the detector's logits at the cells
    assert sure.scores.min(initial=np.inf) >= np.log(0.99 / 0.01) - 1e-3 and len(sure) <= len(det)


def test_classification_report(tmp_path, splits, tiny):
    tr, va, te = splits
    clf, _ = train.train_classifier(tiny, tr, va, tmp_path, verbose=0)
    rep = classification_report(clf, te, umap_seed=0)
    names = list(te[0].class_names)
    assert set(rep["auc"]) == set(names) and 0 <= rep["accuracy"] <= 1
    assert rep["confusion"].shape == (3, 3) and int(rep["confusion"].to_numpy().sum()) == rep["n_cells"]
    assert {"class", "fpr", "tpr", "threshold"} <= set(rep["roc"].columns)
    um = rep["umap"]
    assert list(um.columns) == ["x", "y", "label", "predicted"] and len(um) == rep["n_cells"]
    p = inference.classify_cells(clf, te[0].image, te[0].points)
    assert p.shape == (len(te[0].points), 3)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert inference.classify_cells(clf, te[0].image, np.zeros((0, 2))).shape == (0, 3)
    with pytest.raises(ValueError, match="points"):
        inference.classify_cells(clf, te[0].image, [[500.0, 1.0]])
    four = [Sample(s.image, s.points, s.classes, ("a", "b", "c", "d")) for s in te]
    with pytest.raises(ValueError, match="4 classes"):
        classification_report(clf, four)


def test_thresholds_work_on_logits_so_confident_cells_stay_distinguishable():
    from awarenet.inference import logit, sigmoid

    assert logit(0.5) == 0 and logit(0) == -np.inf
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        logit(1.0)
    z = np.array([17.0, 20.0, 30.0], np.float32)
    assert np.all(1 / (1 + np.exp(-z)) == np.float32(1.0))          # float32 probabilities: all exactly 1
    assert sigmoid(17.0) < sigmoid(20.0) < sigmoid(30.0) < 1.0      # logits keep them apart
    det = AwareNetDetector(32, 4, 2)
    twin = AwareNetDetector.from_config({**det.get_config(), "output": "logit"})
    twin.set_weights(det.get_weights())
    x = np.random.default_rng(0).random((1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(sigmoid(np.asarray(twin(x))), np.asarray(det(x)), atol=1e-6)
    with pytest.raises(ValueError, match="output must be"):
        AwareNetDetector(32, 4, 2, output="softmax")
