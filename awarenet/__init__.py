"""AwareNet (Hagos et al., ISBI 2021): class-abundance weighted Dice for rare-cell detection.

Detector: the Inception U-Net of Fig. 3 trained with the weighted Dice loss (eq. 5) on reference
(eq. 1) and weight images (eq. 2-4); baselines U-net (no weights) and CONCORDe-Net (Dice + count
loss through a frozen counter, ``common.baselines.concordenet``). Cell classifier: the VGG-style
net of section 3.4 with class-weighted cross-entropy. ``awarenet.reproduce.table2`` and
``awarenet.reproduce.classification`` print the paper's numbers beside ours;
``python -m awarenet reproduce|train|predict|evaluate`` is the command line.
"""

from awarenet import losses  # noqa: F401  (registers WeightedDiceLoss for loading compiled .keras files)
from awarenet.config import TABLE2_ROWS, VARIANTS, AwareNetConfig
from awarenet.evaluate import classify_cells, detect, probability_map
from awarenet.model import AwareNetDetector, CellClassifier, build_classifier, build_detector
from awarenet.train import train_classifier, train_detector

__all__ = ["TABLE2_ROWS", "VARIANTS", "AwareNetConfig", "AwareNetDetector", "CellClassifier",
           "build_classifier", "build_detector", "classify_cells", "detect", "probability_map",
           "train_classifier", "train_detector"]
