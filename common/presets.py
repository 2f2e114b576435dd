"""Presets: trained run folders that ship with a paper's package, loadable by name, offline.

A preset is a run folder (``config.json``, ``data.json`` with the data's mpp and class names,
``model.keras``, ``postprocess.json``) plus a manifest, ``preset.json``: name, version, paper, table row,
what it was trained on (data, split, licence of the data), how (command, CPU hours, the git commit),
its measured test metrics beside the public anchor, and the sha256 of every model file, checked when the
preset loads (a damaged preset is a clear error, never a silently different model).

Presets are found in each registered paper's ``<package>/presets/<name>/`` (installed with the wheel)
and in the folders named by ``$CELLREPRO_PRESETS`` (``os.pathsep``-separated): a user's own presets,
made from their runs by ``cellrepro <paper> export-preset RUN NAME``.

Importing this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

__all__ = ["MANIFEST", "PRESET_ENV", "Preset", "export_preset", "find", "presets", "resolve", "sha256", "verify"]

MANIFEST = "preset.json"
PRESET_ENV = "CELLREPRO_PRESETS"
_RUN_FILES = ("config.json", "data.json", "postprocess.json", "sweep.csv", "history.csv", "class_weights.json")


class Preset:
    """A preset found on disk: its folder and its manifest."""

    def __init__(self, folder: str, manifest: dict):
        self.folder, self.manifest = folder, manifest

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def paper(self) -> str:
        return self.manifest["paper"]

    def __repr__(self) -> str:
        return f"<Preset {self.name} ({self.paper}) at {self.folder}>"


def sha256(path) -> str:
    """The hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_manifest(folder: str) -> dict | None:
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is damaged ({exc}); reinstall the package or re-export the preset") from exc
    for key in ("name", "paper", "sha256"):
        if key not in manifest:
            raise ValueError(f"{path}: the manifest lacks {key!r}; re-export the preset")
    return manifest


def _roots() -> list:
    """(paper or None, folder) of every place presets live: each paper's package, then $CELLREPRO_PRESETS."""
    from common import contract

    roots = []
    for name in contract.names():
        try:
            roots.append((name, os.path.join(contract.package_root(contract.get(name)), "presets")))
        except (ImportError, ValueError, TypeError):   # a paper that does not import: it has no presets here
            continue
    for folder in (os.environ.get(PRESET_ENV) or "").split(os.pathsep):
        if folder.strip():
            roots.append((None, folder.strip()))
    return roots


def presets() -> dict:
    """``{name: Preset}`` of every preset found (a package's own first; a name given twice keeps the first)."""
    found = {}
    for _, root in _roots():
        if not os.path.isdir(root):
            continue
        for entry in sorted(os.listdir(root)):
            folder = os.path.join(root, entry)
            manifest = _read_manifest(folder) if os.path.isdir(folder) else None
            if manifest is not None and manifest["name"] not in found:
                found[manifest["name"]] = Preset(folder, manifest)
    return found


def find(name: str) -> Preset | None:
    """The preset named ``name``, or None."""
    return presets().get(str(name))


def verify(preset: Preset) -> Preset:
    """Checks every model file against the manifest's sha256.

    Raises:
        ValueError: a file missing or changed (naming it).
    """
    for rel, digest in preset.manifest["sha256"].items():
        path = os.path.join(preset.folder, rel)
        if not os.path.isfile(path):
            raise ValueError(f"preset {preset.name}: {rel} is missing from {preset.folder}; reinstall the package "
                             "or re-export the preset")
        if sha256(path) != digest:
            raise ValueError(f"preset {preset.name}: {path} does not match its sha256 in {MANIFEST} (damaged or "
                             "replaced); reinstall the package or re-export the preset")
    return preset


def resolve(model, paper: str | None = None) -> tuple[str, Preset | None]:
    """``(run folder, preset or None)`` of what ``--model`` / ``--from`` names: a run folder, a
    ``.keras`` file inside one, or a preset's name (checked against its sha256).

    Raises:
        FileNotFoundError: neither a path nor a preset.
        ValueError: a preset of another paper, or a damaged one.
    """
    path = os.fspath(model)
    if os.path.isdir(path):
        return path, None
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path)), None
    preset = find(path) if os.sep not in path and "/" not in path else None
    if preset is None:
        known = sorted(name for name, p in presets().items() if paper is None or p.paper == paper)
        import difflib

        close = difflib.get_close_matches(path, known, n=1)
        hint = (f"; did you mean the preset {close[0]!r}?" if close else
                f"; presets{' of ' + paper if paper else ''}: {', '.join(known)}" if known else "")
        raise FileNotFoundError(f"no run folder, model file or preset named {path!r}: pass a run folder written by "
                                f"`train` or a preset's name (`cellrepro presets` lists them){hint}")
    if paper is not None and preset.paper != paper:
        raise ValueError(f"{preset.name} is a preset of {preset.paper}, not {paper}: use `cellrepro {preset.paper} "
                         "...` or one of this paper's presets (`cellrepro presets`)")
    return verify(preset).folder, preset


