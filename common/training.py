"""Training plumbing shared by the papers: seeds, run folders, early stopping, checkpoints, resume.

Every trained model of every paper has a run folder with the same names::

    <run>/config.json        the paper config the run used (``PaperConfig.save``)
    <run>/data.json          what it was trained on: data description, class names, split sizes
    <run>/model.keras        the trained model (best validation epoch)
    <run>/postprocess.json   the tuned post-processing: method, thresholds / distances, where from
    <run>/sweep.csv          every validation setting tried while tuning
    <run>/history.csv        one row per finished epoch
    <run>/state.json         epoch, best value, epochs without improvement, stopped flag
    <run>/train_seconds.json wall seconds of the calls that trained the run, summed (:class:`TrainingClock`)
    <run>/best.weights.npz   weights of the epoch with the lowest monitored value (NumPy arrays in the
                             order of ``model.get_weights()``; written by Python, so a full disk is an
                             ``OSError``, not a crash inside HDF5)
    <run>/last-NNNN.keras    full model + optimizer state after epoch NNNN, the one state.json names
                             (written before state.json, the previous one removed after it, so a
                             kill at any moment leaves state.json and its checkpoint in step)

Every file is written atomically, so an interrupted run resumes from its last finished epoch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time

import keras
import numpy as np

from common.io import atomic_write_text, read_run_json

__all__ = ["DeadOutputError", "OutputWatch", "RunDir", "RunKeeper", "TrainingClock", "WarmUp", "batch_schedule", "fit",
           "fit_arrays", "open_run", "set_seed", "stream_dataset"]

MODEL_FILE = "model.keras"
POSTPROCESS_FILE = "postprocess.json"
SWEEP_FILE = "sweep.csv"
DATA_FILE = "data.json"
CLOCK_FILE = "train_seconds.json"


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and the Keras backend (``keras.utils.set_random_seed``)."""
    if not isinstance(seed, (int,)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras.utils.set_random_seed(int(seed))


class RunDir:
    """Paths and small helpers for one run folder (created on first use)."""

    def __init__(self, path, create: bool = True):
        if path is None or not os.fspath(path):
            raise ValueError("run folder path must be a non-empty path")
        self.path = os.fspath(path)
        if create:
            os.makedirs(self.path, exist_ok=True)
        elif not os.path.isdir(self.path):
            raise FileNotFoundError(f"no run folder at {self.path}")

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def best_weights(self) -> str:
        return self.file("best.weights.npz")

    def save_best(self, weights) -> None:
        """Writes the best weights (a list of arrays) atomically."""
        from common.io import atomic_path

        with atomic_path(self.best_weights) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, *[np.asarray(w) for w in weights])

    def restore_best(self, model) -> bool:
        """Sets ``model``'s weights to the saved best ones (``best.weights.h5`` of older runs too); False
        when there are none."""
        if os.path.exists(self.best_weights):
            with np.load(self.best_weights) as z:
                weights = [z[f"arr_{k}"] for k in range(len(z.files))]
            if len(weights) != len(model.weights):
                raise ValueError(f"{self.best_weights} holds {len(weights)} arrays, the model {len(model.weights)}: "
                                 "the run folder does not match this model (pass --restart)")
            model.set_weights(weights)
            return True
        legacy = self.file("best.weights.h5")
        if os.path.exists(legacy):
            model.load_weights(legacy)
            return True
        return False

    @property
    def last_model(self) -> str:
        """The checkpoint ``state.json`` names (``last.keras`` in runs written before it named one)."""
        state = self.state() or {}
        return self.file(state.get("checkpoint") or "last.keras")

    def checkpoints(self) -> list:
        """Every ``last*.keras`` checkpoint and leftover temporary file in the folder."""
        return sorted(f for f in os.listdir(self.path)
                      if (f.startswith("last") and f.endswith(".keras")) or ".partial" in f)

    @property
    def state_path(self) -> str:
        return self.file("state.json")

    @property
    def history_path(self) -> str:
        return self.file("history.csv")

    def write_json(self, name: str, obj) -> str:
        path = self.file(name)
        atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")
        return path

    def read_json(self, name: str):
        return read_run_json(self.path, name)

    def state(self) -> dict | None:
        """The saved training state, or None for a fresh folder."""
        return self.read_json("state.json")

    def history(self) -> list[dict]:
        if not os.path.exists(self.history_path):
            return []
        with open(self.history_path, encoding="utf-8", newline="") as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]

    @property
    def model_path(self) -> str:
        return self.file(MODEL_FILE)

    def save_model(self, model) -> str:
        """Saves the trained model as ``model.keras`` atomically."""
        _atomic_keras_save(self.model_path, model.save)
        return self.model_path

    def write_data(self, train, val, **extra) -> str:
        """``data.json``: the data description, class names, mpp, and the sizes and image names of the
        training and validation splits of a training run."""
        import numpy as np

        counts = np.zeros(len(train[0].class_names), np.int64)
        for s in train:
            lab = s.classes[s.classes >= 0]
            counts += np.bincount(lab, minlength=len(counts))
        mpps = {s.mpp for s in train}
        return self.write_json(DATA_FILE, {
            "description": getattr(train, "description", ""), "class_names": list(train[0].class_names),
            "mpp": next(iter(mpps)) if len(mpps) == 1 else None,
            "train_images": len(train), "val_images": len(val),
            "train_names": [str(s.name) for s in train], "val_names": [str(s.name) for s in val],
            "val_cells": int(sum(len(s.points) for s in val)),
            "val_megapixels": float(sum(s.image.shape[0] * s.image.shape[1] for s in val)) / 1e6,
            "train_cells": int(sum(len(s.points) for s in train)),
            "train_cells_per_class": [int(n) for n in counts], **extra})

    def write_postprocess(self, method: str, params: dict, sweep=None, source: str = "") -> str:
        """``postprocess.json`` (default ``method`` and every method's tuned ``params``) and
        ``sweep.csv`` (every setting tried, with a ``method`` column)."""
        from common.io import atomic_path

        if method not in params:
            raise ValueError(f"the default method {method!r} has no parameters in {sorted(params)}")
        if sweep is not None:
            with atomic_path(self.file(SWEEP_FILE)) as tmp:
                sweep.to_csv(tmp, index=False)
        return self.write_json(POSTPROCESS_FILE, {"method": method, "params": params, "source": source,
                                                  "sweep": SWEEP_FILE if sweep is not None else None})

    def postprocess(self) -> dict:
        """The tuned post-processing of the run ({} when it has none yet)."""
        return self.read_json(POSTPROCESS_FILE) or {}

    @property
    def lock_path(self) -> str:
        return self.file(".lock")

    def _holder(self):
        """``(pid, host)`` of a live lock holder, or None."""
        import socket

        try:
            with open(self.lock_path, encoding="utf-8") as f:
                pid, _, host = f.read().strip().partition(" ")
        except FileNotFoundError:
            return None
        except OSError:
            return ("?", "?")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            return None
        return (pid or "?", host or "?")

    def check_free(self) -> None:
        """Raises when another live training holds this folder's lock."""
        holder = self._holder()
        if holder is not None and holder[0] != str(os.getpid()):
            raise ValueError(f"{self.path} is in use by another training (process {holder[0]} on {holder[1]}); "
                             "wait for it or choose another --out")

    @contextlib.contextmanager
    def lock(self):
        """Holds ``<run>/.lock`` (pid and host) while a training writes here; a second training of the
        same folder fails at once. A lock left by a process that no longer runs on this host is taken over."""
        import socket

        me = f"{os.getpid()} {socket.gethostname()}"
        for _ in range(2):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._holder() is None:
                    os.remove(self.lock_path)   # stale: its process is gone
                    continue
                self.check_free()
                raise ValueError(f"{self.path} is locked by this process already") from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(me + "\n")
            break
        try:
            yield self
        finally:
            try:
                os.remove(self.lock_path)
            except FileNotFoundError:
                pass


