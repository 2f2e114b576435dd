"""Mean +- std over seeds of a recorded quick table, so a conclusion drawn from a difference between rows can be
checked against seed noise (issue 25).

Reads ``<table>.csv`` from each run folder (``python -m <paper> reproduce --quick --seed S --out ...``), keeps
the chosen columns of every row, and writes ``OUT.{md,csv}``: one row per table row, each column's value at
every seed, its mean and sample std, and the paper's value where the table has one. A difference between two
rows smaller than about twice their std is within seed noise.

Usage:
    python results/seeds_summary.py --runs runs/reproduce/mapde runs/reproduce_seed1/mapde ... \\
        --table table1 --columns "F1 (ours)" --out results/mapde/synthetic_quick_seeds --title "..."
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def summarise(runs, table: str, columns):
    """The summary frame: ``<column> seed <s>`` for each run, then ``<column> mean`` / ``std``."""
    import pandas as pd

    frames, seeds = [], []
    for run in runs:
        frames.append(pd.read_csv(os.path.join(run, f"{table}.csv"), index_col=0))
        seeds.append(_seed_from_md(os.path.join(run, f"{table}.md")))
    out = pd.DataFrame(index=frames[0].index)
    for col in columns:
        missing = [r for r, f in zip(runs, frames) if col not in f.columns]
        if missing:
            raise SystemExit(f"{missing[0]}/{table}.csv has no column {col!r}")
        paper = col.replace("(ours)", "(paper)")
        if paper != col and paper in frames[0].columns:
            out[paper] = frames[0][paper]
        for s, f in zip(seeds, frames):
            out[f"{col} seed {s}"] = f[col]
        values = pd.concat([f[col] for f in frames], axis=1)
        out[f"{col} mean"] = values.mean(axis=1)
        out[f"{col} std"] = values.std(axis=1, ddof=1)
    return out


def _seed_from_md(path: str):
    """The seed stated in a table's provenance line (``seed N`` in its config line)."""
    import re

    with open(path, encoding="utf-8") as f:
        found = re.findall(r"\bseed (\d+)\b", f.read())
    return int(found[-1]) if found else "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="the reproduce output folders, one per seed")
    p.add_argument("--table", required=True, help="the table's name (its CSV without .csv)")
    p.add_argument("--columns", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="mean and std over seeds")
    p.add_argument("--command", default="", help="the command each seed ran (for the provenance)")
    a = p.parse_args(argv)
    from common.reporting import hardware_summary, write_table

    df = summarise(a.runs, a.table, a.columns)
    meta = {"what": f"{a.table} of {len(a.runs)} runs that differ only in --seed (the synthetic data and the "
                    "initialisation); sample std (ddof 1)",
            "runs": ", ".join(a.runs), "per-seed command": a.command or "-",
            "summary command": "python results/seeds_summary.py " + shlex.join(argv if argv is not None else
                                                                               sys.argv[1:]),
            "hardware": hardware_summary()}
    write_table(df, a.out, a.title, meta)
    print(df.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
