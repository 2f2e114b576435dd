import json

import numpy as np
import pytest

from sdrdin.train import pipeline_parts, train, train_network
from tests.sdrdin.helpers import tiny


def test_two_step_joint_training_writes_the_run(splits, tmp_path):
    tr, va, _ = splits
    model, hist = train_network(tiny("S-DRDIN"), tr, va, tmp_path / "run", verbose=0)
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"]) and model.optimizer.iterations.numpy() == 2
    # S-DRDIN trains on the sum of both losses
    assert {"class_loss", "det_loss"} <= set(hist[0])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["stop_gradient"] is True
    assert (tmp_path / "run" / "model.keras").exists()


@pytest.mark.parametrize("row, parts", [("S-DRDIN", [""]), ("S-DRDIN-gradient", [""]),
                                        ("DRDIN-detection", ["detection", "classification"]),
                                        ("DRDIN-classification", ["detection", "classification"]),
                                        ("U-Net", ["detection", "classification"]),
                                        ("CONCORDe-Net", ["detection", "classification"])])
def test_each_row_is_a_pipeline_of_one_or_two_networks(row, parts):
    got = pipeline_parts(tiny(row))
    assert list(got) == parts
    if parts != [""]:
        assert [c.branches for c in got.values()] == ["detection", "classification"]


def test_a_separate_row_trains_both_networks_and_tunes_the_threshold(splits, tmp_path):
    tr, va, _ = splits
    pred = train(tiny("U-Net"), tr, va, tmp_path / "unet", verbose=0)
    for sub in ("detection", "classification"):
        assert (tmp_path / "unet" / sub / "model.keras").exists()
    pp = json.loads((tmp_path / "unet" / "postprocess.json").read_text())
    assert pp["method"] == "blobs" and 0 < pp["params"]["blobs"]["threshold"] < 1
    assert (tmp_path / "unet" / "sweep.csv").exists() and pred.classifier is not pred.detector


def test_training_is_bit_identical_from_one_seed(splits, tmp_path):
    from common.testing import run_determinism_check

    tr, va, _ = splits
    runs = iter(range(2))

    def once():
        model, _ = train_network(tiny("S-DRDIN"), tr, va, tmp_path / f"r{next(runs)}", verbose=0)
        return model

    run_determinism_check(once)


def test_every_variant_trains_two_steps(splits, tmp_path):
    import keras

    from common.testing import run_fit_check
    from sdrdin.data import sdrdin_dataset
    from sdrdin.train import _losses, build_network, tasks_of

    for row in ("S-DRDIN-gradient", "DRDIN-detection", "DRDIN-classification"):
        cfg = tiny(row)
        for part in pipeline_parts(cfg).values():
            if row.startswith("DRDIN") and part.branches != row.split("-")[1]:
                continue
            keras.utils.set_random_seed(0)
            m = build_network(part, 6)
            m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=_losses(part, tasks_of(m)))
            run_fit_check(m, sdrdin_dataset(splits[0], part, tasks_of(m), repeat=True), steps=2, loss_drops=False)


def test_the_concordenet_row_detects_with_concordenet_and_classifies_with_sccnn(splits, tmp_path):
    from common.baselines.inception_unet import InceptionUNet
    from common.baselines.sccnn import SCCNNClassifier
    from sdrdin.paper import load

    tr, va, te = splits
    pred = train(tiny("CONCORDe-Net"), tr, va, tmp_path / "cn", verbose=0)
    run = tmp_path / "cn"
    # the counter is pre-trained first, inside the detection part's folder
    assert (run / "detection" / "counter" / "history.csv").exists()
    assert isinstance(pred.detector, InceptionUNet) and isinstance(pred.classifier, SCCNNClassifier)
    # the detection part trained on Dice + count loss through the frozen counter
    hist = pred.history()
    assert {"prob_loss", "count_loss"} <= set(hist[0])
    again = load(run, tile_size=32)
    det = again.predict(te[0].image)
    assert det.class_probabilities is not None and det.class_probabilities.shape == (len(det.points), 6)
    assert set(det.class_names) == set(te[0].class_names)
    if len(det.points):
        np.testing.assert_allclose(det.class_probabilities.sum(axis=1), 1.0, atol=1e-5)