def _epochs_recorded(folder: str) -> int:
    """Rows of every ``history.csv`` in ``folder`` and its sub-folders (a pipeline keeps one per network)."""
    return sum(len(RunDir(here, create=False).history()) for here, _, files in os.walk(folder)
               if "history.csv" in files)


class TrainingClock:
    """Wall seconds a run folder's training took, summed over the calls that trained it.

    A table's ``train s`` is the wall time of the call that trained the row (training, and the
    calibration after it). A row resumed from a finished run would report the seconds it took to load
    it, and a run trained in several calls (an interrupted one, or one trained to growing epoch
    budgets) only its last call's. Used as ``with TrainingClock(run_dir, resume) as clock: train(...)``,
    ``clock.seconds`` is this call's wall time added to what the folder's ``train_seconds.json``
    recorded when the call trained an epoch (a ``history.csv`` in the folder grew), and the recorded
    total alone when it did not (NaN when nothing was recorded: a run trained before its calls were
    clocked); ``resume=False`` (the training discards the run) starts from zero. A call interrupted by
    an exception (Ctrl-C) after training epochs adds its seconds too; one killed outright does not.

    Args:
        run_dir: the run folder the call trains into.
        resume: whether the call continues the folder's run.
    """

    timer = staticmethod(time.perf_counter)

    def __init__(self, run_dir, resume: bool = True):
        self.path, self.resume, self.seconds = os.fspath(run_dir), resume, None

    def __enter__(self) -> "TrainingClock":
        rec = read_run_json(self.path, CLOCK_FILE) if self.resume and os.path.isdir(self.path) else None
        self._before = float(rec["seconds"]) if rec else None
        self._calls = int(rec.get("calls", 0)) if rec else 0
        self._epochs = _epochs_recorded(self.path) if self.resume else 0
        self._t0 = self.timer()
        return self

    def __exit__(self, kind, value, tb):
        call = self.timer() - self._t0
        trained = os.path.isdir(self.path) and _epochs_recorded(self.path) != self._epochs
        if not trained:   # nothing trained: a finished run reloaded, or a call that failed before an epoch
            if kind is None:
                self.seconds = math.nan if self._before is None else self._before   # unclocked earlier training
            return False
        total = (self._before or 0.0) + call   # an interrupted call's epochs count too: the resume continues them
        atomic_write_text(os.path.join(self.path, CLOCK_FILE),
                          json.dumps({"seconds": round(total, 3), "calls": self._calls + 1}) + "\n")
        if kind is None:
            self.seconds = total
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TRAINING_FILES = ("state.json", "history.csv", "best.weights.npz", "best.weights.h5", MODEL_FILE, POSTPROCESS_FILE,
                   SWEEP_FILE, "init.json", CLOCK_FILE)


