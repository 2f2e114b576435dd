"""Hyper-parameters of Shui et al. (MICCAI 2022): the paper's as defaults, a quick CPU preset, one
variant per table row.

Sources: the paper (sections 2, 3.1); where it is silent, P2PNet's code (its baseline) and the first
author's later code (reference_specs 5). Choices of ours are marked so.

Rows:

* Table 2 (ablation): ``Baseline`` (P2PNet: one feature level, one head classifying background +
  C classes, cross-entropy), ``Baseline+PFA`` (pyramidal feature aggregation), ``Baseline+PFA+IC``
  (independent detection and classification heads, GCE + L2 classification loss: the paper's model).
* Table 1: the density-regression single-task models ``FCRN-A``, ``FCRN-B``, ``UNet``, ``ResUNet``,
  ``DeepLab v3+`` (Gaussian reference density maps, 0.8 BCE + 0.2 IoU, local maxima), the
  multi-task ``Zhang`` model, ``P2PNet`` (= Baseline) and ``ours`` (= Baseline+PFA+IC).

The quick preset (``PointNetConfig.quick()``) narrows every network to a quarter of its channels
(VGG16 at width 0.25: a VGG16-shaped network built by us, since ``keras.applications.VGG16`` has no
width), trains on 128 px crops for a few minutes on a CPU with learning rate 1e-3 (the paper's 1e-4
is set for ImageNet-initialised VGG16 and hundreds of epochs; the density models' Adam rate likewise);
every table that uses it says so. Its point models train for 120 epochs, the budget (and the options)
chosen on validation by ``results/pointnet_cells/selection.py`` (``CHOICES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import PaperConfig
from pointnet_cells.paper import MATCH_RADIUS_PX

__all__ = ["DENSITY_NETS", "PointNetConfig", "Q_VALUES", "TABLE1_ROWS", "TABLE2_ROWS", "VARIANTS"]

DENSITY_NETS = ("fcrn_a", "fcrn_b", "unet", "resunet", "deeplabv3plus")
_POINT = {"model": "point"}
VARIANTS: dict[str, dict] = {
    # Table 2 (ablation of the point-proposal model).
    "Baseline": {**_POINT, "pfa": False, "heads": "single", "cls_loss": "ce"},
    "Baseline+PFA": {**_POINT, "pfa": True, "heads": "single", "cls_loss": "ce"},
    "Baseline+PFA+IC": {**_POINT, "pfa": True, "heads": "independent", "cls_loss": "gce"},
    # Table 1 (competitors); P2PNet and ours are the first and last ablation rows.
    "FCRN-A": {"model": "density", "density_net": "fcrn_a"},
    "FCRN-B": {"model": "density", "density_net": "fcrn_b"},
    "UNet": {"model": "density", "density_net": "unet"},
    "ResUNet": {"model": "density", "density_net": "resunet"},
    "DeepLab v3+": {"model": "density", "density_net": "deeplabv3plus"},
    "Zhang": {"model": "zhang"},
    "P2PNet": {**_POINT, "pfa": False, "heads": "single", "cls_loss": "ce"},
    "ours": {**_POINT, "pfa": True, "heads": "independent", "cls_loss": "gce"},
}
TABLE2_ROWS = ("Baseline", "Baseline+PFA", "Baseline+PFA+IC")
TABLE1_ROWS = ("FCRN-A", "FCRN-B", "UNet", "ResUNet", "DeepLab v3+", "Zhang", "P2PNet", "ours")
Q_VALUES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)   # Fig. 3


@dataclass
class PointNetConfig(PaperConfig):
    """Every hyper-parameter of the point-proposal model and its competitors (paper defaults)."""

    TABLE = "Tables 1-2"
    VARIANTS = VARIANTS
    QUICK = dict(width=0.25, head_channels=64, crop_size=128, epochs=120, batch_size=8, learning_rate=1e-3,
                 density_epochs=40, density_width=0.25, density_lr=1e-3, checkpoint_every=10)
    EPOCH_FIELDS = ("epochs", "density_epochs")
    CHOICES = ("the point models' 120 epochs, region-convolution aggregation and eq. 6 averaged over the cells "
               "by mean validation detection F1 of ours over seeds 1-3 (results/pointnet_cells/selection.md: "
               "0.882 +- 0.004 at 120 epochs, 0.876-0.879 at 140-160, pooling 0.803, eq. 6 summed 0.761 at "
               "120); widths, crops, learning rates and the density networks' 40 epochs set for minutes on a "
               "CPU, not searched")

    data: str = "synthetic:pdl1"
    # The row (set by the variants).
    model: str = "point"            # "point" (Tables 1-2), "density" (Table 1 regression) or "zhang"
    pfa: bool = True                # pyramidal feature aggregation of every VGG16 level (False: one level)
    p2pnet: bool = True             # the baseline's parts are P2PNet's (FPN-lite features, heads; model docstring)
    aggregation: str = "region"     # PFA to the anchors' grid: "region" convolution (ours) or "pool" (average)
    heads: str = "independent"      # "independent" (detection + classification) or "single" (P2PNet)
    cls_loss: str = "gce"           # "gce" (eq. 5-6) or "ce" (P2PNet's cross-entropy)
    density_net: str = "unet"       # the Table 1 density-regression network (model="density")
    # Network (section 2).
    width: float = 1.0              # channel factor of the backbone (1.0: keras.applications.VGG16)
    vgg_weights: str | None = None  # ImageNet VGG16 (no-top) weights file; None: random init (said so)
    head_channels: int = 256        # channels of the aggregated features and of the head blocks (P2PNet)
    anchor_stride: int = 32         # one group of anchors per 32 x 32 region (section 3.1)
    anchor_shift: float = 8.0       # the centre and the centre shifted by (+-8, +-8)
    offset_scale: float = 100.0     # regression output factor (P2PNet: x100)
    # Matching and losses (eq. 2-7, section 3.1).
    alpha: float = 0.05             # distance weight of the matching cost
    beta: float = 0.6               # weight of negative proposals in the detection loss
    gamma: float = 0.1              # L2 penalty on the class probabilities
    q: float = 0.4                  # GCE exponent
    lam: float = 2e-3               # weight of the regression loss
    # eq. 6 prints a sum over the cells; the authors' later code averages its classification loss. How the
    # default was chosen: results/pointnet_cells/selection.
    cls_reduction: str = "mean"
    # Optimisation (section 3.1): AdamW, lr 1e-4, weight decay 1e-4; random resized crops and flips.
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    batch_size: int = 8             # P2PNet's (the paper does not give it)
    epochs: int = 200               # ours: the paper does not give it (the authors' later code: 200)
    crop_size: int = 256            # training crop side, a multiple of anchor_stride (ours)
    crop_scale: tuple = (0.7, 1.3)  # random resize factor before the crop (P2PNet)
    # Every image is resized by this factor before the point model sees it (training crops, validation,
    # prediction; points are mapped back). The anchor layout (5 per 32 x 32 px) was set for the paper's
    # 40x patches; at 20x (CRCHisto, 0.5 um/px) a 128 px crop can hold more cells than proposals, and 2.0
    # restores the paper's scale (ours).
    image_scale: float = 1.0
    patience: int | None = None
    # Epochs between run-folder checkpoints (model + optimizer, best weights, state; ours). Saving takes
    # about 0.6 s, a third of a quick epoch; the result is the same for any value (tested).
    checkpoint_every: int = 1
    # Inference and scoring (section 3.1).
    n_thresholds: int = 24          # detection-score thresholds searched on the validation split
    match_radius: float = MATCH_RADIUS_PX   # a TP lies within 12 px
    tile_size: int = 512            # tiled inference of large images (a multiple of anchor_stride)
    # Density-regression competitors (section 3.1): Gaussian RDMs, 0.8 BCE + 0.2 IoU, local maxima.
    density_kernel: int = 7
    density_sigma: float = 6.0
    bce_weight: float = 0.8
    iou_weight: float = 0.2
    density_width: float = 1.0      # channel factor of the density networks (ours, for the quick preset)
    density_epochs: int = 200
    density_lr: float = 1e-4
    # local-maximum distances searched on validation, from the natural limit of 1 px (a best distance at the
    # grid's first value is then no edge of the search; the density rows of Table 1 chose 2, the old lowest)
    min_distances: tuple = (1, 2, 3, 4, 5, 6, 8, 10, 12)

    def validate(self):
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {self.checkpoint_every!r}")
        if self.model not in ("point", "density", "zhang"):
            raise ValueError(f"model must be 'point', 'density' or 'zhang', got {self.model!r}")
        self.require_choice("aggregation", ("region", "pool"))
        if self.heads not in ("independent", "single"):
            raise ValueError(f"heads must be 'independent' or 'single', got {self.heads!r}")
        if self.cls_reduction not in ("mean", "sum"):
            raise ValueError(f"cls_reduction must be 'mean' or 'sum', got {self.cls_reduction!r}")
        if self.cls_loss not in ("gce", "ce"):
            raise ValueError(f"cls_loss must be 'gce' or 'ce', got {self.cls_loss!r}")
        if self.cls_loss == "gce" and self.heads == "single":
            raise ValueError("cls_loss='gce' needs heads='independent' (the single head classifies background "
                             "with cross-entropy)")
        if self.density_net not in DENSITY_NETS:
            raise ValueError(f"density_net must be one of {DENSITY_NETS}, got {self.density_net!r}")
        if not 0 < self.width <= 2 or not 0 < self.density_width <= 2:
            raise ValueError(f"width and density_width must be in (0, 2], got {self.width}, {self.density_width}")
        if self.anchor_stride != 32:
            raise ValueError(f"anchor_stride must be 32 (VGG16's deepest stride), got {self.anchor_stride}")
        if not 0 <= self.anchor_shift < self.anchor_stride / 2:
            raise ValueError(f"anchor_shift must be in [0, {self.anchor_stride / 2}), got {self.anchor_shift}")
        for name in ("crop_size", "tile_size"):
            v = getattr(self, name)
            if v < 64 or v % self.anchor_stride:
                raise ValueError(f"{name} must be a multiple of {self.anchor_stride} and at least 64, got {v}")
        if not 0 < self.q <= 1:
            raise ValueError(f"q must be in (0, 1], got {self.q}")
        for name in ("alpha", "beta", "gamma", "lam", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("learning_rate", "density_lr", "offset_scale", "density_sigma", "match_radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.25 <= self.image_scale <= 4:
            raise ValueError(f"image_scale must be in [0.25, 4], got {self.image_scale}")
        if len(self.crop_scale) != 2 or not 0 < self.crop_scale[0] <= self.crop_scale[1]:
            raise ValueError(f"crop_scale must be (low, high) with 0 < low <= high, got {self.crop_scale}")
        for name in ("batch_size", "head_channels", "n_thresholds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.density_kernel < 1 or self.density_kernel % 2 == 0:
            raise ValueError(f"density_kernel must be odd, got {self.density_kernel}")
        if not self.min_distances or min(self.min_distances) < 1:
            raise ValueError("min_distances must be a non-empty list of distances >= 1")

