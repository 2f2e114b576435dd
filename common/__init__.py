"""What the five papers share: labels, deconvolution, post-processing, matching, I/O, datasets,
synthetic data, tiling, Keras layers, reporting and test harnesses.

Submodules are imported on demand (``from common import labels``); importing ``common`` itself does
not import TensorFlow or Keras.
"""

__version__ = "0.1.0"
