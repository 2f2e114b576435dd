"""One progress library for every bar and every Keras training log.

Bars are ``tqdm`` bars that switch themselves off when the stream is not a terminal, and Keras
training logs one line per epoch there (``verbose=2``), so ``make reproduce > log 2>&1`` holds no
carriage returns or escape codes.
"""

from __future__ import annotations

import sys

__all__ = ["is_terminal", "keras_verbose", "progress_bar"]


def is_terminal(stream=None) -> bool:
    """Whether ``stream`` (default stderr, where bars go) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable=None, total=None, desc: str | None = None, unit: str = "it", enabled: bool = True):
    """A tqdm bar over ``iterable`` that is silent off a terminal (or when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=(not enabled) or not is_terminal(),
                file=sys.stderr, dynamic_ncols=True)


def keras_verbose(verbose="auto") -> int:
    """Keras ``fit`` verbosity: ``"auto"`` is a progress bar on a terminal and one line per epoch off it."""
    if verbose == "auto" or verbose is None:
        return 1 if is_terminal(sys.stdout) else 2
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return 1 if verbose == 1 and is_terminal(sys.stdout) else (2 if verbose == 1 else verbose)
