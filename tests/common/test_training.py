import json
import os

import keras
import numpy as np
import pytest

from common.training import RunDir, RunKeeper, fit, set_seed


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], "float32"))[:, None]
    return x, y


def _model(lr=0.05):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    return m


def test_set_seed_is_deterministic_and_checks_input():
    set_seed(3)
    a = keras.random.normal((3,)).numpy() if hasattr(keras.random.normal((3,)), "numpy") else None
    set_seed(3)
    w1 = _model().get_weights()[0]
    set_seed(3)
    w2 = _model().get_weights()[0]
    np.testing.assert_array_equal(w1, w2)
    del a
    for bad in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match="seed"):
            set_seed(bad)


def test_fit_writes_run_folder_and_restores_best(tmp_path):
    set_seed(0)
    x, y = _data()
    model, hist = fit(_model(), (x, y), (x[:16], y[:16]), tmp_path / "run", epochs=3, verbose=0)
    run = RunDir(tmp_path / "run")
    assert [h["epoch"] for h in hist] == [1.0, 2.0, 3.0]
    assert {"loss", "val_loss"} <= set(hist[0])
    state = run.state()
    assert state["epoch"] == 3 and state["monitor"] == "val_loss"
    assert os.path.exists(run.best_weights) and os.path.exists(run.last_model)
    best = min(h["val_loss"] for h in hist)
    assert state["best"] == pytest.approx(best)
    # the returned model carries the best epoch's weights
    assert float(model.evaluate(x[:16], y[:16], verbose=0)) == pytest.approx(best, rel=1e-4)
    assert not [f for f in os.listdir(run.path) if f.startswith(".")]  # no temporary files left


def test_early_stopping_counts_patience(tmp_path):
    x, y = _data()
    # lr 0: the loss never improves after the first epoch, so patience 2 stops after epoch 3.
    model, hist = fit(_model(lr=0.0), (x, y), (x, y), tmp_path, epochs=10, patience=2, verbose=0)
    assert len(hist) == 3
    assert RunDir(tmp_path).state()["stopped"] is True
    # a stopped run returns at once on resume
    _, hist2 = fit(_model(lr=0.0), (x, y), (x, y), tmp_path, epochs=10, patience=2, verbose=0)
    assert len(hist2) == 3


def test_resume_continues_epochs_and_optimizer_state(tmp_path):
    set_seed(1)
    x, y = _data()
    m, _ = fit(_model(), (x, y), (x, y), tmp_path, epochs=2, verbose=0, restore_best=False)
    steps = int(m.optimizer.iterations.numpy())
    m2, hist = fit(_model(), (x, y), (x, y), tmp_path, epochs=4, verbose=0, restore_best=False)
    assert [h["epoch"] for h in hist] == [1.0, 2.0, 3.0, 4.0]
    assert int(m2.optimizer.iterations.numpy()) == 2 * steps   # resumed, not restarted
    # resume=False starts over
    _, hist3 = fit(_model(), (x, y), (x, y), tmp_path, epochs=1, verbose=0, resume=False)
    assert len(hist3) == 1


def test_checkpoint_every_saves_less_often_and_trains_the_same(tmp_path):
    x, y = _data()

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 4:
                raise KeyboardInterrupt

    def run(folder, every, epochs=7, callbacks=()):
        set_seed(2)
        return fit(_model(lr=0.02), (x, y), (x[:16], y[:16]), tmp_path / folder, epochs=epochs, verbose=0,
                   checkpoint_every=every, callbacks=callbacks)

    m1, h1 = run("every1", 1)
    m3, h3 = run("every3", 3)
    assert h1 == h3 and RunDir(tmp_path / "every3").state()["epoch"] == 7
    for a, b in zip(m1.get_weights(), m3.get_weights()):   # the best weights, written at the checkpoints
        np.testing.assert_array_equal(a, b)
    assert RunDir(tmp_path / "every3").state()["best"] == RunDir(tmp_path / "every1").state()["best"]
    # killed at epoch 5: the folder holds the checkpoint of epoch 3, consistent, and resumes from it
    with pytest.raises(KeyboardInterrupt):
        run("killed", 3, callbacks=[Interrupt()])
    killed = RunDir(tmp_path / "killed")
    assert killed.state()["epoch"] == 3 and len(killed.history()) == 3 and killed.checkpoints() == ["last-0003.keras"]
    m_res, h_res = run("killed", 3)
    assert h_res == h1
    for a, b in zip(m1.get_weights(), m_res.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="checkpoint_every"):
        run("bad", 0)


