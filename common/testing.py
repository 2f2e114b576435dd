"""Reusable model checks that every model test calls (our own take on keras-hub's harnesses)."""

from __future__ import annotations

import json
import os
import tempfile

import keras
import numpy as np

__all__ = ["run_config_roundtrip", "run_determinism_check", "run_dtype_check", "run_fit_check", "run_model_saving_test",
           "run_serialization_test"]


def _outputs(model, inputs):
    out = model(inputs, training=False)
    if isinstance(out, dict):
        return [keras.ops.convert_to_numpy(out[k]) for k in sorted(out)]
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return [keras.ops.convert_to_numpy(out)]


def run_model_saving_test(model: keras.Model, inputs, atol: float = 1e-6, directory: str | None = None):
    """Saves ``model`` to a ``.keras`` file, reloads it (safe mode) and checks identical outputs.

    Returns:
        The reloaded model.
    """
    before = _outputs(model, inputs)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
    if type(restored) is not type(model):
        raise AssertionError(f"reloaded a {type(restored).__name__}, expected {type(model).__name__}")
    after = _outputs(restored, inputs)
    if len(before) != len(after):
        raise AssertionError(f"{len(before)} outputs before saving, {len(after)} after")
    for k, (a, b) in enumerate(zip(before, after)):
        if a.shape != b.shape or not np.allclose(a, b, atol=atol, rtol=0):
            diff = np.max(np.abs(a - b)) if a.shape == b.shape else "shape mismatch"
            raise AssertionError(f"output {k} changed after .keras round trip (max diff {diff})")
    return restored


def run_serialization_test(obj):
    """``get_config`` -> JSON -> ``from_config`` -> ``get_config`` must give the same config."""
    cfg = obj.get_config()
    text = json.dumps(keras.saving.serialize_keras_object(obj))
    clone = keras.saving.deserialize_keras_object(json.loads(text))
    if type(clone) is not type(obj):
        raise AssertionError(f"deserialised a {type(clone).__name__}, expected {type(obj).__name__}")
    cfg2 = clone.get_config()
    if json.dumps(cfg, sort_keys=True, default=str) != json.dumps(cfg2, sort_keys=True, default=str):
        raise AssertionError(f"config changed in the round trip:\n{cfg}\n!=\n{cfg2}")
    return clone


def run_config_roundtrip(model: keras.Model, inputs=None, atol: float = 1e-6):
    """``from_config(get_config())`` rebuilds the same architecture; with the weights copied over,
    the outputs are identical."""
    clone = model.__class__.from_config(model.get_config())
    if len(clone.weights) != len(model.weights):
        raise AssertionError(f"{len(clone.weights)} weights after from_config, expected {len(model.weights)}")
    for a, b in zip(model.weights, clone.weights):
        if tuple(a.shape) != tuple(b.shape):
            raise AssertionError(f"weight {a.path} has shape {a.shape} but the clone's is {b.shape}")
    if inputs is not None:
        clone.set_weights(model.get_weights())
        for a, b in zip(_outputs(model, inputs), _outputs(clone, inputs)):
            if not np.allclose(a, b, atol=atol, rtol=0):
                raise AssertionError("outputs differ after get_config/from_config with copied weights")
    return clone


def run_fit_check(model: keras.Model, data, steps: int = 2, loss_drops: bool = True):
    """Trains a compiled model ``steps`` steps on ``data`` (a repeated dataset or an (x, y) tuple);
    the loss must stay finite and (with ``loss_drops``) end below where it started, and the
    trainable weights must change. Returns the per-step losses."""
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    x, y = data if isinstance(data, tuple) else (data, None)
    losses = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(float((logs or {})["loss"]))

    model.fit(x, y, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[Record()])
    if not np.all(np.isfinite(losses)):
        raise AssertionError(f"the loss became non-finite: {losses}")
    if loss_drops and not losses[-1] < losses[0]:
        raise AssertionError(f"{steps} training steps did not reduce the loss: {losses}")
    if all(np.array_equal(a, keras.ops.convert_to_numpy(b)) for a, b in zip(before, model.trainable_weights)):
        raise AssertionError("training did not change any trainable weight")
    return losses


def run_dtype_check(model: keras.Model, inputs, dtype: str = "float32"):
    """Every output of ``model`` on ``inputs`` has ``dtype`` and is finite."""
    for k, out in enumerate(_outputs(model, inputs)):
        if out.dtype != np.dtype(dtype):
            raise AssertionError(f"output {k} has dtype {out.dtype}, expected {dtype}")
        if not np.all(np.isfinite(out)):
            raise AssertionError(f"output {k} has non-finite values")


def run_determinism_check(train_once, atol: float = 0.0):
    """``train_once()`` (seeds, builds, trains, returns the model) run twice must give the same weights
    bit for bit (``atol=0``)."""
    a = [keras.ops.convert_to_numpy(w) for w in train_once().weights]
    b = [keras.ops.convert_to_numpy(w) for w in train_once().weights]
    if len(a) != len(b):
        raise AssertionError(f"{len(a)} weights in the first run, {len(b)} in the second")
    for k, (u, v) in enumerate(zip(a, b)):
        same = np.array_equal(u, v) if atol == 0 else np.allclose(u, v, atol=atol, rtol=0)
        if not same:
            raise AssertionError(f"weight {k} differs between two runs from one seed "
                                 f"(max diff {np.max(np.abs(u - v))})")
    return a
