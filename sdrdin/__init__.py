"""S-DRDIN: simultaneous cell detection and classification in multiplex IHC (symmetric dense inception net).

One Inception encoder feeds a classification decoder (softmax over cell types + background, trained
with the pixel-weighted cross-entropy of eq. 1-2) and a detection decoder (sigmoid, binary
cross-entropy) whose skip connections stop the gradient. Variants, one per table row: DRDIN-detection,
DRDIN-classification, S-DRDIN-gradient and S-DRDIN; baselines U-Net and CONCORDe-Net.

Attributes are imported on first use (PEP 562), so ``import sdrdin`` does not import TensorFlow.
"""

from common import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, globals(), {
    "config": "SDRDINConfig TABLE2_ROWS TABLE3_ROWS VARIANTS", "losses": "PixelWeightedCE",
    "model": "SDRDIN build_network build_sdrdin", "data": "patches sdrdin_dataset targets", "train": "train_network",
    "inference": "SDRDINPredictor locate", "paper": "PAPER TITLE load"})
