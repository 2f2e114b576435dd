"""The paper contract: what a paper declares once, and the hooks it fills.

A paper package states its facts once, as the arguments of its :class:`Paper` (in its ``paper.py``,
beside the published tables), and exposes that instance as ``PAPER``; the ``cellrepro.papers`` entry-point group
names it (``mapde = mapde.paper:PAPER`` in ``setup.cfg``), so a package from another distribution
joins by declaring the same entry point, without editing cellrepro. Everything else - the command
line, the loader, ``cellrepro papers``, the contract tests - reads the facts from there.

Facts: ``name`` (the package), ``title``, ``synthetic`` (the kind ``--data
synthetic`` means) and ``synthetic_splits`` (its sizes), ``match_radius`` (px), ``mpp`` (microns per
pixel of the paper's data), ``model_classes`` (the Keras classes a run's model file may hold),
``default_row``, ``quick_rows``, ``methods`` (the location methods ``predict`` takes), ``tiny`` and
``tiny_data`` (config overrides and data for the contract tests). The table rows are the config's
``VARIANTS``.

Hooks a paper implements: :meth:`Paper.open` and :meth:`Paper.training_batch`; and, where the
defaults (the shared package layout) do not fit, :meth:`Paper.config_class`, :meth:`Paper.build`,
:meth:`Paper.train`, :meth:`Paper.reproduce`, :meth:`Paper.score`, :meth:`Paper.load_split`,
:meth:`Paper.check_data`, :meth:`Paper.register_models` and the command-line hooks
(:meth:`Paper.add_arguments`, :meth:`Paper.configure`, ...). Calibration is the predictor's:
``predictor.calibrate(val, maps=None) -> Calibration``, written into the run folder by
:func:`common.evaluation.calibrate_run`.

Importing this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import difflib
import importlib
import os

__all__ = ["ENTRY_POINT_GROUP", "Paper", "get", "papers", "register", "unregister"]

ENTRY_POINT_GROUP = "cellrepro.papers"
_REGISTERED: dict = {}      # papers registered at run time (tests, notebooks), beside the entry points
_FOUND: dict | None = None  # the entry points' papers, read once


class Paper:
    """One paper: its facts, stated once, and its hooks.

    Subclass it in ``<package>/paper.py`` with the hooks that are the paper's own, and expose one
    instance, made with the facts, as ``PAPER``. The default hooks follow the package layout every
    paper shares: the config class ``<package>.config`` defines (:meth:`config_class`),
    ``<package>.train.compiled_network(config, n_classes)`` (:meth:`build`),
    ``<package>.train.train(config, train, val, run_dir, *, resume, verbose, **options)``
    (:meth:`train`), ``<package>.reproduce.main(**kwargs)`` (:meth:`reproduce`), Keras classes
    registered by ``<package>.model`` and ``<package>.losses`` (:meth:`register_models`). The data and
    scoring defaults serve point-annotation papers; a box detector overrides :meth:`score` and
    :meth:`load_split`.

    Args:
        name: the package (``"mapde"``).
        title: one line naming the paper.
        synthetic: the synthetic kind ``--data synthetic`` means.
        synthetic_splits: ``{"train": (images, side), "val": ..., "test": ...}`` of that data.
        match_radius: the paper's matching radius in pixels.
        mpp: microns per pixel of the paper's data (None where it states none).
        model_classes: the Keras class names a run's model file may hold.
        default_row: the table row ``train`` trains without ``--row``.
        methods: the location methods ``predict`` takes.
        quick_rows: the rows ``reproduce --quick`` runs (None: all).
        tiny, tiny_data: config overrides on ``quick()`` and the data the contract tests train on.
        path_flags: the paper's flags that name a file, recorded as an override with the absolute path.
    """

    def __init__(self, *, name: str, title: str, synthetic: str, synthetic_splits: dict, match_radius: float,
                 mpp: float | None, model_classes: tuple, default_row: str, methods: tuple,
                 quick_rows: tuple | None = None, tiny: dict | None = None,
                 tiny_data: str = "synthetic:images=3:size=96", path_flags: tuple = ()):
        if not name.isidentifier():
            raise ValueError(f"a paper's name is its package, a Python identifier; got {name!r}")
        if set(synthetic_splits) != {"train", "val", "test"}:
            raise ValueError(f"synthetic_splits must give train, val and test, got {sorted(synthetic_splits)}")
        if not match_radius > 0 or (mpp is not None and not mpp > 0):
            raise ValueError(f"match_radius and mpp must be positive, got {match_radius!r}, {mpp!r}")
        self.name, self.title, self.synthetic = name, title, synthetic
        self.synthetic_splits = {k: tuple(v) for k, v in synthetic_splits.items()}
        self.match_radius, self.mpp = float(match_radius), None if mpp is None else float(mpp)
        self.model_classes, self.default_row, self.methods = tuple(model_classes), default_row, tuple(methods)
        self.quick_rows = tuple(quick_rows) if quick_rows else None
        self.tiny, self.tiny_data, self.path_flags = dict(tiny or {}), tiny_data, tuple(path_flags)

    def module(self, role: str):
        """The package's module of a role (``"train"``, ``"reproduce"``, ...), imported on first use."""
        return importlib.import_module(f"{self.name}.{role}")

    # ------------------------------------------------------------------ facts derived from the config
    def config_class(self):
        """The paper's :class:`common.config.PaperConfig` subclass: the one ``<package>.config`` defines."""
        from common.config import PaperConfig

        mod = self.module("config")
        found = [v for v in vars(mod).values()
                 if isinstance(v, type) and issubclass(v, PaperConfig) and v.__module__ == mod.__name__]
        if len(found) != 1:
            raise TypeError(f"{mod.__name__} defines {len(found)} PaperConfig subclasses; a paper's config module "
                            "defines one (or the paper overrides config_class)")
        return found[0]

    @property
    def rows(self) -> tuple:
        """The table rows (the config's ``VARIANTS``), in the paper's order."""
        return tuple(self.config_class().VARIANTS)

    def default_rows(self, quick: bool) -> list:
        """The rows ``reproduce`` runs without ``--rows``: all, or ``quick_rows`` with ``--quick``."""
        return list(self.quick_rows) if quick and self.quick_rows else list(self.rows)

    def tiny_config(self, **overrides):
        """The quick config shrunk for tests (``tiny``), at the default row."""
        cfg = self.config_class().quick().variant(self.default_row)
        return cfg.with_overrides(**{**self.tiny, **overrides})

    def data_name(self, data: str) -> str:
        """``"synthetic"`` -> ``"synthetic:<kind>"`` (the paper's own synthetic data; ``"synthetic:images=4"``
        -> ``"synthetic:<kind>:images=4"``); other names unchanged."""
        if not isinstance(data, str) or not data:
            raise ValueError(f"data must be a dataset name or folder, got {data!r}")
        parts = data.split(":")
        if parts[0] == "synthetic" and (len(parts) == 1 or "=" in parts[1]):
            return ":".join(["synthetic", self.synthetic, *parts[1:]])
        return data

    # ------------------------------------------------------------------ data
    def check_data(self, data: str, data_root=None) -> str:
        """A quick check of a data name or folder, before anything is loaded or TensorFlow is imported.

        Returns the resolved name (``synthetic`` -> ``synthetic:<kind>``). Raises ``ValueError`` or
        ``FileNotFoundError`` with one line naming the problem.
        """
        from common.datasets import check_data_name

        return check_data_name(self.data_name(data), data_root)

    def load_split(self, data: str, split: str, seed: int = 0, data_root=None):
        """One split (``train``, ``val``, ``test`` or ``all``) as a ``SampleList``; synthetic data at
        ``synthetic_splits``."""
        from common.datasets import load_split

        return load_split(self.data_name(data), split, seed, data_root, self.synthetic_splits)

    def load_splits(self, data: str = "synthetic", seed: int = 0, data_root=None) -> tuple:
        """``(train, val, test)`` of :meth:`load_split`."""
        return tuple(self.load_split(data, s, seed, data_root) for s in ("train", "val", "test"))

    # ------------------------------------------------------------------ models
    def register_models(self) -> None:
        """Imports the modules that register the paper's Keras classes (before a ``.keras`` file loads)."""
        for role in ("model", "losses"):
            try:
                self.module(role)
            except ModuleNotFoundError as exc:
                if exc.name != f"{self.name}.{role}":
                    raise

    def build(self, config, n_classes: int):
        """The untrained, compiled network of ``config``'s row (loss and optimizer of the paper)."""
        return self.module("train").compiled_network(config, n_classes)

    def training_batch(self, config, samples, seed: int = 0) -> tuple:  # pragma: no cover - abstract
        """One training batch ``(x, y)`` of NumPy arrays for :meth:`build`'s model, from ``samples``
        (the contract tests fit it under every backend, without tf.data)."""
        raise NotImplementedError

    def train(self, config, train, val, run_dir, *, resume: bool = True, verbose="auto", **options):
        """Trains ``config``'s row in ``run_dir``, calibrates on ``val``; returns the run's predictor."""
        config = self.config_class().ensure(config)
        if not config.init_from:
            return self.module("train").train(config, train, val, run_dir, resume=resume, verbose=verbose, **options)
        from common.presets import resolve
        from common.warmstart import starting_from

        source, preset = resolve(config.init_from, self.name)
        names = train[0].class_names if len(train) else None
        label = f"preset {preset.name}" if preset is not None else source

        def build(n):
            self.register_models()
            return self.build(config, n)

        with starting_from(source, run_dir, label, build=build if names is not None else None):
            return self.module("train").train(config, train, val, run_dir, resume=resume, verbose=verbose, **options)

    def open(self, folder: str, config, postprocess: dict, class_names, **options):  # pragma: no cover
        """The predictor of a run folder whose config, post-processing and class names are read:
        loads the model file(s) (:func:`common.inference.load_keras`) and builds the predictor."""
        raise NotImplementedError

    def load(self, run, **options):
        """The predictor of a run folder (or a ``.keras`` file inside one, or a preset's name).

        Reads ``config.json`` with the paper's config class, ``data.json`` (class names),
        ``postprocess.json``, then :meth:`open` loads the model. ``options`` are the paper's
        (``classifier=`` for AwareNet, ``tile_size=`` ...); an unknown one is an error.
        """
        from common.inference import run_folder
        from common.logs import quiet_tensorflow

        quiet_tensorflow()   # TensorFlow's start-up lines hidden for the Python API too
        from common.training import RunDir

        folder = run_folder(run, self.name)
        config = self.config_class().load(folder)
        rd = RunDir(folder, create=False)
        names = (rd.read_json("data.json") or {}).get("class_names")
        self.register_models()
        return self.open(folder, config, rd.postprocess(), names, **options)

    def classifies(self, folder: str, config) -> bool:
        """Whether the run in ``folder`` gives cells classes (read without TensorFlow; default: yes)."""
        return True

    def run_mpp(self, folder: str):
        """The microns per pixel of the data a run was trained on (``data.json``), or None."""
        # imported here, so that --help stays instant
        from common.io import read_run_data

        value = read_run_data(folder).get("mpp")
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    def run_class_names(self, folder: str):
        """The class names a run was trained on (``data.json``, read without TensorFlow), or None."""
        from common.io import read_run_data

        return read_run_data(folder).get("class_names")

    # ------------------------------------------------------------------ scoring and tables
    def score(self, predictor, samples, radii, progress: bool = False, **detect):
        """Evaluate's table of one split: Precision / Recall / F1 / TP / FP / FN per radius (and the
        weighted class scores when the detections carry classes), classes matched by name."""
        from common.evaluation import score
        from common.inference import warn_degenerate
        from common.progress import progress_bar

        dets = [predictor.predict(s.image, **detect) for s in progress_bar(
            samples, desc="evaluate", unit="image", enabled=progress)]
        warn_degenerate([(s.name, d, s.image.shape, len(s.points)) for s, d in zip(samples, dets)],
                        getattr(samples, "description", ""))
        return score(dets, samples, radii)

    def reproduce(self, **kwargs) -> dict:
        """Runs the paper's tables (``<package>.reproduce.main``)."""
        return self.module("reproduce").main(**kwargs)

    # ------------------------------------------------------------------ command-line hooks
    def add_arguments(self, verb: str, parser) -> None:
        """Adds the paper's own flags of ``verb`` (``reproduce``, ``train``, ``predict``, ``evaluate``)."""

    def configure(self, config, args):
        """The train verb's config after the paper's own flags (the row is already applied)."""
        return config

    def train_options(self, args) -> dict:
        """Extra keyword arguments of :meth:`train` from the paper's flags."""
        return {}

    def load_options(self, args) -> dict:
        """Extra keyword arguments of :meth:`load` from the paper's flags."""
        return {}

    def detect_options(self, args) -> dict:
        """Keyword arguments of ``predictor.predict`` from the shared and paper flags."""
        out = {}
        if getattr(args, "method", None) is not None:
            out["method"] = args.method
        if getattr(args, "threshold", None) is not None:
            out["threshold"] = args.threshold
        return out

    def reproduce_options(self, args) -> dict:
        """Extra keyword arguments of :meth:`reproduce` from the paper's flags."""
        return {}

    def __repr__(self) -> str:
        return f"<Paper {self.name}: {self.title}>"


