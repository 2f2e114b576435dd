"""AwareNet (Hagos et al., ISBI 2021): class-abundance weighted Dice for rare-cell detection.

Work in progress (issue 3): config, detector, classifier, loss and data pipeline are in place;
training, baselines, evaluation and ``reproduce`` are not yet.
"""

from awarenet.config import TABLE2_ROWS, VARIANTS, AwareNetConfig
from awarenet.model import AwareNetDetector, CellClassifier, build_classifier, build_detector

__all__ = ["TABLE2_ROWS", "VARIANTS", "AwareNetConfig", "AwareNetDetector", "CellClassifier",
           "build_classifier", "build_detector"]
