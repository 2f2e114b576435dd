"""AwareNet (Hagos et al., ISBI 2021): class-abundance weighted Dice for rare-cell detection.

Detector: the Inception U-Net of Fig. 3 trained with the weighted Dice loss (eq. 5) on reference
(eq. 1) and weight images (eq. 2-4); baselines U-net (no weights) and CONCORDe-Net (Dice + count
loss through a frozen counter, ``common.baselines.concordenet``). Cell classifier: the VGG-style
net of section 3.4 with class-weighted cross-entropy. ``awarenet.reproduce.table2`` and
``awarenet.reproduce.classification`` print the paper's numbers beside ours;
``cellrepro awarenet reproduce|train|predict|evaluate`` is the command line;
``awarenet.load(run).predict(image)`` gives the cells of an image.

Attributes are imported on first use (PEP 562), so ``import awarenet`` does not import TensorFlow.
"""

from common import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, globals(), {
    "config": "AwareNetConfig TABLE2_ROWS VARIANTS", "losses": "WeightedDiceLoss",
    "model": "AwareNetDetector CellClassifier build_classifier build_detector",
    "train": "train_classifier train_detector", "inference": "AwareNetPredictor classify_cells detect",
    "evaluate": "classification_report recall_by_class", "paper": "PAPER TITLE load"})
