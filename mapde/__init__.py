"""MapDe (Raza et al., ISBI 2019): deconvolving CNN for cell detection.

Dot annotations are convolved with the eq. 1 mapping filter into artificial labels; Micro-Net
wrapped by the same filter as a fixed, non-trainable convolution (MapDe) is trained on them with
weighted cross-entropy; Lucy-Richardson deconvolution of its output with the filter as PSF gives
the cell centres. ``mapde.reproduce.table1`` prints Table 1 (Proposed, MapDe-Peak,
MapDe-feat(L-1), Micro-Net-Peak, SC-CNN) beside the paper's; ``python -m mapde
reproduce|train|predict|evaluate`` is the command line.
"""

from mapde import losses  # noqa: F401  (registers MapDeLoss for loading compiled .keras files)
from mapde.config import TABLE1_ROWS, VARIANTS, MapDeConfig
from mapde.evaluate import locate, location_map, predict_maps, tune
from mapde.losses import MapDeLoss, label_estimate
from mapde.model import MapDe, MicroNet, build_mapde, build_micronet
from mapde.train import train_model, train_sccnn

__all__ = ["TABLE1_ROWS", "VARIANTS", "MapDe", "MapDeConfig", "MapDeLoss", "MicroNet", "build_mapde",
           "build_micronet", "label_estimate", "locate", "location_map", "predict_maps", "train_model",
           "train_sccnn", "tune"]
