"""The config base every paper config subclasses: paper defaults, presets, variants, overrides.

A paper config is a dataclass whose field defaults are the paper's hyper-parameters. The base adds:

* ``quick()``: the CPU preset (class attribute ``QUICK``), recorded as ``preset="quick"``;
* ``VARIANTS`` + ``variant(name)``: one named set of overrides per table row;
* ``with_overrides(**kv)`` and ``parse_overrides(["KEY=VALUE", ...])``: type-checked overrides,
  recorded in ``overrides`` so a table can say exactly what ran;
* ``cap_epochs(n)``: one way to cap every trained model's epochs (``EPOCH_FIELDS``);
* ``group(prefix)``: grouped hyper-parameters (``sccnn_*``, ``classifier_*``) as one dict;
* ``to_dict`` / ``from_dict`` driven by the field types (tuples survive JSON), and
  ``save(run)`` / ``load(run)`` of ``config.json`` (the only code that touches that file).

Importing this module does not import TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["CONFIG_FILE", "PaperConfig", "parse_key_values"]

CONFIG_FILE = "config.json"
_PRESETS = ("paper", "quick")


def parse_key_values(items) -> dict:
    """``["width=0.125", "min_distances=[3,5]"]`` -> ``{"width": "0.125", ...}`` (values as text).

    Raises:
        ValueError: an item without ``=`` or with an empty key, or a key given twice.
    """
    out: dict = {}
    for item in items or ():
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        if key in out:
            raise ValueError(f"--set gives {key!r} twice")
        out[key] = text.strip()
    return out


def _base_types(tp) -> tuple:
    """The non-None members of a (possibly optional/union) annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(tp) if a is not type(None))
    return (tp,)


def _optional(tp) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _coerce(name: str, tp, value, from_text: bool):
    """``value`` as a value of annotation ``tp`` or ValueError naming the field and the type."""
    if from_text and isinstance(value, str):
        low = value.strip().lower()
        if low in ("none", "null") and _optional(tp):
            return None
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass   # plain text for str fields
    if value is None:
        if _optional(tp):
            return None
        raise ValueError(f"{name} cannot be None")
    errors = []
    for base in _base_types(tp):
        base = typing.get_origin(base) or base
        if base is bool:
            if isinstance(value, bool):
                return value
            errors.append("true/false")
        elif base is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            errors.append("a whole number")
        elif base is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise ValueError(f"{name} must be a finite number, got {value!r}")
                return float(value)
            errors.append("a number")
        elif base is str:
            if isinstance(value, str):
                return value
            errors.append("text")
        elif base is tuple:
            if isinstance(value, (list, tuple)):
                return tuple(tuple(v) if isinstance(v, list) else v for v in value)
            errors.append("a list like [3, 5]")
        elif base is dict:
            if isinstance(value, dict):
                return dict(value)
            errors.append("a JSON object")
        else:   # pragma: no cover - a config field of a type this base does not know
            raise TypeError(f"config field {name} has unsupported type {tp!r}")
    raise ValueError(f"{name} must be {' or '.join(errors)}{' or none' if _optional(tp) else ''}, got {value!r}")


