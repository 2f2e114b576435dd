"""MapDe hyper-parameters: the paper's values as defaults, a quick CPU preset, one variant per row.

Sources: Raza et al., ISBI 2019 (sections 2-3); TIAToolbox's Micro-Net / MapDe / SC-CNN layout
(reference_specs 3). Where the paper is silent the choice is ours and is marked so.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

__all__ = ["MapDeConfig", "TABLE1_ROWS", "VARIANTS"]

# Table 1 rows -> (model trained, cell-location method). The first three share one trained MapDe.
VARIANTS: dict[str, dict] = {
    "Proposed": {"model": "mapde", "locate": "deconv"},
    "MapDe-Peak": {"model": "mapde", "locate": "peak"},
    "MapDe-feat(L-1)": {"model": "mapde", "locate": "feat"},
    "Micro-Net-Peak": {"model": "micronet", "locate": "peak"},
    "SCCNN": {"model": "sccnn", "locate": "peak"},
}
TABLE1_ROWS = tuple(VARIANTS)
_TUPLES = ("min_distances", "extra_radii", "brightness_contrast", "hue_saturation")


@dataclass
class MapDeConfig:
    """Every MapDe hyper-parameter. Defaults are the paper's (ours where it is silent, marked)."""

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
    min_area: int = 1               # smallest region kept after thresholding
    n_thresholds: int = 24          # thresholds searched: quantiles of the val maps' peak values
    min_distances: tuple = (2, 3, 4, 5, 6, 8)     # peak grouping distances searched
    guided_radius: int = 4          # guided filter window radius for MapDe-feat (ours)
    guided_eps: float = 0.01        # guided filter regulariser, on a [0, 1] guide (ours)
    tile_margin: int = 32           # pixels dropped at inner tile edges when tiling large images
    # Scoring (section 3): TP within 6 px; 5 px also reported; 8 px for TIAToolbox's CRCHisto figure.
    match_radius: float = 6.0
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
    # Data and run.
    data: str = "synthetic:he"
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.input_size != 252:
            raise ValueError(f"Micro-Net takes 252 x 252 inputs only (valid convolutions), got input_size "
                             f"{self.input_size}; shrink the network with width instead")
        if self.model not in ("mapde", "micronet", "sccnn"):
            raise ValueError(f"model must be 'mapde', 'micronet' or 'sccnn', got {self.model!r}")
        if self.locate not in ("deconv", "peak", "feat"):
            raise ValueError(f"locate must be 'deconv', 'peak' or 'feat', got {self.locate!r}")
        if self.locate in ("deconv", "feat") and self.model != "mapde":
            raise ValueError(f"locate={self.locate!r} needs the MapDe model (got model={self.model!r})")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be in (0, 4], got {self.width}")
        if self.filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd, got {self.filter_size}")
        if self.sccnn_patch < 31 or (self.sccnn_patch - 3) % 4:
            raise ValueError(f"sccnn_patch must be 31 (or 31 + 4k), got {self.sccnn_patch}")
        if self.n_thresholds < 1 or not self.min_distances:
            raise ValueError("n_thresholds must be >= 1 and min_distances must not be empty")

    @classmethod
    def quick(cls, **overrides) -> "MapDeConfig":
        """A small preset that trains on a 2-core CPU in about a minute per model (same architecture)."""
        base = dict(width=0.0625, dropout=0.1, learning_rate=0.05, lr_decay=0.05, epochs=30, batch_size=4,
                    sccnn_width=0.25, sccnn_epochs=6, sccnn_patches=6000)
        base.update(overrides)
        return cls(**base)

    def variant(self, row: str) -> "MapDeConfig":
        """This config with the overrides of one Table 1 row."""
        if row not in VARIANTS:
            raise ValueError(f"unknown Table 1 row {row!r}; choose from {list(VARIANTS)}")
        return dataclasses.replace(self, **VARIANTS[row])

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in _TUPLES:
            d[k] = list(d[k])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "MapDeConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown MapDeConfig field(s) {unknown}")
        d = dict(d)
        for k in _TUPLES:
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)
