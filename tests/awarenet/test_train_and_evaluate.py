import dataclasses
import json
import os

import numpy as np
import pytest

from awarenet import AwareNetConfig, evaluate, train
from awarenet.data import cell_patches
from awarenet.model import AwareNetDetector
from common.datasets import Sample, SampleList
from common.synthetic import make_dataset


@pytest.fixture(scope="module")
def splits():
    tr = SampleList(make_dataset("mihc", 4, 64, seed=11), "synthetic mihc, 4 images of 64 px")
    va = SampleList(make_dataset("mihc", 2, 64, seed=12), "val")
    te = SampleList(make_dataset("mihc", 3, 128, seed=13), "test")
    return tr, va, te


@pytest.fixture(scope="module")
def tiny():
    return AwareNetConfig(input_size=32, base_filters=4, depth=2, batch_size=4, epochs=2, patience=5,
                          counter_epochs=1, learning_rate=1e-3, steps_per_epoch=2, classifier_epochs=2,
                          classifier_batch=16, classifier_base=4, thresholds=(0.3, 0.5))


@pytest.mark.parametrize("row", ["ExpWeightType1", "U-net", "CONCORDe-Net"])
def test_train_detector_writes_a_complete_run(tmp_path, splits, tiny, row):
    tr, va, _ = splits
    det, hist = train.train_detector(tiny.variant(row), tr, va, tmp_path, verbose=0)
    assert isinstance(det, AwareNetDetector) and len(hist) == 2
    for f in ("config.json", "data.json", "class_weights.json", "history.csv", "state.json",
              "best.weights.h5", "last.keras", "detector.keras"):
        assert os.path.exists(tmp_path / f), f
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert AwareNetConfig.from_dict(cfg) == tiny.variant(row)
    cw = json.loads((tmp_path / "class_weights.json").read_text())
    if row == "ExpWeightType1":
        assert cw["scheme"] == "exp1" and cw["background"] == pytest.approx(np.exp(-1))
    else:
        assert cw == {}
    if row == "CONCORDe-Net":
        assert os.path.exists(tmp_path / "counter" / "best.weights.h5")
    assert np.all(np.isfinite([h["val_loss"] for h in hist]))


def test_train_detector_resumes(tmp_path, splits, tiny):
    tr, va, _ = splits
    train.train_detector(tiny, tr, va, tmp_path, verbose=0)
    _, hist = train.train_detector(dataclasses.replace(tiny, epochs=3), tr, va, tmp_path, verbose=0)
    assert [h["epoch"] for h in hist] == [1.0, 2.0, 3.0]


def test_train_detector_bad_inputs(tmp_path, splits, tiny):
    tr, va, _ = splits
    empty = [Sample(s.image, np.zeros((0, 2)), np.zeros(0, int), s.class_names) for s in tr]
    with pytest.raises(ValueError, match="no annotated cells"):
        train.train_detector(tiny, empty, va, tmp_path, verbose=0)
    with pytest.raises(ValueError, match="validation split is empty"):
        train.train_detector(tiny, tr, [], tmp_path, verbose=0)
    with pytest.raises(ValueError, match="AwareNetConfig"):
        train.train_detector({"epochs": 1}, tr, va, tmp_path, verbose=0)


def test_probability_map_any_size_and_tiled(splits):
    det = AwareNetDetector(32, 4, 3)
    img = np.random.default_rng(0).integers(0, 255, (70, 45, 3), dtype=np.uint8)
    p = evaluate.probability_map(det, img)
    assert p.shape == (70, 45) and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    big = np.random.default_rng(1).integers(0, 255, (150, 130, 3), dtype=np.uint8)
    whole = evaluate.probability_map(det, big, tile_size=256)
    tiled = evaluate.probability_map(det, big, tile_size=96, margin=30)  # margin rounds up to 32
    assert tiled.shape == whole.shape == (150, 130)
    # tiles sit on the pooling grid and the margin covers the receptive field: same map as one pass
    np.testing.assert_allclose(tiled[:-8, :-8], whole[:-8, :-8], atol=1e-4)
    with pytest.raises(ValueError, match="no tile core"):
        evaluate.probability_map(det, big, tile_size=64, margin=32)
    with pytest.raises(ValueError, match="multiple of 4"):
        evaluate.probability_map(det, big, tile_size=66)
    with pytest.raises(ValueError, match="image"):
        evaluate.probability_map(det, np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="AwareNetDetector"):
        evaluate.probability_map(object(), img)


def test_threshold_sweep_and_report_on_perfect_maps(splits):
    _, _, te = splits
    from common.labels import disk_mask

    maps = [disk_mask(s.points, s.shape, 3).astype(np.float32) for s in te]
    sweep = evaluate.threshold_sweep(maps, te, [0.2, 0.5], radius=10)
    assert list(sweep.columns) == ["Precision", "Recall", "F1-score"] and sweep.index.name == "threshold"
    assert sweep["Recall"].min() > 0.9
    scores, by_class, preds = evaluate.detection_report(maps, te, 0.5, radius=10)
    assert scores["TP"] + scores["FN"] == sum(len(s.points) for s in te)
    assert list(by_class.index) == list(te[0].class_names) and len(preds) == len(te)
    with pytest.raises(ValueError, match="maps for"):
        evaluate.threshold_sweep(maps[:1], te, [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        evaluate.threshold_sweep(maps, te, [1.5])
    with pytest.raises(ValueError, match="empty"):
        evaluate.threshold_sweep(maps, te, [])


def test_classifier_training_and_report(tmp_path, splits, tiny):
    tr, va, te = splits
    clf, hist = train.train_classifier(tiny, tr, va, tmp_path, verbose=0)
    assert len(hist) == 2 and os.path.exists(tmp_path / "classifier.keras")
    rep = evaluate.classification_report(clf, te, umap_seed=0)
    names = list(te[0].class_names)
    assert set(rep["auc"]) == set(names) and 0 <= rep["accuracy"] <= 1
    assert rep["confusion"].shape == (3, 3) and int(rep["confusion"].to_numpy().sum()) == rep["n_cells"]
    assert {"class", "fpr", "tpr", "threshold"} <= set(rep["roc"].columns)
    um = rep["umap"]
    assert list(um.columns) == ["x", "y", "label", "predicted"] and len(um) == rep["n_cells"]
    assert set(um["label"]) <= set(names)
    p = evaluate.classify_cells(clf, te[0].image, te[0].points)
    assert p.shape == (len(te[0].points), 3)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert evaluate.classify_cells(clf, te[0].image, np.zeros((0, 2))).shape == (0, 3)
    with pytest.raises(ValueError, match="points"):
        evaluate.classify_cells(clf, te[0].image, [[500.0, 1.0]])
    four = [Sample(s.image, s.points, s.classes, ("a", "b", "c", "d")) for s in te]
    with pytest.raises(ValueError, match="4 classes"):
        evaluate.classification_report(clf, four)


def test_classifier_bad_inputs():
    s = make_dataset("mihc", 1, 64, seed=3)[0]
    unl = Sample(s.image, s.points, -np.ones(len(s.points), int), s.class_names)
    with pytest.raises(ValueError, match="no classified cells"):
        cell_patches([unl])
    with pytest.raises(ValueError, match="even"):
        cell_patches([s], 27)
    with pytest.raises(ValueError, match="patch_size"):
        AwareNetConfig(patch_size=30)
