"""Executes the figure notebooks in place on recorded ``reproduce`` outputs, so that they are stored with
their outputs and render on a code host without running.

Each ``notebooks/<paper>_figures.ipynb`` runs in a fresh kernel with its variable (``MAPDE_RESULTS``, ...)
set to ``RESULTS/<paper>``, where ``RESULTS`` is the ``--out`` folder of ``python -m <paper> reproduce --quick
--out RESULTS``. Needs the ``notebooks`` extra (nbconvert, ipykernel).

Usage:
    python docs/execute_notebooks.py --results runs/reproduce [--papers mapde awarenet ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPERS = ("awarenet", "mapde", "sdrdin", "yolo_transfer", "pointnet_cells")


def variable(path: str) -> str:
    """The environment variable a notebook reads its source from (its first ``os.environ.get``)."""
    with open(path, encoding="utf-8") as f:
        found = re.search(r'os\.environ\.get\(\\"([A-Z_]+)\\"', f.read())
    if not found:
        raise ValueError(f"{path}: no os.environ.get(...) naming its results folder")
    return found.group(1)


def execute(path: str, results: str, timeout: int = 1800) -> float:
    """Runs the notebook at ``path`` in place with its variable set to ``results``; returns the seconds."""
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    os.environ[variable(path)] = os.path.abspath(results)
    t0 = time.time()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": os.path.dirname(path)}})
    for cell in nb.cells:   # timestamps would change the file at every run
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, path)
    return time.time() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", required=True, help="the --out folder of `<paper> reproduce --quick`")
    p.add_argument("--papers", nargs="+", default=list(PAPERS), choices=PAPERS)
    a = p.parse_args(argv)
    missing = [n for n in a.papers if not os.path.isdir(os.path.join(a.results, n))]
    if missing:
        print(f"{a.results}: no reproduce output for {', '.join(missing)}", file=sys.stderr)
        return 2
    for name in a.papers:
        path = os.path.join(ROOT, "notebooks", f"{name}_figures.ipynb")
        seconds = execute(path, os.path.join(a.results, name))
        size = os.path.getsize(path) / 1e6
        print(json.dumps({"notebook": os.path.relpath(path, ROOT), "seconds": round(seconds, 1),
                          "MB": round(size, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
