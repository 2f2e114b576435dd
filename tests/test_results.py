"""The recorded tables in ``results/`` keep what the README says of them (issue 25)."""

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EDGE_COLUMNS = ("on edge", "on edge (ours)", "count on edge")


def test_no_recorded_tuned_value_lies_on_an_edge_of_its_search():
    flagged, checked = [], 0
    for path in sorted((ROOT / "results").rglob("*.csv")):
        df = pd.read_csv(path)
        for col in (c for c in df.columns if c in EDGE_COLUMNS):
            checked += 1
            for i, v in df[col].fillna("-").astype(str).items():
                if v.strip() != "-":
                    flagged.append(f"{path.relative_to(ROOT)}: row {i}, {col} = {v}")
    assert checked >= 10, "the tables that record where each tuned value lies were not found"
    assert not flagged, "a recorded row's tuned value lies on an edge of its search (widen it and re-record):\n" + \
        "\n".join(flagged)
