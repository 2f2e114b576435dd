"""Warm starts: training from a preset's (or another run's) weights instead of from scratch.

``cellrepro <paper> train --from NAME`` (config field ``init_from``) trains the preset's row on the
user's data starting from the preset's weights. Within :func:`starting_from`, every network that
:func:`common.training.fit` starts afresh takes its weights from the matching model file of the source
run (the same sub-folder: ``counter/``, ``classifier/`` ...): layer by layer, in build order, a layer
whose weights have the source's shapes is loaded, any other (a head sized for another number of
classes) keeps its fresh initialisation. When the classes differ by name but not in number, the layers
whose shapes follow the class count (found by building the network for one class more) are re-initialised
too, so a head never predicts one class under another's name. What was loaded and what was not is
written to ``init.json`` in the run folder and returned to the command line.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os

__all__ = ["INIT_FILE", "current", "starting_from", "warm_start"]

INIT_FILE = "init.json"
_SOURCE: contextvars.ContextVar = contextvars.ContextVar("cellrepro_warm_start", default=None)


@contextlib.contextmanager
def starting_from(source: str, target: str, label: str, build=None):
    """Within the block, networks trained under the run folder ``target`` start from ``source``'s.

    Args:
        source: the source run folder (a preset's, or a run's).
        target: the run folder being trained.
        label: how the source is named in reports (the preset's name or the folder).
        build: ``build(n_classes)`` -> the top network for ``n_classes`` (finds the class-sized layers).
    """
    token = _SOURCE.set({"source": os.path.abspath(source), "target": os.path.abspath(target), "label": label,
                         "build": build, "reports": []})
    try:
        yield _SOURCE.get()
    finally:
        _SOURCE.reset(token)


def current():
    """The active warm start (a dict) or None."""
    return _SOURCE.get()


def _leaves(model) -> list:
    """The layers that own weights, in build order (nested models flattened)."""
    out = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not layer.weights:
            continue
        inner = [s for s in layer._flatten_layers(include_self=False, recursive=True) if s.weights]
        if not inner:
            out.append(layer)
    return out


def _class_names(folder: str):
    from common.io import read_run_data

    return read_run_data(folder).get("class_names")


def _shapes(layer) -> list:
    return [tuple(w.shape) for w in layer.weights]


def warm_start(model, run_path: str):
    """Loads the active warm start's weights into ``model`` (a network about to train from scratch in
    ``run_path``); returns the report (also written to ``init.json``) or None when no warm start is
    active or the source has no network for this folder.

    Raises:
        ValueError: the source network has another architecture (another number of weighted layers,
            or no layer of matching shapes at all).
    """
    ctx = _SOURCE.get()
    if ctx is None:
        return None
    import keras

    from common.io import atomic_write_text

    rel = os.path.relpath(os.path.abspath(run_path), ctx["target"])
    if rel.startswith(".."):
        return None
    src_folder = os.path.normpath(os.path.join(ctx["source"], rel))
    src_file = os.path.join(src_folder, "model.keras")
    if not os.path.isfile(src_file):
        return None
    source = keras.saving.load_model(src_file, compile=False)
    src, dst = _leaves(source), _leaves(model)
    where = ctx["label"] + ("" if rel == "." else f" ({rel})")
    if len(src) != len(dst) or any(type(a).__name__ != type(b).__name__ for a, b in zip(src, dst)):
        raise ValueError(f"{where} is another network ({len(src)} weighted layers, {len(dst)} here): train the "
                         "preset's own row and architecture (--from takes them from the preset; leave --row and "
                         "the architecture overrides out)")
    old_names, new_names = _class_names(src_folder), _class_names(run_path)
    by_class = set()
    if old_names is not None and new_names is not None and list(old_names) != list(new_names) \
            and len(old_names) == len(new_names):
        by_class = _class_sized(ctx, model, dst, rel, where, len(new_names))
    loaded, fresh = [], []
    for i, (a, b) in enumerate(zip(src, dst)):
        if i in by_class:
            fresh.append({"layer": b.name, "why": "sized by the classes, which differ by name"})
        elif _shapes(a) == _shapes(b):
            b.set_weights(a.get_weights())
            loaded.append(b.name)
        else:
            fresh.append({"layer": b.name, "why": f"shapes {_shapes(a)} in the source, {_shapes(b)} here"})
    if not loaded:
        raise ValueError(f"{where}: no layer matches the network being trained; train the preset's own "
                         "architecture")
    report = {"from": ctx["label"], "source": src_folder, "model": rel, "layers loaded": len(loaded),
              "layers re-initialised": fresh, "source classes": old_names, "classes": new_names}
    atomic_write_text(os.path.join(run_path, INIT_FILE), json.dumps(report, indent=2) + "\n")
    ctx["reports"].append(report)
    return report


def _class_sized(ctx, model, dst, rel, where, n) -> set:
    """Indices of ``dst``'s layers whose shapes follow the class count (built once with n + 1 classes)."""
    build = ctx.get("build") if rel == "." else None
    if build is None:
        raise ValueError(f"{where}: the classes differ by name but not in number, and this network's class-sized "
                         "layers cannot be told apart; rename the classes to the preset's, or train from scratch")
    probe = _leaves(build(n + 1))
    if len(probe) != len(dst):
        raise ValueError(f"{where}: the network for {n + 1} classes has another layout; cannot tell which layers "
                         "are sized by the classes")
    return {i for i, (a, b) in enumerate(zip(probe, dst)) if _shapes(a) != _shapes(b)}