@dataclass
class PaperConfig:
    """Base of every paper config. Subclasses set the class attributes and add their fields.

    Class attributes:
        PAPER: the package name (``"awarenet"``), written into ``config.json``; by default the package
            the subclass is defined in.
        TABLE: the paper's table the variants are rows of (``"Table 2"``).
        QUICK: the overrides of the CPU preset.
        VARIANTS: ``{row name: overrides}``, one per table row.
        EPOCH_FIELDS: every field that counts epochs of some trained model.
        CHOICES: how the quick preset's values were chosen: each searched value with the split (and
            seeds) it was chosen on, and which were fixed without a search. Every published table
            carries it (``choices_note``); a value chosen on test numbers has no place in it.
    """

    PAPER: ClassVar[str] = ""
    TABLE: ClassVar[str] = "table"
    QUICK: ClassVar[dict] = {}
    VARIANTS: ClassVar[dict] = {}
    EPOCH_FIELDS: ClassVar[tuple] = ("epochs",)
    CHOICES: ClassVar[str] = ""

    # Run bookkeeping shared by every paper.
    data: str = ""
    seed: int = 0
    preset: str = "paper"                 # "paper" or "quick"
    variant_name: str | None = None       # the table row applied by variant()
    overrides: dict = field(default_factory=dict)   # what with_overrides / cap_epochs changed
    dead_output_epochs: int | None = 3    # stop when the validation output is constant this many epochs (ours)
    init_from: str = ""                   # a preset's name or a run folder whose weights training starts from
    extra: dict = field(default_factory=dict)       # free-form notes kept with the run

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "PAPER" not in cls.__dict__:
            cls.PAPER = cls.__module__.split(".")[0]

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, got {v!r}")
        if self.preset not in _PRESETS:
            raise ValueError(f"preset must be one of {list(_PRESETS)}, got {self.preset!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in self.EPOCH_FIELDS:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive whole number, got {v!r}")
        self.validate()

    def validate(self) -> None:
        """Paper-specific checks (subclasses override; raise ValueError)."""

    # helpers for validate()
    def require_choice(self, name: str, choices) -> None:
        """``name`` must be one of ``choices``."""
        if getattr(self, name) not in choices:
            shown = " or ".join(repr(c) for c in choices)
            raise ValueError(f"{name} must be {shown}, got {getattr(self, name)!r}")

    def require_positive(self, *names: str, at_least: float | None = None) -> None:
        """Each named field must be > 0 (or >= ``at_least``)."""
        for name in names:
            v = getattr(self, name)
            if (at_least is None and not v > 0) or (at_least is not None and not v >= at_least):
                raise ValueError(f"{name} must be {'> 0' if at_least is None else f'>= {at_least:g}'}, got {v!r}")

    def require_pooled(self, size: str, depth: str) -> None:
        """An encoder of ``depth`` levels (``depth - 1`` 2x2 poolings) on inputs of side ``size``."""
        d, n = getattr(self, depth), getattr(self, size)
        if d < 2:
            raise ValueError(f"{depth} must be >= 2, got {d}")
        if n % (2 ** (d - 1)):
            raise ValueError(f"{size} {n} must be divisible by 2**({depth}-1) = {2 ** (d - 1)}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def quick(cls, **overrides):
        """The CPU preset (``QUICK``) with optional overrides on top (recorded)."""
        cfg = cls(**{**cls.QUICK, "preset": "quick"})
        return cfg.with_overrides(**overrides) if overrides else cfg

    @classmethod
    def ensure(cls, config):
        """``config`` when it is one of this class's configs; a clear error otherwise."""
        if not isinstance(config, cls):
            raise ValueError(f"config must be a {cls.__name__}, got {type(config).__name__}")
        return config

    @classmethod
    def field_types(cls) -> dict:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    def variant(self, name: str):
        """This config with the overrides of one table row (``VARIANTS[name]``)."""
        if name not in self.VARIANTS:
            raise ValueError(f"unknown {self.TABLE} row {name!r}; choose from {list(self.VARIANTS)}")
        return dataclasses.replace(self, variant_name=name, **self.VARIANTS[name])

    def with_overrides(self, _from_text: bool = False, **kv):
        """A copy with fields changed after a type check; the change is recorded in ``overrides``.

        Raises:
            ValueError: an unknown field (with the closest names) or a value of the wrong type.
        """
        types_ = self.field_types()
        fixed = {"preset", "variant_name", "overrides", "extra"}
        changes = {}
        for key, value in kv.items():
            if key not in types_ or key in fixed:
                close = difflib.get_close_matches(key, [k for k in types_ if k not in fixed], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ValueError(f"unknown {type(self).__name__} field {key!r}{hint}")
            changes[key] = _coerce(key, types_[key], value, _from_text)
        if not changes:
            return self
        recorded = {**self.overrides, **{k: _jsonable(v) for k, v in changes.items() if k != "data"}}
        return dataclasses.replace(self, overrides=recorded, **changes)

    def with_text_overrides(self, items):
        """``with_overrides`` from ``["KEY=VALUE", ...]`` (values read as JSON, else as text); the data
        set is not an override (``--data`` names it, and a run folder resumes only on the same data)."""
        kv = parse_key_values(items)
        if "data" in kv:
            raise ValueError("set the data with --data, not --set data=...")
        return self.with_overrides(_from_text=True, **kv)

    def cap_epochs(self, epochs: int | None):
        """Every ``EPOCH_FIELDS`` field capped at ``epochs`` (None: unchanged)."""
        if epochs is None:
            return self
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"epochs must be a positive whole number, got {epochs!r}")
        capped = {k: min(getattr(self, k), epochs) for k in self.EPOCH_FIELDS}
        return dataclasses.replace(self, overrides={**self.overrides, "epochs_cap": epochs}, **capped)

    def group(self, prefix: str) -> dict:
        """Fields named ``<prefix>x`` as ``{"x": value}`` (e.g. ``group("sccnn_")``)."""
        out = {f.name[len(prefix):]: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name.startswith(prefix)}
        if not out:
            raise ValueError(f"{type(self).__name__} has no fields starting with {prefix!r}")
        return out

    # ------------------------------------------------------------------ description
    def describe(self) -> str:
        """``AwareNetConfig.quick() + overrides lr=..`` for provenance lines."""
        text = f"{type(self).__name__}.quick()" if self.preset == "quick" else f"{type(self).__name__}() (paper)"
        if self.variant_name:
            text += f", row {self.variant_name}"
        if self.overrides:
            text += ", overrides " + ", ".join(f"{k}={v}" for k, v in self.overrides.items())
        return text

    def choices_note(self) -> str:
        """Where the values behind a table were chosen, for its provenance (the selection protocol)."""
        if self.preset != "quick":
            text = ("the paper's values, else the authors' code's (the config's docstring says which); "
                    "none searched here")
        elif not self.CHOICES:
            raise ValueError(f"{type(self).__name__}.CHOICES is empty: say how the quick preset's values were "
                             "chosen (on which split and seeds) before publishing a table with it")
        else:
            text = "quick preset: " + self.CHOICES
        if self.overrides:
            text += "; overrides set by the command: " + ", ".join(self.overrides)
        return text + "; post-processing calibrated on the validation split only"

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return {"paper": self.PAPER, **{f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d, dict):
            raise ValueError(f"a {cls.__name__} is a JSON object, got {type(d).__name__}")
        d = dict(d)
        paper = d.pop("paper", cls.PAPER)
        if paper != cls.PAPER:
            raise ValueError(f"this config is for the {paper!r} package, not {cls.PAPER!r}: "
                             f"use `python -m {paper}` with it")
        types_ = cls.field_types()
        unknown = sorted(set(d) - set(types_))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}")
        return cls(**{k: _coerce(k, types_[k], v, False) for k, v in d.items()})

    def save(self, run) -> str:
        """Writes ``<run>/config.json`` atomically; returns its path."""
        from common.io import atomic_write_text

        path = os.path.join(os.fspath(run), CONFIG_FILE)
        atomic_write_text(path, self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, run):
        """The config of a run folder (or a ``config.json`` path), with clear errors."""
        path = os.fspath(run)
        if os.path.isdir(path):
            path = os.path.join(path, CONFIG_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {CONFIG_FILE} at {path}: not a {cls.PAPER} run folder")
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable config ({exc}); the file is damaged - retrain the run") from exc
        try:
            return cls.from_dict(d)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc


def _jsonable(v: Any):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v
