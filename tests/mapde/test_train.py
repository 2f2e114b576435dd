import json

import keras
import numpy as np
import pytest

from mapde import MapDeConfig, train_model, train_sccnn
from tests.mapde.helpers import TINY


def test_two_step_training_keeps_the_mapping_filter_fixed(splits, tmp_path):
    train, val, _ = splits
    cfg = MapDeConfig.quick(**TINY)
    from mapde.model import build_mapde

    k0 = np.asarray(build_mapde(cfg).get_layer("mapping_filter").kernel)
    model, hist = train_model(cfg, train, val, tmp_path / "run")
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"])
    np.testing.assert_array_equal(np.asarray(model.get_layer("mapping_filter").kernel), k0)
    trained = [np.asarray(w) for w in model.trainable_weights]
    assert trained and model.optimizer.iterations.numpy() == 2
    reloaded = keras.saving.load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_array_equal(np.asarray(reloaded.get_layer("mapping_filter").kernel), k0)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == "mapde"

def test_learning_rate_follows_the_paper_schedule():
    from mapde.train import optimizer

    opt = optimizer(MapDeConfig(), steps=10)
    sched = opt.learning_rate if callable(opt.learning_rate) else opt._learning_rate
    assert float(sched(0)) == pytest.approx(1e-3)
    assert float(sched(25)) == pytest.approx(1e-3 * np.exp(-0.05 * 2), rel=1e-5)
    assert isinstance(opt, keras.optimizers.Adagrad)

def test_micronet_with_auxiliary_losses_and_sccnn_train(splits, tmp_path):
    train, val, _ = splits
    cfg = MapDeConfig.quick(**TINY, aux_weight=0.3).variant("Micro-Net-Peak")
    model, hist = train_model(cfg, train, val, tmp_path / "mn")
    assert model.aux_outputs and np.isfinite(hist[0]["val_loss"])
    sc, h = train_sccnn(MapDeConfig.quick(**TINY), train, val, tmp_path / "sc")
    assert len(h) == 1 and (tmp_path / "sc" / "model.keras").exists()
    with pytest.raises(ValueError, match="train_sccnn"):
        train_model(MapDeConfig.quick(**TINY).variant("SCCNN"), train, val, tmp_path / "x")
