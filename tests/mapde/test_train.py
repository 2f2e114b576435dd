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


def _mapde_two_steps(splits, seed, **overrides):
    from mapde.data import mapde_dataset
    from mapde.losses import MapDeLoss
    from mapde.model import build_mapde
    from mapde.train import optimizer

    cfg = MapDeConfig.quick(**TINY).with_overrides(seed=seed, **overrides)
    keras.utils.set_random_seed(seed)
    model = build_mapde(cfg)
    model.compile(optimizer=optimizer(cfg, 2), loss=MapDeLoss(cfg.pos_weight))
    return model, mapde_dataset(splits[0], cfg, training=True, repeat=True)


def test_two_training_steps_reduce_the_loss(splits):
    from common.testing import run_dtype_check, run_fit_check

    # at the paper's learning rate (the quick preset's 0.05 overshoots on one batch: issue 15)
    model, ds = _mapde_two_steps(splits, 0, learning_rate=1e-3)
    x, t = next(iter(ds))
    run_fit_check(model, (x, t), steps=2)
    run_dtype_check(model, x[:1])


def test_training_is_bit_identical_from_one_seed(splits):
    from common.testing import run_determinism_check

    def once():
        model, ds = _mapde_two_steps(splits, 5)
        model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
        return model

    run_determinism_check(once)


@pytest.mark.parametrize("kind", ["mapde", "sccnn"])
def test_resumed_training_reaches_the_same_weights(splits, tmp_path, kind):
    train, val, _ = splits
    cfg = MapDeConfig.quick(**TINY).with_overrides(epochs=2, sccnn_epochs=2)
    if kind == "sccnn":
        cfg = cfg.variant("SCCNN")
    trainer = train_sccnn if kind == "sccnn" else train_model
    whole, _ = trainer(cfg, train, val, tmp_path / "whole", verbose=0)
    trainer(cfg.with_overrides(epochs=1, sccnn_epochs=1), train, val, tmp_path / "resumed", verbose=0)
    resumed, hist = trainer(cfg, train, val, tmp_path / "resumed", verbose=0)
    assert [h["epoch"] for h in hist] == [1.0, 2.0]
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
