import numpy as np
import pandas as pd
import pytest

from pointnet_cells import paper
from pointnet_cells.paper import PAPER
from pointnet_cells.reproduce import main, q_sweep, table1, table2
from tests.conftest import assert_figures_drawn
from tests.pointnet_cells.helpers import tiny


def test_paper_tables_as_data():
    t1, t2 = paper.table1(), paper.table2()
    assert list(t1.index) == ["FCRN-A", "FCRN-B", "UNet", "ResUNet", "DeepLab v3+", "Zhang", "P2PNet", "ours"]
    assert list(t2.index) == ["Baseline", "Baseline+PFA", "Baseline+PFA+IC"]
    assert t1.loc["ours", "Det F1"] == pytest.approx(0.8314) and t1.loc["ours", "Time (s)"] == 0.11
    assert t2.loc["Baseline"].equals(t1.loc["P2PNet", list(paper.COLUMNS)].rename("Baseline"))
    assert PAPER.quick_rows == ("Baseline", "Baseline+PFA", "Baseline+PFA+IC")


def test_tables_share_runs_and_carry_the_papers_columns(splits, tmp_path):
    trained = {}
    kw = dict(config=tiny(), out=tmp_path, splits=splits, verbose=0, trained=trained)
    t2 = table2(rows=("Baseline", "Baseline+PFA+IC"), **kw)
    assert list(t2.index) == ["Baseline", "Baseline+PFA+IC"]
    for c in ("Det P", "Det R", "Det F1", "Cls P", "Cls R", "Cls F1"):
        assert f"{c} (paper)" in t2.columns and f"{c} (ours)" in t2.columns
    assert t2.loc["Baseline", "Det F1 (paper)"] == pytest.approx(0.8161)
    assert len(trained) == 2
    t1 = table1(rows=("UNet", "P2PNet", "ours"), **kw)
    assert len(trained) == 3          # P2PNet and ours reuse the Baseline and Baseline+PFA+IC runs
    assert list(t1.index) == ["UNet", "P2PNet", "ours"] and "Time (s) (ours)" in t1.columns
    assert t1.loc["ours", "Det F1 (ours)"] == t2.loc["Baseline+PFA+IC", "Det F1 (ours)"]
    assert np.all(t1["Time (s) (ours)"] > 0) and "protocol" in t1.attrs["meta"]
    # the tuned post-processing beside each row, and whether it lies on an edge of its search (issue 25)
    assert set(t1["on edge"]) <= {"-", "threshold", "min_distance", "threshold, min_distance"}
    assert 0 < t2.loc["Baseline", "threshold"] < 1
    assert t1.loc["ours", "threshold"] == t2.loc["Baseline+PFA+IC", "threshold"]
    assert t1.loc["UNet", "min_distance"] >= 1 and np.isnan(t1.loc["ours", "min_distance"])
    assert t1.attrs["meta"]["choices"].startswith("quick preset: the point models' 120 epochs")
    with pytest.raises(ValueError, match="Table 2 has"):
        table2(rows=("UNet",), **kw)


def test_main_writes_the_tables_and_the_notebook_replots_them(splits, tmp_path, notebook):
    res = main(config=tiny(), out=tmp_path, splits=splits, verbose=0, rows=["Baseline+PFA+IC", "FCRN-A"],
               q_values=(0.4, 0.9))
    assert set(res) == {"table1", "table2", "q_sweep"}
    q = res["q_sweep"]   # Fig. 3: one run per q; q = 0.4 is ours, trained once for all three tables
    assert list(q.index) == [0.4, 0.9] and q.loc[0.4, "Cls F1 (paper)"] == pytest.approx(0.6909)
    assert np.isnan(q.loc[0.9, "Cls F1 (paper)"]) and q.loc[0.4, "Cls F1 (ours)"] == res["table2"].loc[
        "Baseline+PFA+IC", "Cls F1 (ours)"]
    assert q.loc[0.4, "threshold"] == res["table2"].loc["Baseline+PFA+IC", "threshold"]   # tuned on val, recorded
    assert "on edge" in q.columns
    runs = sorted(p.name for p in (tmp_path / "pointnet_cells" / "models").iterdir())
    assert runs == ["fcrn_a", "pfa_ic_gce_q0.4", "pfa_ic_gce_q0.9"]
    assert list(res["table1"].index) == ["FCRN-A", "ours"]
    for f in ("table1.md", "table1.csv", "table2.md", "table2.csv", "command.txt"):
        assert (tmp_path / "pointnet_cells" / f).exists()
    assert "Cls F1 (ours)" in pd.read_csv(tmp_path / "pointnet_cells" / "table2.csv").columns
    with pytest.raises(ValueError, match="unknown row"):
        main(config=tiny(), out=tmp_path, splits=splits, rows=["YOLO"])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        q_sweep(config=tiny(), out=tmp_path, splits=splits, q_values=(0.0,))
    scope = notebook("pointnet_cells_figures.ipynb", "POINTNET_RESULTS", tmp_path / "pointnet_cells")
    assert set(scope["runs"]) == {"Baseline+PFA+IC", "FCRN-A"}
    assert_figures_drawn(scope, ("table1", "table2", "table1_time", "fig2_cells_by_class", "fig3_q_sweep"),
                         tmp_path / "pointnet_cells")
    with pytest.raises(FileNotFoundError, match="reproduce"):
        notebook("pointnet_cells_figures.ipynb", "POINTNET_RESULTS", tmp_path, first_cell_only=True)


def test_synthetic_splits_are_pdl1():
    s = PAPER.load_split("synthetic", "val")
    assert len(s) == 8 and s.class_names[0] == "PD-L1+ tumour" and s[0].image.shape == (256, 256, 3)