def test_fit_bad_inputs(tmp_path):
    x, y = _data()
    raw = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compiled"):
        fit(raw, (x, y), None, tmp_path / "a", epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        fit(_model(), (x, y), None, tmp_path / "a", epochs=0)
    with pytest.raises(ValueError, match="monitors 'val_loss'"):
        fit(_model(), (x, y), None, tmp_path / "b", epochs=1, verbose=0)
    run = RunDir(tmp_path / "c")
    run.write_json("state.json", {"epoch": 1})
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        fit(_model(), (x, y), (x, y), run, epochs=2, verbose=0)
    with pytest.raises(ValueError, match="non-empty"):
        RunDir("")


def test_runkeeper_rejects_non_finite_loss(tmp_path):
    keeper = RunKeeper(RunDir(tmp_path), monitor="loss")
    keeper.set_model(_model())
    with pytest.raises(FloatingPointError, match="became nan"):
        keeper.on_epoch_end(0, {"loss": float("nan")})


def test_rundir_json(tmp_path):
    run = RunDir(tmp_path / "r")
    run.write_json("config.json", {"a": np.float32(1.5), "b": np.arange(2)})
    assert run.read_json("config.json") == {"a": 1.5, "b": [0, 1]}
    assert run.read_json("missing.json") is None and run.state() is None and run.history() == []
    with open(run.file("config.json")) as f:
        assert json.load(f)["b"] == [0, 1]


def test_a_dead_output_stops_training_with_a_clear_error(tmp_path):
    """A ReLU head whose bias is forced far negative outputs 0.0 everywhere: the guard stops training."""
    import keras
    import numpy as np
    import pytest

    from common.training import DeadOutputError, fit

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    out = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="head")(inp)
    model = keras.Model(inp, out)
    k, b = model.get_layer("head").get_weights()
    model.get_layer("head").set_weights([k * 0.01, b - 100.0])   # every pre-activation negative
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    with pytest.raises(DeadOutputError, match="output died at epoch 1: every pixel .* has been 0") as err:
        fit(model, (x, x), (x, x), tmp_path, epochs=10, dead_output_epochs=2, verbose=0)
    assert (err.value.epoch, err.value.value) == (1, 0.0)
    assert (tmp_path / "state.json").exists() and not (tmp_path / "model.keras").exists()
    alive = keras.Model(inp, keras.layers.Conv2D(1, 3, padding="same", name="head2")(inp))
    alive.compile(optimizer="adam", loss="mse")
    fit(alive, (x, x), (x, x), tmp_path / "ok", epochs=3, dead_output_epochs=2, verbose=0)   # no false alarm


def test_warm_up_ramps_then_follows_the_schedule_and_round_trips(tmp_path):
    import keras
    import numpy as np
    import pytest

    from common.training import WarmUp

    base = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=10, decay_rate=0.5, staircase=True)
    w = WarmUp(base, 4)
    lrs = [float(w(i)) for i in (0, 1, 3, 4, 10)]
    np.testing.assert_allclose(lrs, [0.0125, 0.025, 0.05, 0.05, 0.025], rtol=1e-6)
    assert float(WarmUp(0.1, 0)(7)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="non-negative integer"):
        WarmUp(base, -1)
    # an optimizer holding it survives a .keras round trip (checkpoints of resumed runs)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adagrad(w), loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    lr = back.optimizer.learning_rate
    assert isinstance(back.optimizer._learning_rate, WarmUp) and back.optimizer._learning_rate.steps == 4
    assert float(lr) == pytest.approx(float(w(1)))


