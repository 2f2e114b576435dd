"""AwareNet hyper-parameters: the paper's values as defaults, a quick CPU preset, one variant per row.

Sources: Hagos et al., ISBI 2021 (sections 3.1-3.4) and the authors' code (reference_specs 1f).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

__all__ = ["AwareNetConfig", "VARIANTS", "TABLE2_ROWS"]

# Table 2 rows -> config overrides. "U-net" is the same network trained without weights.
VARIANTS: dict[str, dict] = {
    "ExpWeightType1": {"model": "awarenet", "weight_scheme": "exp1"},
    "RatioWeight": {"model": "awarenet", "weight_scheme": "ratio"},
    "ExpWeightType2": {"model": "awarenet", "weight_scheme": "exp2"},
    "CONCORDe-Net": {"model": "concordenet", "weight_scheme": None},
    "U-net": {"model": "awarenet", "weight_scheme": None},
}
TABLE2_ROWS = tuple(VARIANTS)


@dataclass
class AwareNetConfig:
    """Every AwareNet hyper-parameter. Defaults are the paper's (or the authors' code where silent)."""

    # Detector (Fig. 3).
    input_size: int = 256           # 256x256x3 patches (section 3.1)
    base_filters: int = 16          # final 1x1 conv maps 16 -> 1 channels
    depth: int = 4                  # encoder levels incl. bottleneck (code sweeps 3..5; 4 matches Fig. 3)
    # Targets (eq. 1-4).
    radius: float = 4.0             # disk radius r in pixels for R and W
    weight_scheme: str | None = "exp1"   # "ratio", "exp1", "exp2" or None (plain Dice, the U-net row)
    # Loss (eq. 5): the paper says eps = 1e-5, the authors' code uses 1.
    dice_eps: float = 1e-5
    # Training (section 3.2; code: batch 16, 300 epochs, patience 50).
    model: str = "awarenet"         # "awarenet" or "concordenet"
    learning_rate: float = 1e-4
    batch_size: int = 16
    epochs: int = 300
    patience: int = 50
    steps_per_epoch: int | None = None
    # CONCORDe-Net baseline (Hagos et al. 2019): Dice + 0.3 x count loss through a frozen counter.
    count_loss_weight: float = 0.3
    counter_epochs: int = 100
    # Post-processing and scoring (section 4).
    match_radius: float = 10.0      # TP within 10 px (4.42 um)
    min_area: int = 3               # smallest kept component, pixels
    thresholds: tuple = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)   # searched on the validation split
    # Cell classifier (section 3.4; code CC/).
    n_classes: int = 3              # CD8+, CD4+/FOXP3-, CD4+/FOXP3+ (4 for CRCHisto)
    patch_size: int = 28
    classifier_base: int = 16
    classifier_depth: int = 3
    dense_units: int = 200
    dropout: float = 0.3
    classifier_lr: float = 1e-4
    classifier_batch: int = 32
    classifier_epochs: int = 300
    classifier_patience: int = 30
    # Data and run.
    data: str = "synthetic:mihc"
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.weight_scheme not in (None, "ratio", "exp1", "exp2"):
            raise ValueError(f"weight_scheme must be 'ratio', 'exp1', 'exp2' or None, got {self.weight_scheme!r}")
        if self.model not in ("awarenet", "concordenet"):
            raise ValueError(f"model must be 'awarenet' or 'concordenet', got {self.model!r}")
        if self.depth < 2:
            raise ValueError(f"depth must be >= 2, got {self.depth}")
        if self.input_size % (2 ** (self.depth - 1)):
            raise ValueError(f"input_size {self.input_size} must be divisible by 2**(depth-1) = {2 ** (self.depth - 1)}")
        if self.patch_size % (2 ** (self.classifier_depth - 1)):
            raise ValueError(f"patch_size {self.patch_size} must be divisible by 2**(classifier_depth-1)")

    @classmethod
    def quick(cls, **overrides) -> "AwareNetConfig":
        """A small preset that trains on a 2-core CPU in minutes (same architecture family)."""
        base = dict(input_size=96, base_filters=8, depth=3, batch_size=8, epochs=10, patience=4,
                    counter_epochs=4, classifier_epochs=10, classifier_patience=4, learning_rate=1e-3,
                    classifier_lr=1e-3)
        base.update(overrides)
        return cls(**base)

    def variant(self, row: str) -> "AwareNetConfig":
        """This config with the overrides of one Table 2 row."""
        if row not in VARIANTS:
            raise ValueError(f"unknown Table 2 row {row!r}; choose from {list(VARIANTS)}")
        return dataclasses.replace(self, **VARIANTS[row])

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["thresholds"] = list(self.thresholds)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "AwareNetConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown AwareNetConfig field(s) {unknown}")
        d = dict(d)
        if "thresholds" in d:
            d["thresholds"] = tuple(d["thresholds"])
        return cls(**d)
