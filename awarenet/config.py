"""AwareNet hyper-parameters: the paper's values as defaults, a quick CPU preset, one variant per row.

Sources: Hagos et al., ISBI 2021 (sections 3.1-3.4) and the authors' code (reference_specs 1f).
The quick preset (``AwareNetConfig.quick()``) is a smaller network (input 96, base 8, depth 3) trained
10 epochs at learning rate 1e-3, ten times the paper's 1e-4, so it learns in minutes on a CPU;
every table that uses it says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from awarenet.paper import MATCH_RADIUS_PX
from common.config import PaperConfig

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
class AwareNetConfig(PaperConfig):
    """Every AwareNet hyper-parameter. Defaults are the paper's (or the authors' code where silent)."""

    TABLE = "Table 2"
    VARIANTS = VARIANTS
    QUICK = dict(input_size=96, base_filters=8, depth=3, batch_size=8, epochs=10, patience=4, counter_epochs=4,
                 classifier_epochs=10, classifier_patience=4, learning_rate=1e-3, classifier_lr=1e-3)
    EPOCH_FIELDS = ("epochs", "counter_epochs", "classifier_epochs")
    CHOICES = ("network size, epochs, patience and learning rates (10x the paper's) set for minutes on a CPU, "
               "not searched")

    data: str = "synthetic:mihc"
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
    # Post-processing and scoring (section 4). The paper tuned the matching radius per model; we
    # fix 10 px (4.42 um, the paper's reported tolerance) for every row - a deviation.
    match_radius: float = MATCH_RADIUS_PX   # TP within 10 px (4.42 um)
    min_area: int = 3               # smallest kept component, pixels
    n_thresholds: int = 24          # thresholds searched on the validation split (quantiles of the maps)
    # Cell classifier (section 3.4; code CC/).
    n_classes: int = 3              # CD8+, CD4+/FOXP3-, CD4+/FOXP3+ (4 for CRCHisto)
    classifier_patch: int = 28
    classifier_base: int = 16
    classifier_depth: int = 3
    classifier_dense: int = 200
    classifier_dropout: float = 0.3
    classifier_lr: float = 1e-4
    classifier_batch: int = 32
    classifier_epochs: int = 300
    classifier_patience: int = 30

    def validate(self):
        self.require_choice("weight_scheme", ("ratio", "exp1", "exp2", None))
        self.require_choice("model", ("awarenet", "concordenet"))
        self.require_pooled("input_size", "depth")
        self.require_positive("batch_size", "classifier_batch", "base_filters", "classifier_base", "classifier_dense")
        if self.classifier_patch % (2 ** (self.classifier_depth - 1)) or self.classifier_patch % 2:
            raise ValueError(f"classifier_patch {self.classifier_patch} must be even and divisible by "
                             "2**(classifier_depth-1)")
        self.require_positive("n_thresholds", at_least=2)
        self.require_positive("learning_rate", "classifier_lr", "radius", "match_radius")
