"""MapDe's published numbers (Raza et al., ISBI 2019) and TIAToolbox's CRCHisto figures, as data."""

from __future__ import annotations

import pandas as pd

__all__ = ["MATCH_RADIUS_PX", "PROTOCOL", "RENAME", "TABLE1", "TABLE1_COLUMNS", "TIATOOLBOX_CRCHISTO", "table1"]

# Section 3: a detection within 6 px of an annotation is a TP (5 px "shows a similar pattern").
MATCH_RADIUS_PX = 6.0
PROTOCOL = ("lung adenocarcinoma H&E (TracerX + Leicester), 302 sub-images of 252-2000 px, 22,893 dots; "
            "2-fold cross-validation (151 / fold; 121 train + 30 validation), thresholds / tolerances tuned, "
            "TP within 6 px")

# Table 1 (percent in the paper; fractions here).
TABLE1 = {
    "Proposed": (0.8049, 0.7767, 0.7906),
    "MapDe-Peak": (0.7565, 0.8107, 0.7827),
    "MapDe-feat(L-1)": (0.7991, 0.7652, 0.7818),
    "Micro-Net-Peak": (0.7923, 0.7493, 0.7702),
    "SCCNN": (0.8178, 0.7263, 0.7694),
}
TABLE1_COLUMNS = ("Precision", "Recall", "F1")
# The paper's own column names, for printed tables only (CSV files keep the shared names).
RENAME = {"F1": "F1Score"}

# TIAToolbox docs (pretrained mapde-crchisto / sccnn-crchisto): TP within 8 px, peak detection.
TIATOOLBOX_CRCHISTO = {"MapDe-Peak": (0.81, 0.82, 0.81), "SCCNN": (0.82, 0.80, 0.81)}
TIATOOLBOX_RADIUS_PX = 8.0


def table1() -> pd.DataFrame:
    """Table 1 as a DataFrame indexed by method."""
    df = pd.DataFrame.from_dict(TABLE1, orient="index", columns=list(TABLE1_COLUMNS))
    df.index.name = "Method"
    return df