def test_the_training_step_is_traced_once(tmp_path):
    """Optimizer slots and per-output loss trackers are built before fit, so TensorFlow does not trace the
    step a second time (it retraces a function whose first trace created variables)."""
    import tensorflow as tf

    inp = keras.Input((4,))
    model = keras.Model(inp, {"a": keras.layers.Dense(1, name="a")(inp), "b": keras.layers.Dense(1, name="b")(inp)})
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={"a": "mse", "b": "mse"})
    traces = []
    step = model.train_step
    model.train_step = lambda data: (traces.append(1), step(data))[1]
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, {"a": x[:, :1], "b": x[:, 1:2]})).batch(4)
    fit(model, ds.repeat(), ds, tmp_path / "run", epochs=2, steps_per_epoch=4, verbose=0)
    assert len(traces) == 1


def test_fit_arrays_reads_one_pass_per_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    from common.training import fit_arrays

    _, hist = fit_arrays(model, (x, x[:, :1]), (x, x[:, :1]), tmp_path / "run", batch_size=4, seed=0, epochs=2,
                         verbose=0)
    assert len(hist) == 2 and int(model.optimizer.iterations.numpy()) == 2 * 3   # ceil(10 / 4) steps per pass


def test_batch_schedule_is_resumable_and_fills_on_request():
    from common.training import batch_schedule

    run = batch_schedule(5, 2, seed=3)
    first = [next(run) for _ in range(7)]
    assert [len(idx) for _, idx, _ in first[:3]] == [2, 2, 1]          # an epoch of 5 in batches of 2
    assert sorted(np.concatenate([idx for _, idx, _ in first[:3]])) == [0, 1, 2, 3, 4]
    t, idx, rng = next(batch_schedule(5, 2, seed=3, start_batch=5))    # a resumed stream
    assert t == 5 and list(idx) == list(first[5][1]) and rng.random() == first[5][2].random()
    filled = [idx for _, idx, _ in (next(g) for g in [batch_schedule(5, 2, seed=3, fill=True)] * 3)]
    assert [len(i) for i in filled] == [2, 2, 2] and filled[2][0] == first[2][1][0]
    with pytest.raises(ValueError, match="batch size"):
        next(batch_schedule(0, 2, seed=0))


def test_training_clock_sums_the_calls_that_trained_and_keeps_it_for_a_reload(tmp_path, monkeypatch):
    """TrainingClock: a run trained to 2 then 4 epochs reports both calls' seconds; reloading the finished run
    reports that total, not the loading time; --restart starts again; a run trained before it was clocked
    reports NaN, not its loading time."""
    import math

    from common import training

    now = [100.0]
    monkeypatch.setattr(training.TrainingClock, "timer", staticmethod(lambda: now[0]))
    x, y = _data()

    def call(folder, epochs, seconds, resume=True):
        with training.TrainingClock(tmp_path / folder, resume) as clock:
            set_seed(0)
            fit(_model(), (x, y), (x[:16], y[:16]), RunDir(tmp_path / folder), epochs=epochs, verbose=0)
            now[0] += seconds
        return clock.seconds

    assert call("run", 2, 10.0) == 10.0
    assert call("run", 4, 7.0) == 17.0                # resumed to a larger budget: both calls
    assert call("run", 4, 3.0) == 17.0                # a finished run reloaded: nothing trained
    assert RunDir(tmp_path / "run").read_json(training.CLOCK_FILE) == {"seconds": 17.0, "calls": 2}
    assert call("run", 2, 5.0, resume=False) == 5.0   # restarted

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):   # Ctrl-C after three epochs: its seconds are kept for the resume
        with training.TrainingClock(tmp_path / "int") as clock:
            now[0] += 2.0
            fit(_model(), (x, y), (x[:16], y[:16]), RunDir(tmp_path / "int"), epochs=6, verbose=0,
                callbacks=[Interrupt()])
    assert clock.seconds is None and call("int", 6, 1.0) == 3.0
    fit(_model(), (x, y), (x[:16], y[:16]), RunDir(tmp_path / "old"), epochs=2, verbose=0)
    assert math.isnan(call("old", 2, 4.0))
