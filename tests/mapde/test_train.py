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
    assert MapDeConfig().warmup_steps == 0   # the paper has no warm-up


def test_quick_preset_warms_the_learning_rate_up_from_the_papers_rate():
    """Issue 15: the quick preset's first Adagrad step at 0.05 killed the ReLU output; it now starts at
    0.05 / 50 = 0.001 (the paper's rate) and reaches 0.05 at step 50, then decays per epoch."""
    from mapde.train import optimizer

    sched = optimizer(MapDeConfig.quick(), steps=100)._learning_rate
    lrs = [float(sched(i)) for i in (0, 24, 49, 99, 100)]
    np.testing.assert_allclose(lrs, [0.001, 0.025, 0.05, 0.05, 0.05 * np.exp(-0.05)], rtol=1e-5)


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


def test_one_full_rate_adagrad_step_kills_the_relu_output_and_the_warm_up_does_not():
    """Issue 15's cause, reproduced: on a sparse crop (one cell in 252 x 252) the background term
    dominates, and Adagrad's first step at 0.05 moves every weight by about the full rate the same way;
    every pre-activation of the ReLU output goes negative and the output is 0.0 everywhere. The quick
    preset's warm-up starts at 0.001 and the output lives."""
    from mapde.data import mapped_targets
    from mapde.losses import MapDeLoss
    from mapde.model import build_mapde
    from mapde.train import optimizer
    from tests.mapde.helpers import sample

    s = sample(points=np.array([[126.0, 126.0]]), size=252)
    x = np.stack([s.image, s.image[::-1]]).astype("float32")
    t = np.stack([mapped_targets(s)] * 2)
    out = {}
    for warm in (0, 50):
        cfg = MapDeConfig.quick().with_overrides(seed=1, warmup_steps=warm)
        keras.utils.set_random_seed(1)
        model = build_mapde(cfg)
        model.compile(optimizer=optimizer(cfg, 100), loss=MapDeLoss(cfg.pos_weight))
        assert float(np.max(model.predict(x, verbose=0))) > 1.0
        model.fit(x, t, epochs=1, batch_size=2, verbose=0)
        out[warm] = float(np.max(model.predict(x, verbose=0)))
    assert out[0] == 0.0 and out[50] > 1.0