def _model_files(run: str) -> list:
    """The ``model.keras`` files of a run folder, its own and its sub-runs' (relative paths)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(run):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not d.endswith(".partial"))
        if "model.keras" in filenames:
            out.append(os.path.relpath(os.path.join(dirpath, "model.keras"), run))
    return sorted(out)


def export_preset(paper, run, name: str, out, *, version: str = "1", description: str = "", licence: str = "",
                  metrics: dict | None = None, training: dict | None = None, method: str | None = None,
                  overwrite: bool = False) -> Preset:
    """Turns a run folder into a preset in ``out/<name>``: the run's files, each model saved without its
    optimizer (smaller; a preset predicts and fine-tunes, it does not resume), and the manifest.

    Args:
        paper: the :class:`common.contract.Paper` the run belongs to.
        run: the run folder.
        name: the preset's name (letters, digits, ``-``, ``_``, ``.``).
        out: the folder that holds presets (``$CELLREPRO_PRESETS``, a package's ``presets``).
        metrics, training: recorded in the manifest (test metrics; command, data, split, CPU hours ...).
        method: the preset's default location method, one the run calibrated (chosen on validation);
            default: the run's.
    """
    import re

    from common.io import atomic_write_text

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(name)):
        raise ValueError(f"a preset name takes letters, digits, '.', '_' and '-', got {name!r}")
    run = os.fspath(run)
    cfg = paper.config_class().load(run)
    models = _model_files(run)
    if not models:
        raise FileNotFoundError(f"{run} holds no model.keras: train the run first")
    if not os.path.isfile(os.path.join(run, "postprocess.json")):
        raise ValueError(f"{run} has no postprocess.json: a preset predicts with calibrated post-processing")
    dest = os.path.join(os.fspath(out), name)
    if os.path.exists(dest) and not overwrite:
        raise ValueError(f"{dest} exists; pass --overwrite to replace it or choose another name")
    tmp = dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    paper.register_models()
    import keras

    for rel in models:
        sub = os.path.dirname(rel)
        os.makedirs(os.path.join(tmp, sub), exist_ok=True)
        for f in _RUN_FILES:
            if os.path.isfile(os.path.join(run, sub, f)):
                shutil.copy2(os.path.join(run, sub, f), os.path.join(tmp, sub, f))
        model = keras.saving.load_model(os.path.join(run, rel), compile=False)
        model.save(os.path.join(tmp, rel))
    for f in _RUN_FILES:   # the top folder's own files (a pipeline's row folder has no model of its own)
        if os.path.isfile(os.path.join(run, f)) and not os.path.exists(os.path.join(tmp, f)):
            shutil.copy2(os.path.join(run, f), os.path.join(tmp, f))
    with open(os.path.join(tmp, "data.json"), encoding="utf-8") as f:
        data = json.load(f)
    with open(os.path.join(tmp, "postprocess.json"), encoding="utf-8") as f:
        post = json.load(f)
    if method is not None:
        if method not in post.get("params", {}):
            shutil.rmtree(tmp, ignore_errors=True)
            raise ValueError(f"{run} calibrated {sorted(post.get('params', {}))}, not {method!r}")
        post["method"] = method
        atomic_write_text(os.path.join(tmp, "postprocess.json"), json.dumps(post, indent=2) + "\n")
    manifest = {"name": name, "version": str(version), "paper": paper.name, "row": cfg.variant_name,
                "description": description, "licence": licence, "mpp": data.get("mpp") or paper.mpp,
                "class_names": data.get("class_names"), "classifies": bool(paper.classifies(run, cfg)),
                "data": data.get("description"),
                "method": post.get("method"), "config": cfg.describe(), "metrics": metrics or {},
                "training": training or {},
                "sha256": {rel: sha256(os.path.join(tmp, rel)) for rel in models},
                "bytes": {rel: os.path.getsize(os.path.join(tmp, rel)) for rel in models}}
    atomic_write_text(os.path.join(tmp, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return Preset(dest, manifest)
