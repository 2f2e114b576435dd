"""The ``cellrepro`` console script: ``cellrepro reproduce [--quick] [--papers ...] [--out DIR]``.

Paper packages are found by name with importlib, so ``common`` never imports them statically.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the CLI

PAPERS = ("awarenet", "sdrdin", "mapde", "yolo_transfer", "pointnet_cells")
TITLES = {
    "awarenet": "AwareNet - class-abundance weighted Dice (Hagos et al., ISBI 2021)",
    "sdrdin": "S-DRDIN - simultaneous detection + classification (Zhang et al., COMPAY 2021)",
    "mapde": "MapDe - mapping filter + Lucy-Richardson deconvolution (Raza et al., ISBI 2019)",
    "yolo_transfer": "YOLOv3 transfer learning for blood cells (BCCD)",
    "pointnet_cells": "End-to-end point-proposal cell recognition (Shui et al., MICCAI 2022)",
}


def _reproduce_module(paper: str):
    """The paper's ``reproduce`` module, or None while the paper is not implemented."""
    try:
        return importlib.import_module(f"{paper}.reproduce")
    except ModuleNotFoundError as exc:
        if exc.name in (f"{paper}.reproduce", paper):
            return None
        raise


def status() -> dict:
    """{paper: True if it has a reproduce entry point}."""
    return {p: _reproduce_module(p) is not None for p in PAPERS}


def _cmd_reproduce(args) -> int:
    papers = args.papers or list(PAPERS)
    unknown = [p for p in papers if p not in PAPERS]
    if unknown:
        print(f"cellrepro: unknown paper(s) {unknown}; choose from {list(PAPERS)}", file=sys.stderr)
        return 2
    ran = 0
    for p in papers:
        mod = _reproduce_module(p)
        if mod is None:
            print(f"[{p}] not implemented yet - skipped ({TITLES[p]})")
            continue
        print(f"[{p}] {TITLES[p]}")
        t0 = time.time()
        mod.main(quick=args.quick, out=args.out)
        print(f"[{p}] done in {time.time() - t0:.1f} s")
        ran += 1
    if ran == 0:
        print("No paper package is implemented yet; nothing was reproduced.")
    return 0


def _cmd_papers(_args) -> int:
    for p, ok in status().items():
        print(f"{p:16s} {'ready' if ok else 'not implemented yet':20s} {TITLES[p]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cellrepro",
        description="Reproduce five published cell-detection papers (Keras 3 / TensorFlow).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="reproduce each paper's table next to the paper's numbers")
    rep.add_argument("--quick", action="store_true", help="small CPU preset on the embedded synthetic data")
    rep.add_argument("--papers", nargs="+", metavar="PAPER", help=f"subset of {', '.join(PAPERS)}")
    rep.add_argument("--out", default="runs/reproduce", help="output folder (default: runs/reproduce)")
    rep.set_defaults(func=_cmd_reproduce)
    pap = sub.add_parser("papers", help="list the paper packages and whether they are implemented")
    pap.set_defaults(func=_cmd_papers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
