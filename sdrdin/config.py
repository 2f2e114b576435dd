"""S-DRDIN hyper-parameters: the paper's values as defaults, a quick CPU preset, one variant per row.

Sources: the S-DRDIN paper (sections 2.2-2.5) and, where it is silent, the DRDIN code family
(reference_specs 2b-2f); choices of ours are marked so.

The quick preset (``SDRDINConfig.quick()``) is a smaller network (input 96, base 8) trained 12
epochs at the paper's learning rate and batch size, so every Table 2 / Table 3 row trains in under
a minute on a CPU; every table that uses it says so. It departs from section 2.5's pixel constants:
``min_area`` 10 (paper 50), ``peak_window`` 7 (15) and ``vote_box`` 3 (49), chosen on the validation
split of a quick run (``results/sdrdin/quick_postprocess.md`` says how and why). The paper preset
keeps 50, 15 and 49.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import PaperConfig
from sdrdin.paper import MATCH_RADIUS_PX

__all__ = ["SDRDINConfig", "TABLE2_ROWS", "TABLE3_ROWS", "VARIANTS"]

# Table rows -> config overrides. ``branches``: which decoders the network has; ``stop_gradient``:
# whether the detection decoder's skip connections stop the gradient (S-DRDIN) or not (-gradient).
# The separate-model rows (U-Net, CONCORDe-Net) train one model per task.
VARIANTS: dict[str, dict] = {
    "U-Net": {"model": "unet", "branches": "both"},
    "CONCORDe-Net": {"model": "concordenet", "branches": "both"},
    "DRDIN-detection": {"model": "sdrdin", "branches": "detection", "stop_gradient": False},
    "DRDIN-classification": {"model": "sdrdin", "branches": "classification", "stop_gradient": False},
    "S-DRDIN-gradient": {"model": "sdrdin", "branches": "both", "stop_gradient": False},
    "S-DRDIN": {"model": "sdrdin", "branches": "both", "stop_gradient": True},
    # ours: the stop-gradient also on the bottleneck into the detection decoder and on the classification
    # features into the detection head, so no detection gradient reaches the encoder (sdrdin.model)
    "S-DRDIN (all stopped)": {"model": "sdrdin", "branches": "both", "stop_gradient": True, "stop_scope": "all"},
}
TABLE2_ROWS = ("U-Net", "CONCORDe-Net", "DRDIN-detection", "S-DRDIN-gradient", "S-DRDIN", "S-DRDIN (all stopped)")
TABLE3_ROWS = ("U-Net", "CONCORDe-Net", "DRDIN-classification", "S-DRDIN-gradient", "S-DRDIN", "S-DRDIN (all stopped)")


@dataclass
class SDRDINConfig(PaperConfig):
    """Every S-DRDIN hyper-parameter. Defaults are the paper's (ours where it is silent, marked)."""

    TABLE = "Table 2"
    VARIANTS = VARIANTS
    QUICK = dict(input_size=96, patch_stride=48, base_filters=8, epochs=12, patience=5, counter_epochs=3,
                 sccnn_epochs=4, sccnn_patches=4000, sccnn_width=0.25, n_splits=1,
                 min_area=10, peak_window=7, vote_box=3)
    EPOCH_FIELDS = ("epochs", "counter_epochs", "sccnn_epochs")
    CHOICES = ("network size, epochs, patience 5 and patch stride 48 set for minutes on a CPU, not searched; "
               "min_area, peak_window and vote_box chosen by mean validation F1 over four pipelines "
               "(results/sdrdin/quick_postprocess.py; the test split not read)")

    data: str = "synthetic:mihc6"
    # Network (section 2.3; filter counts from the DRDIN code, reference_specs 2b).
    model: str = "sdrdin"           # "sdrdin", "unet" or "concordenet" (set by the table row)
    branches: str = "both"          # "both", "detection" or "classification" (set by the table row)
    stop_gradient: bool = True      # stop-gradient on the detection decoder's skips (S-DRDIN)
    stop_scope: str = "skips"       # "skips" (section 2.3) or "all" (also the bottleneck and class features; ours)
    input_size: int = 224           # 224 x 224 patches (section 2.2)
    base_filters: int = 16          # encoder blocks 16, 32, 64, 128 (DRDIN code)
    depth: int = 4                  # 4 encoder Inception blocks joined by 2x2 average pooling
    batch_norm: bool = False        # BatchNorm inside the Inception blocks (a DRDIN code variant; off)
    # Targets (section 2.2): disks of radius 2 px per class, background = 1 - detection mask.
    radius: float = 2.0
    patch_stride: int = 120         # training patches cut with stride 120 px
    # Loss and optimiser (sections 2.3-2.4).
    class_weighting: str = "batch"  # eq. 1 weights per batch ("batch") or none ("none": the U-Net row)
    learning_rate: float = 1e-3     # Adam
    batch_size: int = 4
    epochs: int = 100
    patience: int | None = None     # the paper trains all 100 epochs; best val loss is kept
    steps_per_epoch: int | None = None
    # Post-processing (section 2.5).
    min_area: int = 50              # components smaller than this are discarded
    peak_window: int = 15           # local maxima of the distance transform in a 15 x 15 window
    dilate_radius: int = 2          # maxima dilated by a disk of radius 2, then centroids
    vote_box: int = 49              # class = argmax of the mean class probability in a 49 x 49 box (eq. 3)
    n_thresholds: int = 24          # thresholds searched on the validation split (ours)
    # Evaluation (section 2.5): TP within 10 px; 3 training/validation splits with different seeds.
    match_radius: float = MATCH_RADIUS_PX
    n_splits: int = 3
    val_fraction: float = 0.3       # 7:3 training:validation split of the training patches' images
    # CONCORDe-Net baseline (detection; common.baselines.concordenet with the Inception U-Net) and the
    # SC-CNN softmax classifier with NEP that classifies its detections (section 3.2).
    count_loss_weight: float = 0.3  # Dice + 0.3 x count loss (CONCORDe-Net code)
    counter_epochs: int = 100       # counter pre-training on reference masks (ours: as many as the network)
    sccnn_patch: int = 27           # 27 x 27 single-cell patches (Sirinukunwattana et al. 2016)
    sccnn_radius: float = 4.0       # NEP neighbourhood d: patches centred within 4 px are averaged
    sccnn_width: float = 1.0
    sccnn_lr: float = 1e-3          # Adam (ours)
    sccnn_epochs: int = 60
    sccnn_patches: int = 20000      # training patches per epoch, centred within d of a classified cell
    sccnn_batch: int = 64

    def validate(self):
        self.require_choice("model", ("sdrdin", "unet", "concordenet"))
        self.require_choice("branches", ("both", "detection", "classification"))
        self.require_choice("class_weighting", ("batch", "none"))
        self.require_choice("stop_scope", ("skips", "all"))
        self.require_pooled("input_size", "depth")
        self.require_positive("batch_size", "base_filters")
        if not 0 < self.patch_stride <= self.input_size:
            raise ValueError(f"patch_stride must be in (0, input_size], got {self.patch_stride}")
        if self.peak_window < 1 or self.peak_window % 2 == 0 or self.vote_box < 1 or self.vote_box % 2 == 0:
            raise ValueError(f"peak_window and vote_box must be odd and >= 1, got {self.peak_window}, {self.vote_box}")
        if self.n_splits < 1 or not 0 < self.val_fraction < 1:
            raise ValueError(f"n_splits must be >= 1 and val_fraction in (0, 1), got {self.n_splits}, "
                             f"{self.val_fraction}")
        self.require_positive("n_thresholds", at_least=2)
        self.require_positive("learning_rate", "radius", "match_radius", "sccnn_lr", "count_loss_weight")
        if self.sccnn_patch < 19 or self.sccnn_radius < 0 or self.sccnn_patches < 1 or self.sccnn_batch < 1:
            raise ValueError("sccnn_patch must be >= 19, sccnn_radius >= 0, sccnn_patches and sccnn_batch >= 1")
        if self.min_area < 0 or self.dilate_radius < 0:
            raise ValueError("min_area and dilate_radius must be >= 0")
