"""The ``cellrepro`` console script.

* ``cellrepro <paper> reproduce|train|predict|evaluate ...`` - a paper's command line
  (:class:`common.paper_cli.PaperCLI`; ``python -m <paper> ...`` is the same parser);
* ``cellrepro reproduce [--quick] [--papers ...] [--out DIR]`` - every paper's tables;
* ``cellrepro papers`` - the registered papers; ``cellrepro presets`` - the trained presets
  (:mod:`common.presets`), loadable by name; ``cellrepro --version``.

The papers are the ``cellrepro.papers`` entry points (:mod:`common.contract`), so ``common`` never
imports a paper package by name and a paper from another distribution joins without editing this
file. Neither ``--help`` nor ``papers`` imports TensorFlow.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import time

from common import __version__, contract
from common.paper_cli import PaperCLI, run_verb

_COMMANDS = ("reproduce", "papers", "presets")


def _cmd_reproduce(args) -> int:
    known = contract.names()
    papers = args.papers or known
    unknown = [p for p in papers if p not in known]
    if unknown:
        raise ValueError(f"unknown paper(s) {unknown}; choose from {known}")
    from common.logs import quiet_tensorflow

    quiet_tensorflow(args.verbose)
    for name in papers:
        paper = contract.get(name)
        print(f"[{name}] {paper.title}", flush=True)
        t0 = time.time()
        paper.reproduce(quick=args.quick, out=args.out, rows=paper.default_rows(args.quick))
        print(f"[{name}] done in {time.time() - t0:.1f} s", flush=True)
    return 0


def _cmd_papers(_args) -> int:
    for name, paper in contract.papers().items():
        mpp = f"{paper.mpp:g} um/px" if paper.mpp else "mpp -"
        print(f"{name:16s} radius {paper.match_radius:g} px, {mpp:12s} {paper.title}")
    return 0


def _cmd_presets(args) -> int:
    from common.presets import presets, verify

    found = [p for p in presets().values() if not args.paper or p.paper == args.paper]
    if not found:
        print("no presets installed" + (f" for {args.paper}" if args.paper else "")
              + " (a run folder becomes one with `cellrepro <paper> export-preset RUN NAME`)")
        return 0
    for p in found:
        m = p.manifest
        classes = (", ".join(m.get("class_names") or []) or "-") if m.get("classifies", True) else \
            "none (detection only)"
        mpp = f"{m['mpp']:g} um/px" if isinstance(m.get("mpp"), (int, float)) else "mpp -"
        size = sum((m.get("bytes") or {}).values()) / 1e6
        print(f"{p.name}  ({p.paper}, row {m.get('row')}, {mpp}, classes: {classes}, {size:.1f} MB)")
        if m.get("description"):
            print(f"    {m['description']}")
        for key in ("test", "anchor"):
            if m.get("metrics", {}).get(key):
                print(f"    {key}: {m['metrics'][key]}")
        if m.get("licence"):
            print(f"    data licence: {m['licence']}")
        if args.verify:
            verify(p)
            print("    sha256: ok")
        print(f"    {p.folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    names = contract.names()
    parser = argparse.ArgumentParser(
        prog="cellrepro",
        usage="cellrepro [-h] [--version] {" + ",".join([*names, *_COMMANDS]) + "} ...",
        description="Reproduce published cell-detection papers (Keras 3 / TensorFlow). "
                    "`cellrepro <paper> reproduce|train|predict|evaluate` is each paper's command line "
                    f"(papers: {', '.join(names)}); `python -m <paper>` is the same.",
    )
    parser.add_argument("--version", action="version", version=f"cellrepro {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(_COMMANDS) + "}")
    rep = sub.add_parser("reproduce", help="reproduce each paper's table next to the paper's numbers")
    rep.add_argument("--quick", action="store_true", help="small CPU preset on the embedded synthetic data")
    rep.add_argument("--papers", nargs="+", metavar="PAPER", help=f"subset of {', '.join(names)}")
    rep.add_argument("--out", default="runs/reproduce", help="output folder (default: runs/reproduce)")
    rep.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                     help="2 also shows TensorFlow's start-up logs (default: 1)")
    rep.set_defaults(func=_cmd_reproduce)
    pap = sub.add_parser("papers", help="list the registered papers")
    pap.set_defaults(func=_cmd_papers)
    pre = sub.add_parser("presets", help="list the trained presets (use one with --model NAME or train --from NAME)")
    pre.add_argument("--paper", choices=names, default=None, help="only this paper's presets")
    pre.add_argument("--verify", action="store_true", help="check every model file against its sha256")
    pre.set_defaults(func=_cmd_presets)
    return parser


def main(argv=None, prog: str | None = None) -> int:
    """``cellrepro ...``; ``prog`` names the program for ``python -m <paper>``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = argv[0] if argv else ""
    names = contract.names()
    if first in names:
        return PaperCLI(first, prog=prog or f"cellrepro {first}").main(argv[1:])
    if first and not first.startswith("-") and first not in _COMMANDS:
        close = difflib.get_close_matches(first, [*names, *_COMMANDS], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"cellrepro: error: unknown paper or command {first!r}{hint} (papers: {', '.join(names)}; "
              f"commands: {', '.join(_COMMANDS)})", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    return run_verb(f"cellrepro {args.command}", args)


def paper_main(name: str) -> int:
    """``python -m <paper>``: the same parser as ``cellrepro <paper>``. A package run this way that no
    entry point names yet (a paper being written from the template) registers its own ``PAPER``."""
    if name not in contract.names():
        import importlib

        contract.register(importlib.import_module(f"{name}.paper").PAPER)
    return main([name, *sys.argv[1:]], prog=f"python -m {name}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
