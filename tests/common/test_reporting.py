import os

import numpy as np
import pandas as pd
import pytest

from common import reporting


def tables():
    paper = pd.DataFrame({"Precision": [0.82, 0.80], "F1": [0.78, 0.76]},
                         index=pd.Index(["ExpWeightType1", "U-net"], name="Method"))
    ours = pd.DataFrame({"Precision": [0.85, 0.79, 0.5], "F1": [0.81, 0.75, 0.4]},
                        index=pd.Index(["U-net", "ExpWeightType1", "Extra"], name="Method"))
    return paper, ours


def test_paper_vs_ours_aligns_rows():
    paper, ours = tables()
    t = reporting.paper_vs_ours(paper, ours)
    assert list(t.index) == ["ExpWeightType1", "U-net", "Extra"]
    assert list(t.columns) == ["Precision (paper)", "Precision (ours)", "F1 (paper)", "F1 (ours)"]
    assert t.loc["ExpWeightType1", "Precision (ours)"] == 0.79
    assert t.loc["U-net", "F1 (paper)"] == 0.76
    assert np.isnan(t.loc["Extra", "F1 (paper)"])


def test_paper_vs_ours_missing_metric():
    paper, ours = tables()
    with pytest.raises(ValueError, match="Recall"):
        reporting.paper_vs_ours(paper, ours, ["Recall"])
    with pytest.raises(ValueError, match="DataFrames"):
        reporting.paper_vs_ours(paper, ours.to_dict())


def test_markdown_and_write_table(tmp_path):
    paper, ours = tables()
    t = reporting.paper_vs_ours(paper, ours)
    md = reporting.to_markdown(t)
    assert md.splitlines()[0].startswith("| Method | Precision (paper)")
    assert "| Extra | - | 0.500 | - | 0.400 |" in md
    md_path, csv_path = reporting.write_table(t, tmp_path / "sub" / "table2", title="Table 2",
                                              meta={"data": "synthetic:mihc", "radius": "10 px"})
    text = open(md_path).read()
    assert text.startswith("# Table 2") and "- **radius**: 10 px" in text
    back = pd.read_csv(csv_path, index_col=0)
    assert back.shape == t.shape
    assert not [f for f in os.listdir(tmp_path / "sub") if f.endswith(".tmp")]


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from common.io import atomic_path

    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


def test_hardware_summary():
    s = reporting.hardware_summary()
    assert "cores" in s and "Python" in s
