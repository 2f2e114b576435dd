"""What the five papers share: labels, deconvolution, post-processing, matching, I/O, datasets,
synthetic data, tiling, Keras layers, reporting and test harnesses.

Submodules are imported on demand (``from common import labels``); importing ``common`` itself does
not import TensorFlow or Keras.
"""

__version__ = "0.1.0"


def lazy_attributes(package: str, namespace: dict, names: dict):
    """PEP 562 ``(__getattr__, __dir__, __all__)`` for a package whose public names live in submodules.

    ``names`` maps a submodule (relative to ``package``) to the space-separated names it defines; the
    submodule is imported on first access (so importing the package does not import TensorFlow), as
    scikit-image's lazy loader does.
    """
    import importlib

    where = {name: f"{package}.{module}" for module, text in names.items() for name in text.split()}

    def __getattr__(name):
        if name in where:
            if where[name].rsplit(".", 1)[-1] not in ("config", "paper"):   # these never import TensorFlow
                from common.logs import quiet_tensorflow

                quiet_tensorflow()   # its start-up lines hidden for the Python API too, as for the CLI
            value = getattr(importlib.import_module(where[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__, sorted(where)
