import json
import os

import keras
import numpy as np
import pytest

from awarenet import AwareNetConfig, build_detector, train
from awarenet import data as aw_data
from awarenet.data import cell_patches
from awarenet.losses import WeightedDiceLoss
from awarenet.model import AwareNetDetector
from common.datasets import Sample
from common.synthetic import make_dataset
from common.testing import run_determinism_check, run_fit_check

RUN_FILES = ("config.json", "data.json", "model.keras", "postprocess.json", "sweep.csv", "history.csv", "state.json")


def _two_steps(samples, seed=0, lr=1e-2):
    keras.utils.set_random_seed(seed)
    cfg = AwareNetConfig(input_size=64, base_filters=4, depth=3, learning_rate=lr)
    model = build_detector(cfg)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=WeightedDiceLoss(cfg.dice_eps))
    aw = aw_data.class_weights_for(samples, "exp1")
    ds = aw_data.detection_dataset(samples, 64, weights=aw, batch_size=2, repeat=True, seed=seed)
    return model, ds


def test_two_training_steps_reduce_the_loss(mihc_samples):
    model, ds = _two_steps(mihc_samples)
    fixed = next(iter(ds))   # the same batch twice: the loss on it must drop
    run_fit_check(model, (fixed[0], fixed[1]), steps=2)


def test_training_is_bit_identical_from_one_seed(mihc_samples):
    def once():
        model, ds = _two_steps(mihc_samples, seed=3)
        model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
        return model

    run_determinism_check(once)


@pytest.mark.parametrize("row", ["ExpWeightType1", "U-net", "CONCORDe-Net"])
def test_train_writes_the_shared_run_folder(tmp_path, splits, tiny, row):
    tr, va, _ = splits
    pred = train.train(tiny.variant(row), tr, va, tmp_path, verbose=0)
    assert isinstance(pred.detector, AwareNetDetector) and len(pred.history()) == 2
    for f in RUN_FILES + ("class_weights.json", "best.weights.npz", "last-0002.keras"):
        assert os.path.exists(tmp_path / f), f
    assert AwareNetConfig.load(tmp_path) == tiny.variant(row)
    pp = json.loads((tmp_path / "postprocess.json").read_text())
    assert pp["method"] == "threshold" and 0 < pp["params"]["threshold"]["threshold"] < 1
    assert "validation" in pp["source"]
    cw = json.loads((tmp_path / "class_weights.json").read_text())
    if row == "ExpWeightType1":
        assert cw["scheme"] == "exp1" and cw["background"] == pytest.approx(np.exp(-1))
    else:
        assert cw == {}
    if row == "CONCORDe-Net":
        assert os.path.exists(tmp_path / "counter" / "best.weights.npz")
    assert np.all(np.isfinite([h["val_loss"] for h in pred.history()]))


def test_train_detector_resumes(tmp_path, splits, tiny):
    tr, va, _ = splits
    train.train_detector(tiny, tr, va, tmp_path, verbose=0)
    _, hist = train.train_detector(tiny.with_overrides(epochs=3), tr, va, tmp_path, verbose=0)
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
    unl = [Sample(s.image, s.points, -np.ones(len(s.points), int), s.class_names) for s in tr]
    with pytest.raises(ValueError, match="classifier needs cell classes"):
        train.train(tiny, unl, va, tmp_path / "c", classifier=True, verbose=0)
    assert not (tmp_path / "c").exists()   # refused before anything was written


def test_classifier_training_writes_model_keras(tmp_path, splits, tiny):
    tr, va, _ = splits
    clf, hist = train.train_classifier(tiny, tr, va, tmp_path, verbose=0)
    assert len(hist) == 2 and os.path.exists(tmp_path / "model.keras")
    assert AwareNetConfig.load(tmp_path).n_classes == 3


def test_classifier_bad_inputs():
    s = make_dataset("mihc", 1, 64, seed=3)[0]
    unl = Sample(s.image, s.points, -np.ones(len(s.points), int), s.class_names)
    with pytest.raises(ValueError, match="no classified cells"):
        cell_patches([unl])
    with pytest.raises(ValueError, match="even"):
        cell_patches([s], 27)


@pytest.mark.parametrize("part", ["detector", "classifier"])
def test_resumed_training_reaches_the_same_weights(tmp_path, splits, tiny, part):
    tr, va, _ = splits
    cfg = tiny.with_overrides(epochs=3, classifier_epochs=3, patience=10, classifier_patience=10)
    trainer = train.train_detector if part == "detector" else train.train_classifier
    whole, _ = trainer(cfg, tr, va, tmp_path / "whole", verbose=0)
    trainer(cfg.with_overrides(epochs=1, classifier_epochs=1), tr, va, tmp_path / "resumed", verbose=0)
    resumed, hist = trainer(cfg, tr, va, tmp_path / "resumed", verbose=0)
    assert [h["epoch"] for h in hist] == [1.0, 2.0, 3.0]
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_run_folder_refuses_another_config_unless_restarted(tmp_path, splits, tiny):
    tr, va, _ = splits
    train.train_detector(tiny.variant("ExpWeightType1"), tr, va, tmp_path, verbose=0)
    before = (tmp_path / "config.json").read_text()
    with pytest.raises(ValueError, match="holds a run of another config.*weight_scheme 'exp1' -> None"):
        train.train_detector(tiny.variant("U-net"), tr, va, tmp_path, verbose=0)
    assert (tmp_path / "config.json").read_text() == before   # nothing was written
    _, hist = train.train_detector(tiny.variant("U-net"), tr, va, tmp_path, resume=False, verbose=0)
    assert len(hist) == 2 and AwareNetConfig.load(tmp_path).weight_scheme is None


def test_a_run_folder_in_use_is_refused(tmp_path, splits, tiny):
    import subprocess
    import sys

    tr, va, _ = splits
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / ".lock").write_text(f"{holder.pid} {__import__('socket').gethostname()}\n")
        with pytest.raises(ValueError, match="in use by another training"):
            train.train_detector(tiny, tr, va, tmp_path, verbose=0)
    finally:
        holder.kill()
        holder.wait()
    train.train_detector(tiny, tr, va, tmp_path, verbose=0)   # a stale lock (process gone) is taken over
    assert not (tmp_path / ".lock").exists()


def test_images_smaller_than_the_input_are_refused_before_anything_is_written(tmp_path, splits, tiny):
    tr, va, _ = splits
    with pytest.raises(ValueError, match="smaller than the 128x128 network input"):
        train.train_detector(tiny.with_overrides(input_size=128), tr, va, tmp_path / "r", verbose=0)
    assert not (tmp_path / "r").exists()
