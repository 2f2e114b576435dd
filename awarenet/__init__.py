"""AwareNet (Hagos et al., ISBI 2021): class-abundance weighted Dice for rare-cell detection.

Detector: the Inception U-Net of Fig. 3 trained with the weighted Dice loss (eq. 5) on reference
(eq. 1) and weight images (eq. 2-4); baselines U-net (no weights) and CONCORDe-Net (Dice + count
loss through a frozen counter, ``common.baselines.concordenet``). Cell classifier: the VGG-style
net of section 3.4 with class-weighted cross-entropy. ``awarenet.reproduce.table2`` and
``awarenet.reproduce.classification`` print the paper's numbers beside ours;
``python -m awarenet reproduce|train|predict|evaluate`` is the command line;
``awarenet.load(run).predict(image)`` gives the cells of an image.

Attributes are imported on first use (PEP 562), so ``import awarenet`` does not import TensorFlow.
"""

from common import lazy_attributes

TITLE = "AwareNet - class-abundance weighted Dice for rare cells (Hagos et al., ISBI 2021)"

_LAZY = {
    "AwareNetConfig": "awarenet.config", "TABLE2_ROWS": "awarenet.config", "VARIANTS": "awarenet.config",
    "AwareNetDetector": "awarenet.model", "CellClassifier": "awarenet.model", "build_classifier": "awarenet.model",
    "build_detector": "awarenet.model", "WeightedDiceLoss": "awarenet.losses",
    "AwareNetPredictor": "awarenet.evaluate", "classify_cells": "awarenet.evaluate", "detect": "awarenet.evaluate",
    "load": "awarenet.evaluate", "train_classifier": "awarenet.train",
    "train_detector": "awarenet.train",
}
__all__ = ["TITLE", *sorted(_LAZY)]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