def _comparable(config) -> dict:
    """The fields that must match to continue a run (epoch counts and patience may grow)."""
    skip = {"preset", "overrides", "extra", *config.EPOCH_FIELDS}
    return {k: v for k, v in config.to_dict().items() if k not in skip and "patience" not in k}


def open_run(run_dir, config, resume: bool = True, data=None) -> "RunDir":
    """A run folder for training ``config``, checked before anything is written.

    A folder in use by another training is refused; so is a folder that already holds a run of
    another config (another row, paper or hyper-parameter; more epochs or patience are allowed)
    unless ``resume`` is False, which discards that run's training files first. Then
    ``config.json`` (and, with ``data=(train, val)``, ``data.json``) are written. :func:`fit` holds
    the folder's lock while it trains.
    """
    run = RunDir(run_dir)
    run.check_free()
    cfg_path = run.file("config.json")
    if os.path.exists(cfg_path) and resume:
        stored = type(config).load(run.path)
        old, new = _comparable(stored), _comparable(config)
        diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        if diff:
            shown = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:6])
            raise ValueError(f"{run.path} holds a run of another config ({shown}); choose another --out, "
                             "or pass --restart (resume=False) to discard that run")
    if not resume:
        for name in (*_TRAINING_FILES, *run.checkpoints()):
            if os.path.exists(run.file(name)):
                os.remove(run.file(name))
    config.save(run.path)
    if data is not None:
        run.write_data(*data)
    return run


