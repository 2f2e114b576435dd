"""Quiet start-up: TensorFlow's C++ / absl lines stay out of the output unless asked for.

TensorFlow 2.21 writes its start-up lines ("oneDNN custom operations are on", "Could not find
cuda drivers", "All log messages before absl::InitializeLog() ...") straight to file descriptor 2
while it is imported, before ``TF_CPP_MIN_LOG_LEVEL`` takes effect. :func:`quiet_tensorflow`
imports it with descriptor 2 captured and passes on every line that is not such noise, so a real
warning or error still shows. ``--verbose 2`` or ``CELLREPRO_TF_LOGS=1`` keeps everything.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["NOISE", "quiet_tensorflow"]

NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"TF-TRT Warning",
    r"This TensorFlow binary is optimized",
    r"To enable the following instructions",
    r"cuda_(blas|fft|dnn)\.cc",
    r"Attempting to register factory for plugin",
    r"failed call to cuInit",
]))


def quiet_tensorflow(verbose: int = 1) -> None:
    """Imports TensorFlow (if installed and not yet imported) without its start-up noise."""
    if verbose >= 2 or os.environ.get("CELLREPRO_TF_LOGS") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if "tensorflow" in sys.modules:
        return
    fd = 2   # TensorFlow's C++ logs go to descriptor 2 whatever sys.stderr is (a Jupyter kernel's stream
    try:      # reports another descriptor, so it cannot be asked)
        os.fstat(fd)
    except OSError:   # no descriptor 2 at all
        _import_tensorflow()
        return
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as cap:
        os.dup2(cap.fileno(), fd)
        try:
            _import_tensorflow()
        finally:
            os.dup2(saved, fd)
            os.close(saved)
        cap.seek(0)
        text = cap.read().decode("utf-8", "replace")
    kept = [ln for ln in text.splitlines() if ln.strip() and not NOISE.search(ln)]
    if kept:
        print("\n".join(kept), file=sys.stderr)


def _import_tensorflow() -> None:
    try:
        import tensorflow

        tensorflow.config.list_physical_devices("GPU")   # device discovery logs now, while captured
    except ImportError:   # the JAX / PyTorch machines have no TensorFlow; nothing to silence
        pass
