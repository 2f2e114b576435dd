"""MapDe's published numbers (Raza et al., ISBI 2019) and TIAToolbox's CRCHisto figures, as data."""

from __future__ import annotations

import pandas as pd

from common.reporting import paper_table

__all__ = ["MATCH_RADIUS_PX", "PROTOCOL", "RENAME", "TABLE1", "TABLE1_COLUMNS", "TABLE1_PERCENT", "TIATOOLBOX_CRCHISTO",
           "table1"]

# Section 3: a detection within 6 px of an annotation is a TP (5 px "shows a similar pattern").
MATCH_RADIUS_PX = 6.0
PROTOCOL = ("lung adenocarcinoma H&E (TracerX + Leicester), 302 sub-images of 252-2000 px, 22,893 dots; "
            "2-fold cross-validation (151 / fold; 121 train + 30 validation), thresholds / tolerances tuned, "
            "TP within 6 px")

# Table 1, in percent as the paper prints it (rows: Proposed, MapDe-Peak, MapDe-feat(L-1),
# Micro-Net-Peak, SCCNN; columns: precision, recall, F1).
TABLE1_PERCENT = {"Proposed": (80.49, 77.67, 79.06), "MapDe-Peak": (75.65, 81.07, 78.27),
                  "MapDe-feat(L-1)": (79.91, 76.52, 78.18), "Micro-Net-Peak": (79.23, 74.93, 77.02),
                  "SCCNN": (81.78, 72.63, 76.94)}
TABLE1 = {k: tuple(round(v / 100, 6) for v in vals) for k, vals in TABLE1_PERCENT.items()}   # fractions
TABLE1_COLUMNS = ("Precision", "Recall", "F1")
# The paper's own column names, for printed tables only (CSV files keep the shared names).
RENAME = {"F1": "F1Score"}

# TIAToolbox docs (pretrained mapde-crchisto / sccnn-crchisto): TP within 8 px, peak detection.
TIATOOLBOX_CRCHISTO = {"MapDe-Peak": (0.81, 0.82, 0.81), "SCCNN": (0.82, 0.80, 0.81)}
TIATOOLBOX_RADIUS_PX = 8.0


def table1() -> pd.DataFrame:
    """Table 1 (fractions) as a DataFrame indexed by method."""
    return paper_table(TABLE1_PERCENT, TABLE1_COLUMNS, scale=0.01)