def _jsonable(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


class RunKeeper(keras.callbacks.Callback):
    """Early stopping, best-weights and last-state checkpoints, history, all resumable.

    Unlike ``EarlyStopping`` + ``ModelCheckpoint``, its counters live in ``state.json`` so a resumed
    run continues with the same best value and patience count.

    Args:
        run: a :class:`RunDir`.
        monitor: the logged value to minimise (``val_loss``).
        patience: epochs without improvement before stopping (None: never stop early).
        min_delta: smallest decrease that counts as an improvement.
        save_last: whether to save ``last.keras`` (model + optimizer) at each checkpoint.
        checkpoint_every: epochs between checkpoints (``last.keras``, the best weights and
            ``state.json`` together; the last epoch and an early stop always checkpoint). Between
            checkpoints the best weights are kept in memory; a run killed there resumes from the last
            checkpoint and, its batches being a function of the epoch, trains the same.
    """

    def __init__(self, run: RunDir, monitor: str = "val_loss", patience: int | None = None,
                 min_delta: float = 0.0, save_last: bool = True, checkpoint_every: int = 1):
        super().__init__()
        if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
        self.run, self.monitor, self.patience = run, monitor, patience
        self.min_delta, self.save_last, self.checkpoint_every = float(min_delta), save_last, checkpoint_every
        self._best_weights, self._pending = None, None
        state = run.state() or {}
        self.best = float(state.get("best", math.inf))
        self.best_epoch = int(state.get("best_epoch", -1))
        self.wait = int(state.get("wait", 0))
        self.stopped = bool(state.get("stopped", False))
        done = int(state.get("epoch", 0))
        # a kill between writing history.csv and state.json leaves history one epoch ahead: trim it
        self._rows = [r for r in run.history() if r.get("epoch", 0) <= done]

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.monitor not in logs:
            raise ValueError(f"RunKeeper monitors {self.monitor!r} but the logs have {sorted(logs)}; "
                             "pass validation data or monitor 'loss'")
        value = float(logs[self.monitor])
        if not math.isfinite(value):
            raise FloatingPointError(f"{self.monitor} became {value} at epoch {epoch + 1}; lower the learning rate")
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self._best_weights = self.model.get_weights()
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self.stopped = True
            self.model.stop_training = True
        self._rows.append({"epoch": float(epoch + 1), **{k: float(v) for k, v in logs.items()}})
        self._pending = epoch
        last = epoch + 1 >= int((self.params or {}).get("epochs") or 0)
        if (epoch + 1) % self.checkpoint_every == 0 or last or self.model.stop_training:
            self._checkpoint()

    def on_train_end(self, logs=None):
        if self._pending is not None:   # another callback stopped the training between checkpoints
            self._checkpoint()

    def _checkpoint(self):
        """Writes the best weights (when they changed), history, ``last-NNNN.keras`` and then ``state.json``."""
        epoch, self._pending = self._pending, None
        if self._best_weights is not None:
            self.run.save_best(self._best_weights)
            self._best_weights = None
        self._write_history()
        ckpt = f"last-{epoch + 1:04d}.keras"
        if self.save_last:
            _atomic_keras_save(self.run.file(ckpt), self.model.save)
        self.run.write_json("state.json", {"epoch": epoch + 1, "best": self.best, "best_epoch": self.best_epoch + 1,
                                           "wait": self.wait, "stopped": self.stopped, "monitor": self.monitor,
                                           "seed_states": seed_states(self.model),
                                           "checkpoint": ckpt if self.save_last else None})
        for old in self.run.checkpoints():   # only now is the previous checkpoint no longer needed
            if old != ckpt:
                os.remove(self.run.file(old))

    def _write_history(self):
        keys = []
        for row in self._rows:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(self._rows)
        atomic_write_text(self.run.history_path, buf.getvalue())


def _seed_variables(model) -> list:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def seed_states(model) -> list:
    """The states of the model's random seed generators (dropout masks), which ``.keras`` files do not
    keep; saved in ``state.json`` so a resumed run draws the same masks as an uninterrupted one."""
    return [[int(x) for x in keras.ops.convert_to_numpy(v)] for v in _seed_variables(model)]


def restore_seed_states(model, states) -> None:
    variables = _seed_variables(model)
    if states is None:
        return
    if len(states) != len(variables):
        raise ValueError(f"state.json has {len(states)} random-generator states but the model has {len(variables)}; "
                         "the run folder does not match this model (pass --restart)")
    for v, st in zip(variables, states):
        v.assign(np.asarray(st, dtype=v.dtype))


@keras.saving.register_keras_serializable(package="cellrepro")
class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate ramped linearly from ``schedule(0) / steps`` up to ``schedule`` over ``steps`` steps.

    ``lr(i) = schedule(i) * min(1, (i + 1) / steps)``. For Adagrad this makes the first updates small
    while its gradient accumulator is still near its initial value, the regime where one update moves
    every weight by about the full learning rate (MapDe's ReLU output died this way, issue 15).

    Args:
        schedule: the schedule (or a constant learning rate) after the warm-up.
        steps: warm-up length in optimizer steps (0: none).
    """

    def __init__(self, schedule, steps: int):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"warm-up steps must be a non-negative integer, got {steps!r}")
        self.schedule, self.steps = schedule, int(steps)

    def __call__(self, step):
        base = self.schedule(step) if callable(self.schedule) else self.schedule
        if not self.steps:
            return base
        ramp = keras.ops.minimum(1.0, (keras.ops.cast(step, "float32") + 1.0) / float(self.steps))
        return base * ramp

    def get_config(self):
        sched = self.schedule
        if isinstance(sched, keras.optimizers.schedules.LearningRateSchedule):
            sched = keras.optimizers.schedules.serialize(sched)
        return {"schedule": sched, "steps": self.steps}


class DeadOutputError(ValueError):
    """The network's output stopped varying: training cannot recover and the model is useless.

    Attributes:
        epoch: the first epoch (1-based) whose end found the output constant.
        value: the constant output value.
    """

    def __init__(self, message: str, epoch: int | None = None, value: float | None = None):
        super().__init__(message)
        self.epoch, self.value = epoch, value


class OutputWatch(keras.callbacks.Callback):
    """Stops training when the output on a fixed probe batch is constant for ``patience`` epochs.

    A ReLU output layer read as a logit (MapDe) gets no gradient once every pre-activation is
    negative: the output is 0.0 at every pixel from then on, and without this guard training would
    run to the end and save a dead model (issue 15).
    """

    def __init__(self, probe, patience: int = 3):
        super().__init__()
        self.probe, self.patience, self.count = probe, int(patience), 0

    def on_epoch_end(self, epoch, logs=None):
        out = self.model(self.probe, training=False)
        if isinstance(out, dict):
            out = out.get("main", next(iter(out.values())))
        elif isinstance(out, (list, tuple)):
            out = out[0]
        y = keras.ops.convert_to_numpy(out)
        lo, hi = float(np.min(y)), float(np.max(y))
        self.count = self.count + 1 if hi - lo <= 1e-12 * max(1.0, abs(hi)) else 0
        if self.count >= self.patience:
            self.model.stop_training = True
            died = epoch + 1 - self.patience + 1
            raise DeadOutputError(
                f"the network output died at epoch {died}: every pixel of the validation "
                f"probe has been {hi:g} for {self.patience} epochs, so no gradient can revive it; lower the learning "
                "rate (--set learning_rate=...) or change the seed (README: 'dead output')", epoch=died, value=hi)


def _first_batch(data):
    """``(x, y)`` of a dataset's first batch or of the first 8 samples of an ``(x, y[, w])`` tuple
    (``y`` None when the data has no targets); None for no data, an empty dataset, or anything
    else, whose reading could consume a batch (a generator)."""
    if data is None:
        return None
    if isinstance(data, tuple):
        head = [keras.tree.map_structure(lambda a: a[:8], v) if v is not None else None for v in data[:2]]
        return head[0], head[1] if len(head) > 1 else None
    if not hasattr(data, "element_spec"):   # only a tf.data pipeline: a new iterator consumes nothing
        return None
    try:
        first = next(iter(data))
    except (StopIteration, TypeError):
        return None
    if isinstance(first, (tuple, list)):
        return first[0], first[1] if len(first) > 1 else None
    return first, None


def _watch(first, patience):
    """The :class:`OutputWatch` on the first validation batch ``(x, y)``, or nothing."""
    if not patience or first is None:
        return []
    return [OutputWatch(first[0], patience)]


def _atomic_keras_save(path: str, save) -> None:
    """Calls ``save(tmp)`` on a hidden sibling with the same suffix (Keras checks it), then renames."""
    folder, base = os.path.split(os.path.abspath(path))
    suffix = ".weights.h5" if base.endswith(".weights.h5") else os.path.splitext(base)[1]
    tmp = os.path.join(folder, f".{base}.partial{suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(exc, OSError) and not getattr(exc, "_named", False):
            from common.io import write_error

            raise write_error(exc, path) from exc
        raise


def _prebuild(model, first) -> None:
    """Creates the optimizer's and the compiled losses' variables before ``Model.fit``.

    TensorFlow traces a function a second time when its first trace created variables, and the
    first training step creates the optimizer slots and the per-output loss trackers; built here
    (an eager loss on the first batch ``(x, y)``, with ``training=False`` so no random state moves),
    the training step is traced once: about 5 s less per network on a CPU. Numbers do not change.
    """
    if not getattr(model.optimizer, "built", True):
        model.optimizer.build(model.trainable_variables)
    if first is None or first[1] is None:
        return
    x, y = first
    model.compute_loss(x=x, y=y, y_pred=model(x, training=False))


def fit(model: keras.Model, train_data, val_data, run, *, epochs: int, patience: int | None = None,
        steps_per_epoch: int | None = None, validation_steps: int | None = None, monitor: str = "val_loss",
        resume: bool = True, restore_best: bool = True, verbose: int | str = "auto", callbacks=(),
        dead_output_epochs: int | None = 3, checkpoint_every: int = 1):
    """Trains a compiled model with early stopping and checkpoints in ``run``; resumes if asked.

    With ``resume=True`` and a ``last.keras`` in the run folder, the model (weights and optimizer
    state) is reloaded from it and training continues at the next epoch; a run that already
    stopped early or finished returns at once. Returns the model (the reloaded object when resumed)
    with the best weights restored when ``restore_best``, and the full history as a list of dicts.

    Args:
        model: a compiled ``keras.Model``.
        train_data: a dataset / generator, an ``(x, y)`` tuple of arrays, or ``make(skip_batches)``
            returning an endless dataset that starts ``skip_batches`` batches in (so a resumed run
            sees the same batches as an uninterrupted one; needs ``steps_per_epoch``).
        val_data: anything ``validation_data`` accepts (None when ``monitor`` is a training
            value such as ``"loss"``).
        run: a :class:`RunDir` or a folder path.
        epochs: total epochs (counting epochs already run before a resume).
        dead_output_epochs: stop with :class:`DeadOutputError` when the model's output on a fixed
            validation batch has been constant (e.g. a ReLU output at 0.0 everywhere) at the end of
            this many epochs in a row (None: never).
        patience: early-stopping patience on ``monitor`` (None: no early stopping).
        callbacks: more callbacks, run before the checkpointing one, so values they add to the
            epoch's logs (a validation mAP) are recorded in ``history.csv`` and can be monitored.
        checkpoint_every: epochs between checkpoints (:class:`RunKeeper`); saving a model takes
            a fraction of a second, a large share of a small CPU run's epoch.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("model must be compiled before fit()")
    state = run.state() if resume else None
    initial_epoch = 0
    if state is not None:
        for stray in run.checkpoints():   # a newer checkpoint or temporary file a kill left behind
            if run.file(stray) != run.last_model:
                os.remove(run.file(stray))
        if not os.path.exists(run.last_model):
            raise FileNotFoundError(f"{run.state_path} exists but {run.last_model} is missing; "
                                    "cannot resume (delete the run folder to start over)")
        model = keras.saving.load_model(run.last_model)
        restore_seed_states(model, state.get("seed_states"))
        initial_epoch = int(state["epoch"])
    elif not resume:
        for p in (run.state_path, run.history_path, run.best_weights, run.file("best.weights.h5"),
                  *map(run.file, run.checkpoints())):
            if os.path.exists(p):
                os.remove(p)
    if state is None:   # a fresh start: from a preset's or another run's weights under `train --from`
        from common.warmstart import warm_start

        warm_start(model, run.path)
    keeper = RunKeeper(run, monitor=monitor, patience=patience, checkpoint_every=checkpoint_every)
    if not keeper.stopped and initial_epoch < epochs:
        if callable(train_data):   # a stream that can start where the resumed run stopped
            train_data = train_data(initial_epoch * (steps_per_epoch or 0))
        x, y = train_data if isinstance(train_data, tuple) else (train_data, None)
        from common.progress import keras_verbose

        first = _first_batch(val_data)
        _prebuild(model, first if first is not None else _first_batch((x, y) if y is not None else x))
        with run.lock():   # a second training of this folder fails at once
            model.fit(x, y, validation_data=val_data, epochs=epochs, initial_epoch=initial_epoch,
                      steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                      callbacks=[*_watch(first, dead_output_epochs), *callbacks, keeper],
                      verbose=keras_verbose(verbose), shuffle=False)
    if restore_best:
        run.restore_best(model)
    return model, run.history()


def batch_schedule(n: int, batch_size: int, seed: int, start_batch: int = 0, fill: bool = False):
    """The batches of a resumable NumPy training stream: endless ``(t, indices, rng)``.

    Every epoch visits the ``n`` samples once in a fresh order (``default_rng([seed, epoch])``);
    batch ``t`` takes its slice of that order and gets its own augmentation generator
    ``default_rng([seed, 1, t])``, so batch ``t`` is a pure function of ``(seed, t)`` and a stream
    started at ``start_batch`` (a resumed run) sees the batches an uninterrupted one would. With
    ``fill``, an epoch's last, short batch is completed from the start of that epoch's order.
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"a training stream needs samples and a batch size >= 1, got {n} and {batch_size}")
    steps = -(-n // batch_size)
    t = int(start_batch)
    while True:
        epoch, k = divmod(t, steps)
        order = np.random.default_rng([seed, epoch]).permutation(n)
        idx = order[k * batch_size:(k + 1) * batch_size]
        if fill and len(idx) < batch_size:
            idx = np.concatenate([idx, order[:batch_size - len(idx)]])
        yield t, idx, np.random.default_rng([seed, 1, t])
        t += 1


def stream_dataset(stream, target_shapes):
    """A NumPy training stream as Keras takes it: ``tf.data`` under TensorFlow (prefetched, shapes free
    where ``None``), the generator itself under other backends.

    Args:
        stream: an endless generator of ``(x (B, H, W, 3) float32, y)`` batches.
        target_shapes: the shape of ``y`` without its batch axis, or a tuple of such shapes when ``y`` is a
            tuple of arrays (one per output).
    """
    if keras.backend.backend() != "tensorflow":
        return stream
    import tensorflow as tf

    def spec(shape):
        return tf.TensorSpec((None, *shape), tf.float32)

    several = bool(target_shapes) and isinstance(target_shapes[0], (tuple, list))
    y = tuple(spec(s) for s in target_shapes) if several else spec(target_shapes)
    sig = (tf.TensorSpec((None, None, None, 3), tf.float32), y)
    return tf.data.Dataset.from_generator(lambda: stream, output_signature=sig).prefetch(2)


def fit_arrays(model: keras.Model, train_arrays, val_arrays, run, *, batch_size: int, seed: int,
               val_batch_size: int = 256, **kwargs):
    """:func:`fit` on in-memory ``(x, y)`` arrays (e.g. patches drawn once).

    One epoch is one pass over the training pairs, reshuffled every pass with ``seed`` and ending in
    its partial batch; the stream is resumable mid-run. Validation reads ``val_arrays`` in batches of
    ``val_batch_size``. ``kwargs`` go to :func:`fit` (``epochs``, ``patience``, ``resume``, ...).
    """
    import tensorflow as tf

    x, y = train_arrays

    def stream(skip_batches):
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size)
        return ds.repeat().skip(skip_batches)

    val = tf.data.Dataset.from_tensor_slices(tuple(val_arrays)).batch(val_batch_size)
    return fit(model, stream, val, run, steps_per_epoch=-(-len(x) // batch_size), **kwargs)
