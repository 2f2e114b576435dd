"""What the five papers share: labels, deconvolution, post-processing, matching, I/O, datasets,
synthetic data, tiling, Keras layers, reporting and test harnesses.

Submodules are imported on demand (``from common import labels``); importing ``common`` itself does
not import TensorFlow or Keras.
"""

__version__ = "0.1.0"


def lazy_attributes(package: str, names: dict, namespace: dict):
    """PEP 562 ``(__getattr__, __dir__)`` for a package whose public names live in submodules.

    ``names`` maps an attribute to the submodule defining it; the submodule is imported on first
    access (so importing the package does not import TensorFlow), as scikit-image's lazy loader does.
    """
    import importlib

    def __getattr__(name):
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
