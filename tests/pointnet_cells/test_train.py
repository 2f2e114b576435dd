import json

import keras
import numpy as np
import pytest

from common.testing import run_determinism_check
from pointnet_cells.train import optimizer, train, train_point_model
from tests.pointnet_cells.helpers import tiny


def test_two_step_run_writes_the_run_folder_and_predicts(splits, tmp_path):
    tr, va, _ = splits
    pred = train(tiny("ours"), tr, va, tmp_path / "run", verbose=0)
    hist = pred.history()
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"]) and pred.model.optimizer.iterations.numpy() == 2
    for f in ("config.json", "data.json", "model.keras", "postprocess.json", "sweep.csv", "history.csv"):
        assert (tmp_path / "run" / f).exists()
    pp = json.loads((tmp_path / "run" / "postprocess.json").read_text())
    assert pp["method"] == "proposals" and 0 < pp["params"]["proposals"]["threshold"] < 1
    det = pred.predict(va[0].image, threshold=0.0)
    assert len(det) > 0 and det.class_names == tr.class_names and det.class_probabilities.shape == (len(det), 4)
    from pointnet_cells import load

    again = load(tmp_path / "run")
    np.testing.assert_allclose(again.predict(va[0].image, threshold=0.0).points, det.points, atol=1e-4)


def test_weight_decay_reaches_the_optimizer():
    opt = optimizer(1e-4, 1e-4)
    assert isinstance(opt, keras.optimizers.AdamW) and opt.weight_decay == pytest.approx(1e-4)
    v = keras.Variable(np.ones(3, "float32"))
    opt = optimizer(0.1, 0.5)
    opt.apply([keras.ops.zeros(3)], [v])   # a zero gradient: only the decay moves the weight
    np.testing.assert_allclose(np.asarray(v), 1 - 0.1 * 0.5, rtol=1e-6)


def test_training_is_bit_identical_from_one_seed(splits, tmp_path):
    tr, va, _ = splits
    runs = iter(range(2))

    def once():
        model, _ = train_point_model(tiny("ours"), tr, va, tmp_path / f"d{next(runs)}", resume=False, verbose=0)
        return model

    run_determinism_check(once)


@pytest.mark.parametrize("row", ["UNet", "Zhang"])
def test_density_rows_train_and_calibrate(row, splits, tmp_path):
    tr, va, _ = splits
    pred = train(tiny(row), tr, va, tmp_path / row, verbose=0)
    pp = json.loads((tmp_path / row / "postprocess.json").read_text())
    assert pp["method"] == "peaks" and pp["params"]["peaks"]["min_distance"] in (2, 4)
    det = pred.predict(va[0].image, threshold=0.0, min_distance=2)
    assert det.classes is not None and det.class_names == tr.class_names


def test_wrong_config_and_unclassified_data_are_refused(splits, tmp_path):
    from mapde import MapDeConfig

    tr, va, _ = splits
    with pytest.raises(ValueError, match="PointNetConfig"):
        train(MapDeConfig(), tr, va, tmp_path / "x")
    with pytest.raises(ValueError, match="trains the point model"):
        train_point_model(tiny("UNet"), tr, va, tmp_path / "y")
    from common.datasets import load

    other = load("synthetic:he", split="val", n_images=2, size=64, seed=1)
    with pytest.raises(ValueError, match="classes"):
        train(tiny(), tr, other, tmp_path / "z")
    assert not (tmp_path / "z").exists()   # refused before the run folder is written
