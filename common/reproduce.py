"""Publishing a paper's tables, written once for every paper.

A paper's ``reproduce.py`` keeps only its rows: it resolves its config with :func:`resolve_config`,
computes its DataFrames, and hands each to :func:`publish` with :func:`provenance`; :func:`finish`
writes ``command.txt``. Tables keep the shared metric names (Precision, Recall, F1, ...) in their
CSV; ``rename`` maps them to the paper's own column names in the printed and Markdown tables.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Mapping

import pandas as pd

from common.io import atomic_write_text
from common.reporting import hardware_summary, to_markdown, write_table

__all__ = ["Reproduction", "TableSetup", "display", "finish", "output_folder", "provenance", "publish",
           "resolve_config", "tuned_columns"]


def resolve_config(cls, config=None, quick: bool = False, data: str | None = None, overrides=None,
                   epochs: int | None = None):
    """The run's config: ``config`` or the preset, then the data name, overrides and epoch cap.

    Args:
        cls: the paper's config class.
        config: a config to start from (replaces the preset).
        quick: start from ``cls.quick()``.
        data: the dataset name or folder (stored in the config).
        overrides: ``{field: value}`` or ``["KEY=VALUE", ...]`` (type-checked, recorded).
        epochs: cap every trained model's epochs.
    """
    if config is None:
        config = cls.quick() if quick else cls()
    if not isinstance(config, cls):
        raise ValueError(f"config must be a {cls.__name__}, got {type(config).__name__}")
    if data is not None:
        if not isinstance(data, str) or not data:
            raise ValueError(f"data must be a dataset name or folder, got {data!r}")
        config = config.with_overrides(data=data)
    if overrides:
        if isinstance(overrides, Mapping):
            if "data" in overrides:
                raise ValueError("set the dataset with data=... (--data), not an override")
            config = config.with_overrides(**overrides)
        else:
            config = config.with_text_overrides(overrides)
    return config.cap_epochs(epochs)


def output_folder(out, paper: str) -> str:
    """``<out>/<paper>`` (a new temporary folder for ``out=None``)."""
    base = tempfile.mkdtemp(prefix=f"{paper}_") if out is None else os.fspath(out)
    return os.path.join(base, paper)


def provenance(config, train, val, test, protocol: str, split: str, t0: float, command: str | None = None,
               **extra) -> dict:
    """The provenance lines every published table carries."""
    n_cells = sum(len(s.points) for s in test)
    meta = {
        "data": f"{getattr(train, 'description', '') or config.data}; {n_cells} test cells",
        "split": f"train {len(train)} / val {len(val)} / test {len(test)} images; {split}",
        "protocol": protocol,
        "config": config.describe() + "; " + config_summary(config),
        "choices": config.choices_note(),
        **extra,
        "hardware": hardware_summary(),
        "wall time": f"{time.time() - t0:.0f} s",
    }
    if command:
        meta["command"] = command
    return meta


def tuned_columns(params: Mapping) -> dict:
    """A row's tuned post-processing for its table: ``threshold``, ``min_distance`` where one was tuned, and
    ``on edge`` (the tuned values that lie on an edge of their search, "-" when none; issue 25)."""
    out = {"threshold": float(params["threshold"])}
    if params.get("min_distance") is not None:
        out["min_distance"] = params["min_distance"]
    edge = params.get("edge") or []
    out["on edge"] = ", ".join([edge] if isinstance(edge, str) else list(edge)) or "-"
    return out


def config_summary(config) -> str:
    """The hyper-parameters a reader needs beside a number: learning rate(s), epochs, batch, seed."""
    parts = []
    for name in ("learning_rate", "classifier_lr", "sccnn_lr"):
        if hasattr(config, name):
            parts.append(f"{name} {getattr(config, name):g}")
    if getattr(config, "warmup_steps", 0):
        parts.append(f"warmup_steps {config.warmup_steps}")
    for name in config.EPOCH_FIELDS:
        parts.append(f"{name} {getattr(config, name)}")
    for name in ("batch_size", "patience", "width", "input_size", "base_filters", "depth"):
        if hasattr(config, name) and getattr(config, name) is not None:
            parts.append(f"{name} {getattr(config, name)}")
    parts.append(f"seed {config.seed}")
    return ", ".join(parts)


def display(df: pd.DataFrame, rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The table with shared metric names replaced by the paper's (``F1`` -> ``F1-score``)."""
    if not rename:
        return df

    def name(col):
        col = str(col)
        for ours, theirs in rename.items():
            if col == ours or col.startswith(ours + " ") or col.startswith(ours + "@"):
                return theirs + col[len(ours):]
        return col

    return df.rename(columns=name)