# ---------------------------------------------------------------------------------------------- registry


def _entry_points() -> dict:
    global _FOUND
    if _FOUND is None:
        from importlib.metadata import entry_points

        found = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found[ep.name] = ep
        _FOUND = found
    return _FOUND


def _resolve(name: str, value) -> Paper:
    paper = value.load() if hasattr(value, "load") and not isinstance(value, Paper) else value
    if not isinstance(paper, Paper):
        raise TypeError(f"the {ENTRY_POINT_GROUP} entry point {name!r} gives a {type(paper).__name__}, not a Paper")
    if paper.name != name:
        raise TypeError(f"the {ENTRY_POINT_GROUP} entry point {name!r} gives the paper {paper.name!r}")
    return paper


def names() -> list:
    """The registered papers' names, sorted (reads entry points only, imports no paper)."""
    return sorted(set(_entry_points()) | set(_REGISTERED))


def papers() -> dict:
    """``{name: Paper}`` of every registered paper, sorted by name."""
    return {n: get(n) for n in names()}


def get(name: str) -> Paper:
    """The paper named ``name``; an unknown name raises ``ValueError`` naming the closest."""
    if isinstance(name, Paper):
        return name
    if name in _REGISTERED:
        return _REGISTERED[name]
    found = _entry_points()
    if name in found:
        paper = _resolve(name, found[name])
        _REGISTERED[name] = paper
        return paper
    known = names()
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown paper {name!r}{hint} (the papers: {', '.join(known) or 'none installed'})")


def register(paper: Paper) -> Paper:
    """Registers a paper at run time (tests, a notebook's own paper); returns it."""
    if not isinstance(paper, Paper) or not paper.name:
        raise ValueError(f"register takes a Paper with a name, got {paper!r}")
    _REGISTERED[paper.name] = paper
    return paper


def unregister(name: str) -> None:
    """Forgets a paper registered with :func:`register` (entry-point papers come back on next use)."""
    _REGISTERED.pop(name, None)


def package_root(paper: Paper) -> str:
    """The folder of the paper's package."""
    return os.path.dirname(importlib.import_module(paper.name).__file__)
