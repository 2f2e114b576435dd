"""Paper-vs-ours tables (pandas) rendered to Markdown and CSV, written atomically."""

from __future__ import annotations

import os
import platform
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from common.io import atomic_path, atomic_write_text

__all__ = ["hardware_summary", "paper_table", "paper_vs_ours", "to_markdown", "write_table"]


def paper_table(rows: Mapping[str, Sequence[float]], columns: Sequence[str], index_name: str = "Method",
                scale: float = 1.0) -> pd.DataFrame:
    """A paper's table (``{row: values}``) as a DataFrame; ``scale`` converts, e.g. 0.01 for percent."""
    df = pd.DataFrame.from_dict({k: [float(v) * scale for v in vals] for k, vals in rows.items()}, orient="index",
                                columns=list(columns))
    df.index.name = index_name
    return df.round(6)


def paper_vs_ours(paper: pd.DataFrame, ours: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Side-by-side table: for each metric a ``<metric> (paper)`` and ``<metric> (ours)`` column.

    Rows are the union of both indexes in the paper's order (ours-only rows last); a value missing
    on one side is NaN (printed as "-").

    Args:
        paper: the paper's table, indexed by row name (method / variant).
        ours: our measured table with the same index names.
        metrics: columns to compare (default: the paper's columns).
    """
    if not isinstance(paper, pd.DataFrame) or not isinstance(ours, pd.DataFrame):
        raise ValueError("paper and ours must be pandas DataFrames")
    metrics = list(metrics) if metrics is not None else list(paper.columns)
    missing = [m for m in metrics if m not in ours.columns]
    if missing:
        raise ValueError(f"ours lacks metric column(s) {missing}; has {list(ours.columns)}")
    rows = list(paper.index) + [r for r in ours.index if r not in paper.index]
    out = pd.DataFrame(index=pd.Index(rows, name=paper.index.name or ours.index.name or "row"))
    for m in metrics:
        out[f"{m} (paper)"] = paper[m].reindex(rows) if m in paper.columns else np.nan
        out[f"{m} (ours)"] = ours[m].reindex(rows)
    return out


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub-style Markdown table (no extra dependency), NaN shown as '-'."""
    cols = [df.index.name or ""] + [str(c) for c in df.columns]

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "-" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=True, name=None):  # keeps each column's own type (ints stay ints)
        lines.append("| " + " | ".join([str(row[0])] + [fmt(v) for v in row[1:]]) + " |")
    return "\n".join(lines)


def hardware_summary() -> str:
    """One line: CPU model, core count, memory, Python / library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages * size / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores{mem}; Python {platform.python_version()}, numpy {np.__version__}"


def write_table(df: pd.DataFrame, path_stem, title: str = "", meta: Mapping[str, object] | None = None,
                floatfmt: str = ".3f") -> tuple[str, str]:
    """Writes ``<path_stem>.md`` (title, provenance list, table) and ``<path_stem>.csv`` atomically.

    Args:
        df: the table.
        path_stem: output path without extension.
        title: Markdown heading.
        meta: provenance, e.g. data, split, radius, config, command, hardware, wall time.

    Returns:
        The two paths written.
    """
    stem = os.fspath(path_stem)
    md = []
    if title:
        md += [f"# {title}", ""]
    for k, v in (meta or {}).items():
        md.append(f"- **{k}**: {v}")
    if meta:
        md.append("")
    md += [to_markdown(df, floatfmt), ""]
    md_path, csv_path = stem + ".md", stem + ".csv"
    atomic_write_text(md_path, "\n".join(md))
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp)
    return md_path, csv_path
