"""The ``cellrepro`` console script: ``cellrepro reproduce [--quick] [--papers ...] [--out DIR]``,
``cellrepro papers`` and ``cellrepro --version``.

Paper packages are found by name with importlib, so ``common`` never imports them statically; each
package's ``TITLE`` names its paper. Neither ``--help`` nor ``papers`` imports TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time

from common import __version__

PAPERS = ("awarenet", "sdrdin", "mapde", "yolo_transfer", "pointnet_cells")


def title(paper: str) -> str:
    """The paper's title, from its package's ``TITLE``."""
    return getattr(importlib.import_module(paper), "TITLE", paper)


def _has_reproduce(paper: str) -> bool:
    try:
        return importlib.util.find_spec(f"{paper}.reproduce") is not None
    except ModuleNotFoundError:
        return False


def state(paper: str) -> str:
    """``"ready"``, ``"in progress"`` (a ``reproduce`` module, but the package's ``READY`` is False)
    or ``"not implemented yet"``."""
    if not _has_reproduce(paper):
        return "not implemented yet"
    return "ready" if getattr(importlib.import_module(paper), "READY", True) else "in progress"


def _reproduce_module(paper: str):
    """The paper's ``reproduce`` module, or None while the paper is not ready."""
    if state(paper) != "ready":
        return None
    return importlib.import_module(f"{paper}.reproduce")


def status() -> dict:
    """{paper: True if it is ready to reproduce} (without importing TensorFlow)."""
    return {p: state(p) == "ready" for p in PAPERS}


def _cmd_reproduce(args) -> int:
    papers = args.papers or list(PAPERS)
    unknown = [p for p in papers if p not in PAPERS]
    if unknown:
        print(f"cellrepro: unknown paper(s) {unknown}; choose from {list(PAPERS)}", file=sys.stderr)
        return 2
    from common.logs import quiet_tensorflow

    quiet_tensorflow(args.verbose)
    ran = 0
    for p in papers:
        mod = _reproduce_module(p)
        if mod is None:
            print(f"[{p}] {state(p)} - skipped ({title(p)})")
            continue
        print(f"[{p}] {title(p)}", flush=True)
        t0 = time.time()
        mod.main(quick=args.quick, out=args.out)
        print(f"[{p}] done in {time.time() - t0:.1f} s", flush=True)
        ran += 1
    if ran == 0:
        print("No paper package is implemented yet; nothing was reproduced.")
    return 0


def _cmd_papers(_args) -> int:
    for p in PAPERS:
        print(f"{p:16s} {state(p):20s} {title(p)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cellrepro",
        description="Reproduce five published cell-detection papers (Keras 3 / TensorFlow). Each paper also "
                    "has its own command line: python -m <paper> reproduce|train|predict|evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"cellrepro {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="reproduce each paper's table next to the paper's numbers")
    rep.add_argument("--quick", action="store_true", help="small CPU preset on the embedded synthetic data")
    rep.add_argument("--papers", nargs="+", metavar="PAPER", help=f"subset of {', '.join(PAPERS)}")
    rep.add_argument("--out", default="runs/reproduce", help="output folder (default: runs/reproduce)")
    rep.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                     help="2 also shows TensorFlow's start-up logs (default: 1)")
    rep.set_defaults(func=_cmd_reproduce)
    pap = sub.add_parser("papers", help="list the paper packages and whether they are implemented")
    pap.set_defaults(func=_cmd_papers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("cellrepro: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:   # one line; the traceback with --verbose 2
        from common.paper_cli import _expected, _one_line

        if getattr(args, "verbose", 1) >= 2:
            import traceback

            traceback.print_exc()
        kind = "error" if _expected(exc) else f"unexpected error {type(exc).__name__}"
        print(f"cellrepro {args.command}: {kind}: {_one_line(exc)}", file=sys.stderr)
        return 2 if _expected(exc) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
