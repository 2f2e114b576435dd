"""MapDe (Raza et al., ISBI 2019): deconvolving CNN for cell detection.

Dot annotations are convolved with the eq. 1 mapping filter into artificial labels; Micro-Net
wrapped by the same filter as a fixed, non-trainable convolution (MapDe) is trained on them with
weighted cross-entropy; Lucy-Richardson deconvolution of its output with the filter as PSF gives
the cell centres. ``mapde.reproduce.table1`` prints Table 1 (Proposed, MapDe-Peak,
MapDe-feat(L-1), Micro-Net-Peak, SC-CNN) beside the paper's; ``cellrepro mapde
reproduce|train|predict|evaluate`` is the command line; ``mapde.load(run).predict(image)`` gives
the cells of an image.

Attributes are imported on first use (PEP 562), so ``import mapde`` does not import TensorFlow.
"""

from common import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, globals(), {
    "config": "MapDeConfig TABLE1_ROWS VARIANTS", "losses": "MapDeLoss label_estimate",
    "model": "MapDe MicroNet build_mapde build_micronet", "train": "train_model train_sccnn",
    "inference": "MapDePredictor locate location_map", "paper": "PAPER TITLE load"})
