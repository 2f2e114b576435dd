"""Training plumbing shared by the papers: seeds, run folders, early stopping, checkpoints, resume.

Every trained model of every paper has a run folder with the same names::

    <run>/config.json        the paper config the run used (``PaperConfig.save``)
    <run>/data.json          what it was trained on: data description, class names, split sizes
    <run>/model.keras        the trained model (best validation epoch)
    <run>/postprocess.json   the tuned post-processing: method, thresholds / distances, where from
    <run>/sweep.csv          every validation setting tried while tuning
    <run>/history.csv        one row per finished epoch
    <run>/state.json         epoch, best value, epochs without improvement, stopped flag
    <run>/best.weights.h5    weights of the epoch with the lowest monitored value
    <run>/last.keras         full model + optimizer state after the latest finished epoch

Every file is written atomically, so an interrupted run resumes from its last finished epoch.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import keras

from common.io import atomic_write_text

__all__ = ["RunDir", "RunKeeper", "fit", "set_seed"]

MODEL_FILE = "model.keras"
POSTPROCESS_FILE = "postprocess.json"
SWEEP_FILE = "sweep.csv"
DATA_FILE = "data.json"


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
        return self.file("best.weights.h5")

    @property
    def last_model(self) -> str:
        return self.file("last.keras")

    @property
    def state_path(self) -> str:
        return self.file("state.json")

    @property
    def history_path(self) -> str:
        return self.file("history.csv")

    @property
    def model_path(self) -> str:
        return self.file(MODEL_FILE)

    def save_model(self, model) -> str:
        """Saves the trained model as ``model.keras`` atomically."""
        _atomic_keras_save(self.model_path, model.save)
        return self.model_path

    def write_data(self, train, val, **extra) -> str:
        """``data.json``: the data description, class names and split sizes of a training run."""
        import numpy as np

        counts = np.zeros(len(train[0].class_names), np.int64)
        for s in train:
            lab = s.classes[s.classes >= 0]
            counts += np.bincount(lab, minlength=len(counts))
        return self.write_json(DATA_FILE, {
            "description": getattr(train, "description", ""), "class_names": list(train[0].class_names),
            "train_images": len(train), "val_images": len(val),
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

    def write_json(self, name: str, obj) -> str:
        path = self.file(name)
        atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")
        return path

    def read_json(self, name: str):
        path = self.file(name)
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is damaged ({exc}); delete it or retrain the run") from exc

    def state(self) -> dict | None:
        """The saved training state, or None for a fresh folder."""
        return self.read_json("state.json")

    def history(self) -> list[dict]:
        if not os.path.exists(self.history_path):
            return []
        with open(self.history_path, encoding="utf-8", newline="") as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


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
        save_last: whether to save ``last.keras`` (model + optimizer) every epoch.
    """

    def __init__(self, run: RunDir, monitor: str = "val_loss", patience: int | None = None,
                 min_delta: float = 0.0, save_last: bool = True):
        super().__init__()
        self.run, self.monitor, self.patience = run, monitor, patience
        self.min_delta, self.save_last = float(min_delta), save_last
        state = run.state() or {}
        self.best = float(state.get("best", math.inf))
        self.best_epoch = int(state.get("best_epoch", -1))
        self.wait = int(state.get("wait", 0))
        self.stopped = bool(state.get("stopped", False))
        self._rows = run.history()

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
            _atomic_keras_save(self.run.best_weights, self.model.save_weights)
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self.stopped = True
            self.model.stop_training = True
        self._rows.append({"epoch": float(epoch + 1), **{k: float(v) for k, v in logs.items()}})
        self._write_history()
        if self.save_last:
            _atomic_keras_save(self.run.last_model, self.model.save)
        self.run.write_json("state.json", {"epoch": epoch + 1, "best": self.best, "best_epoch": self.best_epoch + 1,
                                           "wait": self.wait, "stopped": self.stopped, "monitor": self.monitor})

    def _write_history(self):
        keys = []
        for row in self._rows:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(self._rows)
        atomic_write_text(self.run.history_path, buf.getvalue())


def _atomic_keras_save(path: str, save) -> None:
    """Calls ``save(tmp)`` on a hidden sibling with the same suffix (Keras checks it), then renames."""
    folder, base = os.path.split(os.path.abspath(path))
    suffix = ".weights.h5" if base.endswith(".weights.h5") else os.path.splitext(base)[1]
    tmp = os.path.join(folder, f".{base}.partial{suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def fit(model: keras.Model, train_data, val_data, run, *, epochs: int, patience: int | None = None,
        steps_per_epoch: int | None = None, validation_steps: int | None = None, monitor: str = "val_loss",
        resume: bool = True, restore_best: bool = True, verbose: int | str = "auto", callbacks=()):
    """Trains a compiled model with early stopping and checkpoints in ``run``; resumes if asked.

    With ``resume=True`` and a ``last.keras`` in the run folder, the model (weights and optimizer
    state) is reloaded from it and training continues at the next epoch; a run that already
    stopped early or finished returns at once. Returns the model (the reloaded object when resumed)
    with the best weights restored when ``restore_best``, and the full history as a list of dicts.

    Args:
        model: a compiled ``keras.Model``.
        train_data: a dataset / generator, or an ``(x, y)`` tuple of arrays.
        val_data: anything ``validation_data`` accepts (None when ``monitor`` is a training
            value such as ``"loss"``).
        run: a :class:`RunDir` or a folder path.
        epochs: total epochs (counting epochs already run before a resume).
        patience: early-stopping patience on ``monitor`` (None: no early stopping).
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("model must be compiled before fit()")
    state = run.state() if resume else None
    initial_epoch = 0
    if state is not None:
        if not os.path.exists(run.last_model):
            raise FileNotFoundError(f"{run.state_path} exists but {run.last_model} is missing; "
                                    "cannot resume (delete the run folder to start over)")
        model = keras.saving.load_model(run.last_model)
        initial_epoch = int(state["epoch"])
    elif not resume:
        for p in (run.state_path, run.history_path, run.best_weights, run.last_model):
            if os.path.exists(p):
                os.remove(p)
    keeper = RunKeeper(run, monitor=monitor, patience=patience)
    if not keeper.stopped and initial_epoch < epochs:
        x, y = train_data if isinstance(train_data, tuple) else (train_data, None)
        from common.progress import keras_verbose

        model.fit(x, y, validation_data=val_data, epochs=epochs, initial_epoch=initial_epoch,
                  steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                  callbacks=[keeper, *callbacks], verbose=keras_verbose(verbose), shuffle=False)
    if restore_best and os.path.exists(run.best_weights):
        model.load_weights(run.best_weights)
    return model, run.history()
