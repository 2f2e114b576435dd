"""The template's hyper-parameters: defaults, a quick CPU preset and one variant per table row."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import PaperConfig
from paper_template.paper import MATCH_RADIUS_PX

__all__ = ["TemplateConfig", "VARIANTS"]

VARIANTS: dict[str, dict] = {"ours": {}}


@dataclass
class TemplateConfig(PaperConfig):
    """Every hyper-parameter of the template."""

    TABLE = "Table 1"
    VARIANTS = VARIANTS
    QUICK = dict(width=8, epochs=5)
    # Say how every quick value was chosen: on which split and seeds, or "not searched" (issue 25).
    CHOICES = "width and epochs set for seconds on a CPU, not searched"

    data: str = "synthetic:he"
    width: int = 16                 # channels of every convolution
    sigma: float = 3.0              # Gaussian of the density targets (px)
    learning_rate: float = 1e-3
    batch_size: int = 4
    epochs: int = 20
    crop_size: int = 64             # training crops
    patience: int | None = None
    min_distances: tuple = (1, 2, 3, 4, 6)   # peak distances searched on validation, from the natural limit 1 px
    n_thresholds: int = 24
    match_radius: float = MATCH_RADIUS_PX

    def validate(self):
        if self.width < 1 or self.batch_size < 1 or self.n_thresholds < 2:
            raise ValueError("width and batch_size must be >= 1 and n_thresholds >= 2")
        if self.crop_size < 16 or self.crop_size % 4:
            raise ValueError(f"crop_size must be a multiple of 4 and at least 16, got {self.crop_size}")
        for name in ("sigma", "learning_rate", "match_radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
