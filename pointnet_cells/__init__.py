"""End-to-end cell recognition by point annotation (Shui et al., MICCAI 2022).

Anchor points (5 per 32 x 32 region) are refined by a regression head and scored by detection and
classification heads on VGG16 features combined across levels (pyramidal feature aggregation); a
Hungarian matching of proposals to annotated points (eq. 2) decides what each proposal learns (MSE,
weighted cross-entropy, GCE + L2: eq. 3-7). ``pointnet_cells.reproduce.table1`` / ``table2`` /
``q_sweep`` print Tables 1-2 and Fig. 3 beside the paper's; ``cellrepro pointnet_cells
reproduce|train|predict|evaluate`` is the command line; ``pointnet_cells.load(run).predict(image)``
gives the cells of an image.

Attributes are imported on first use (PEP 562), so ``import pointnet_cells`` does not import TensorFlow.
"""

from common import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, globals(), {
    "config": "PointNetConfig TABLE1_ROWS TABLE2_ROWS VARIANTS",
    "losses": "DensityLoss PointLoss gce match_batch match_image matching_cost",
    "model": "DensityNet PointNet anchor_points build_density_model build_point_model", "train": "train",
    "inference": "DensityPredictor PointPredictor", "evaluate": "class_scores scores", "paper": "PAPER TITLE load"})
