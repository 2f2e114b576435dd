"""Which code a before / after benchmark times: this checkout, or another one named by ``--code DIR``.

Import it before ``common``: :func:`use` puts the chosen checkout first on ``sys.path``, and
:func:`label` names its commit for the table's ``code`` column.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # this checkout


def use(argv=None) -> str:
    """The checkout ``--code DIR`` names in ``argv`` (default ``sys.argv``), else this one, first on ``sys.path``."""
    argv = sys.argv if argv is None else argv
    root = os.path.abspath(argv[argv.index("--code") + 1]) if "--code" in argv else HERE
    sys.path.insert(0, root)
    return root


def label(root: str, given: bool) -> str:
    """``commit <short sha>`` of ``root``, with `` (--code)`` when ``--code`` named it (``given``)."""
    res = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"commit {res.stdout.strip() or '?'}" + (" (--code)" if given else "")
