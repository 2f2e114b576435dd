"""MapDe hyper-parameters: the paper's values as defaults, a quick CPU preset, one variant per row.

Sources: Raza et al., ISBI 2019 (sections 2-3); TIAToolbox's Micro-Net / MapDe / SC-CNN layout
(reference_specs 3). Where the paper is silent the choice is ours and is marked so.

The quick preset (``MapDeConfig.quick()``) is a 1/16-width Micro-Net trained 30 epochs with Adagrad at
learning rate 0.05, fifty times the paper's 0.001, so it learns in about a minute on a CPU; every
table that uses it says so. It warms the learning rate up linearly over its first 50 steps
(``warmup_steps``; the paper has none): Adagrad's first update at the full rate moves every weight of
the ReLU output convolution by about the rate in one direction and can leave the output at 0.0 for
good; the warm-up starts at the paper's rate. Why, and what it was measured against:
``results/mapde/robustness.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import PaperConfig
from mapde.paper import MATCH_RADIUS_PX

__all__ = ["MapDeConfig", "TABLE1_ROWS", "VARIANTS"]

# Table 1 rows -> (model trained, cell-location method). The first three share one trained MapDe.
# "Proposed (label estimate)" is ours, not the paper's: it deconvolves sigmoid(y - log w) instead of y.
VARIANTS: dict[str, dict] = {
    "Proposed": {"model": "mapde", "locate": "deconv", "deconv_input": "raw"},
    "MapDe-Peak": {"model": "mapde", "locate": "peak"},
    "MapDe-feat(L-1)": {"model": "mapde", "locate": "feat"},
    "Micro-Net-Peak": {"model": "micronet", "locate": "peak"},
    "SCCNN": {"model": "sccnn", "locate": "peak"},
    "Proposed (label estimate)": {"model": "mapde", "locate": "deconv", "deconv_input": "label_estimate"},
}
TABLE1_ROWS = tuple(VARIANTS)
PAPER_ROWS = TABLE1_ROWS[:5]


@dataclass
class MapDeConfig(PaperConfig):
    """Every MapDe hyper-parameter. Defaults are the paper's (ours where it is silent, marked)."""

    TABLE = "Table 1"
    VARIANTS = VARIANTS
    QUICK = dict(width=0.0625, dropout=0.1, learning_rate=0.05, warmup_steps=50, lr_decay=0.05, epochs=30, batch_size=4,
                 sccnn_width=0.25, sccnn_epochs=6, sccnn_patches=6000)
    EPOCH_FIELDS = ("epochs", "sccnn_epochs")
    CHOICES = ("network widths, epochs and SC-CNN patches set for minutes on a 2-core CPU, not searched; "
               "learning rate 0.05 from the first implementation (how it was picked was not recorded; not searched "
               "since); the 50-step warm-up added against dead outputs seen in training runs (docs/guide.md)")

    data: str = "synthetic:he"
    # Network (section 2.2): Micro-Net 252 x 252, ReLU at L-1 and at the output.
    input_size: int = 252           # fixed by Micro-Net's valid convolutions
    width: float = 1.0              # factor on every Micro-Net filter count (1.0 = paper)
    dropout: float = 0.5            # TIAToolbox: Dropout2d(0.5) before each output conv
    per_class: bool = False         # one mapped channel per cell type (the conclusion's proposal)
    aux_weight: float = 0.0         # Micro-Net-Peak auxiliary-output loss weight (0: main output only)
    # Mapping filter (eq. 1).
    radius: float = 5.0             # r = 5 px (average lymphocyte radius at 20x)
    filter_size: int = 11           # 11 x 11 binary image b
    # Loss and optimiser (sections 2.2, 3).
    pos_weight: float = 1000.0      # weighted cross-entropy positive weight
    learning_rate: float = 1e-3     # 0.001 * exp(-lr_decay * epoch), Adagrad
    lr_decay: float = 0.05
    warmup_steps: int = 0           # linear warm-up steps (paper: none; quick preset: 50, see module docstring)
    epochs: int = 100
    batch_size: int = 8             # ours: the paper does not give it
    steps_per_epoch: int | None = None   # None: about one pass over the training pixels
    patience: int | None = None     # the paper trains all 100 epochs; best val loss is kept
    # Augmentation (section 3): random crop, flips, brightness / contrast / hue / saturation (ranges ours).
    brightness: float = 0.1                       # max delta on [0, 1] intensities
    brightness_contrast: tuple = (0.8, 1.2)       # contrast factor range
    hue_saturation: tuple = (0.04, 0.8, 1.2)      # hue max delta, saturation factor range
    # Cell locations (section 2.3) and their tuning on the validation split.
    model: str = "mapde"            # "mapde", "micronet" or "sccnn" (set by the Table 1 row)
    locate: str = "deconv"          # "deconv", "peak" or "feat" (set by the Table 1 row)
    deconv_iterations: int = 2      # Lucy-Richardson iterations
    # What Proposed deconvolves: "raw" = the network output y (the paper); "label_estimate" =
    # sigmoid(y - log pos_weight), our estimate of the clipped label (see mapde.losses).
    deconv_input: str = "raw"
    min_area: int = 1               # smallest region kept after thresholding
    n_thresholds: int = 24          # thresholds searched: quantiles of the val maps' peak values
    min_distances: tuple = (1, 2, 3, 4, 5, 6, 8, 10)   # peak grouping distances searched
    guided_radius: int = 4          # guided filter window radius for MapDe-feat (ours)
    guided_eps: float = 0.01        # guided filter regulariser, on a [0, 1] guide (ours)
    # Scoring (section 3): TP within 6 px; 5 px also reported; 8 px for TIAToolbox's CRCHisto figure.
    match_radius: float = MATCH_RADIUS_PX
    extra_radii: tuple = (5.0, 8.0)
    # SC-CNN baseline (Sirinukunwattana et al. 2016; TIAToolbox layout).
    sccnn_patch: int = 31
    sccnn_out: int = 13
    sccnn_radius: float = 4.0       # spatial constraint: the map is 0 beyond this distance (d = 4)
    sccnn_width: float = 1.0
    sccnn_lr: float = 1e-3          # Adam (ours; the original Matlab code used SGD)
    sccnn_epochs: int = 60
    sccnn_patches: int = 20000      # training patches per epoch (half centred near cells)
    sccnn_batch: int = 64
    sccnn_stride: int = 4           # dense inference stride (the network's own output stride)

    def validate(self):
        if self.input_size != 252:
            raise ValueError(f"Micro-Net takes 252 x 252 inputs only (valid convolutions), got input_size "
                             f"{self.input_size}; shrink the network with width instead")
        if self.model not in ("mapde", "micronet", "sccnn"):
            raise ValueError(f"model must be 'mapde', 'micronet' or 'sccnn', got {self.model!r}")
        if self.locate not in ("deconv", "peak", "feat"):
            raise ValueError(f"locate must be 'deconv', 'peak' or 'feat', got {self.locate!r}")
        if self.locate in ("deconv", "feat") and self.model != "mapde":
            raise ValueError(f"locate={self.locate!r} needs the MapDe model (got model={self.model!r})")
        if self.deconv_input not in ("raw", "label_estimate"):
            raise ValueError(f"deconv_input must be 'raw' or 'label_estimate', got {self.deconv_input!r}")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be in (0, 4], got {self.width}")
        if self.filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd, got {self.filter_size}")
        if self.sccnn_patch < 31 or (self.sccnn_patch - 3) % 4:
            raise ValueError(f"sccnn_patch must be 31 (or 31 + 4k), got {self.sccnn_patch}")
        if self.n_thresholds < 2 or not self.min_distances or min(self.min_distances) < 1:
            raise ValueError("n_thresholds must be >= 2 and min_distances a non-empty list of distances >= 1")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