def publish(df: pd.DataFrame, folder, name: str, title: str, meta: Mapping[str, object] | None = None,
            rename: Mapping[str, str] | None = None, floatfmt: str = ".3f", quiet: bool = False) -> tuple[str, str]:
    """Writes ``<folder>/<name>.md`` (paper column names) and ``.csv`` (shared names) and prints it."""
    meta = dict(meta if meta is not None else df.attrs.get("meta", {}))
    shown = display(df, rename)
    md_path, _ = write_table(shown, os.path.join(os.fspath(folder), name), title, meta, floatfmt)
    csv_path = os.path.join(os.fspath(folder), name + ".csv")
    from common.io import atomic_path

    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp)
    if not quiet:
        print(f"\n{title}")
        for k, v in meta.items():
            print(f"  {k}: {v}")
        print(to_markdown(shown, floatfmt))
    return md_path, csv_path


def finish(folder, command: str, t0: float, label: str) -> None:
    """Writes ``command.txt`` and says where the results are."""
    atomic_write_text(os.path.join(os.fspath(folder), "command.txt"),
                      command + f"\n# total wall time {time.time() - t0:.0f} s\n")
    print(f"\n{label} results written to {folder} ({time.time() - t0:.0f} s)")


class Reproduction:
    """One ``reproduce`` run of a paper: its config, data, output folder, command and clock.

    ``Reproduction(paper, data, ...)`` resolves the config (preset, data, overrides, epoch cap), loads
    the splits unless given and names the output folder ``<out>/<paper>``; :meth:`publish` writes a
    table with the run's command in its provenance and :meth:`finish` writes ``command.txt``.

    Args:
        paper: the :class:`common.contract.Paper` (or its name).
        data: the data name as the user gave it (``"synthetic"`` is the paper's own kind).
    """

    def __init__(self, paper, data: str, *, quick: bool = False, out=None, config=None, overrides=None,
                 epochs: int | None = None, command: str | None = None, splits=None, data_root=None):
        from common.contract import get

        self.t0 = time.time()
        self.paper = get(paper)
        self.command = command or f"cellrepro {self.paper.name} reproduce{' --quick' if quick else ''} --data {data}"
        self.config = resolve_config(self.paper.config_class(), config, quick, self.paper.data_name(data), overrides,
                                     epochs)
        self.splits = splits if splits is not None else self.paper.load_splits(data, self.config.seed, data_root)
        self.out = output_folder(out, self.paper.name)

    def publish(self, df: pd.DataFrame, name: str, title: str, rename: Mapping[str, str] | None = None):
        df.attrs.setdefault("meta", {})["command"] = self.command
        return publish(df, self.out, name, title, rename=rename)

    def finish(self, label: str) -> None:
        finish(self.out, self.command, self.t0, label)


class TableSetup:
    """What every table function starts from: checked rows, the base config, output folder, splits, clock.

    Args:
        paper: the :class:`common.contract.Paper` (or its name); its config's ``VARIANTS`` are the
            valid rows.
        rows: the rows asked for.
        config, quick: as :func:`resolve_config` takes them.
        data: the data name as the user gave it.
        out: output folder (``None``: a temporary ``<paper>_`` folder).
        splits: preloaded ``(train, val, test)``, else the paper's ``load_splits(data, seed)``.
    """

    def __init__(self, paper, rows, config, quick: bool, data: str, out, splits):
        from common.contract import get

        paper = get(paper)
        config_class = paper.config_class()
        unknown = [r for r in rows if r not in config_class.VARIANTS]
        if unknown or not len(rows):
            raise ValueError(f"unknown {config_class.TABLE} row(s) {unknown}; "
                             f"choose from {list(config_class.VARIANTS)}")
        self.t0 = time.time()
        self.rows = list(rows)
        self.base = resolve_config(config_class, config, quick, paper.data_name(data))
        self.out = output_folder(out, paper.name) if out is None else os.fspath(out)
        self.train, self.val, self.test = splits if splits is not None else paper.load_splits(data, self.base.seed)
