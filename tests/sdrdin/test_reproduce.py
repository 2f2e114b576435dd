import numpy as np
import pandas as pd
import pytest

from sdrdin import paper
from sdrdin.reproduce import main, resplit, table2, table3, table_a4, table_a5
from tests.conftest import assert_figures_drawn
from tests.sdrdin.helpers import tiny


def test_paper_tables_are_data():
    t2 = paper.table(paper.TABLE2, paper.TABLE2_COLUMNS)
    assert t2.loc["S-DRDIN", "F1"] == 0.835 and t2.loc["S-DRDIN", "F1 std"] == 0.013
    assert list(paper.table(paper.TABLE3, paper.TABLE3_COLUMNS).index)[-1] == "S-DRDIN"
    assert sum(paper.DATA_SPLIT["Training"]) + sum(paper.DATA_SPLIT["Validation"]) + \
        sum(paper.DATA_SPLIT["Test"]) == 3674   # section 2.1: 3674 annotations


def test_resplit_pools_and_splits_7_to_3_by_seed(splits):
    import dataclasses

    tr, va, _ = splits
    pool = [dataclasses.replace(tr[0], name=f"s{k}") for k in range(10)]
    a = resplit(pool[:6], pool[6:], seed=0)
    b = resplit(pool[:6], pool[6:], seed=1)
    assert (len(a[0]), len(a[1])) == (7, 3)
    assert sorted(s.name for s in a[0] + a[1]) == sorted(s.name for s in pool)
    assert {s.name for s in a[1]} != {s.name for s in b[1]}


def _results():
    rows = []
    for pipe in ("DRDIN", "S-DRDIN"):
        for k in range(2):
            r = {"pipeline": pipe, "split": k, "Precision": 0.9 + 0.02 * k, "Recall": 0.7, "F1": 0.8, "TP": 10,
                 "FP": 1, "FN": 3, "Weighted Precision": 0.8, "Weighted Recall": 0.8, "Weighted F1": 0.8,
                 "threshold": 0.5 + 0.1 * k, "on edge": "threshold" if (pipe, k) == ("S-DRDIN", 1) else "-",
                 "epochs": 3, "train s": 10.0 + k}
            for c in ("a", "b"):
                r.update({f"{c} Precision": 0.5, f"{c} Recall": 0.5, f"{c} F1": 0.5, f"{c} Detection Recall": 0.5})
            rows.append(r)
    return pd.DataFrame(rows)


def test_tables_have_the_papers_rows_and_mean_std_columns():
    res = _results()
    t2 = table2(res)
    assert list(t2.index) == ["DRDIN-detection", "S-DRDIN"]
    assert list(t2.columns[:4]) == ["Precision (paper)", "Precision std (paper)", "Precision (ours)",
                                    "Precision std (ours)"]
    assert t2.loc["S-DRDIN", "Precision (ours)"] == pytest.approx(0.91)
    assert t2.loc["S-DRDIN", "Precision std (ours)"] == pytest.approx(0.01)
    assert t2.loc["S-DRDIN", "F1 (paper)"] == 0.835
    # the tuned threshold (mean over splits) and any split's edge flag sit beside each row (issue 25)
    assert t2.loc["S-DRDIN", "threshold (ours)"] == pytest.approx(0.55)
    assert t2.loc["S-DRDIN", "on edge (ours)"] == "threshold" and t2.loc["DRDIN-detection", "on edge (ours)"] == "-"
    t3 = table3(res)
    assert list(t3.index) == ["DRDIN-classification", "S-DRDIN"] and "Weighted F1 (paper)" in t3
    a4 = table_a4(res)
    assert a4.loc["DRDIN", "hours for 100 epochs (paper)"] == 0.16 and a4.loc["S-DRDIN", "train s (ours)"] == 10.5
    a5 = table_a5(res, ("a", "b"))
    assert list(a5.index) == ["a", "b"] and "Detection Recall (ours)" in a5


def test_quick_reproduction_writes_every_table(splits, tmp_path):
    tr, va, te = splits
    cfg = tiny().with_overrides(n_splits=2)
    out = main(out=tmp_path, config=cfg, splits=(tr, va, te), rows=["DRDIN-detection", "S-DRDIN"], verbose=0)
    assert set(out) == {"table2", "table3", "table_a4", "table_a5"}
    assert list(out["table2"].index) == ["DRDIN-detection", "S-DRDIN"]
    assert np.isfinite(out["table2"]["F1 (ours)"]).all()
    for name in ("table2", "table3", "table_a4", "table_a5"):
        assert (tmp_path / "sdrdin" / f"{name}.md").exists() and (tmp_path / "sdrdin" / f"{name}.csv").exists()
    per_split = pd.read_csv(tmp_path / "sdrdin" / "results_per_split.csv")
    assert sorted(set(per_split["split"])) == [0, 1] and set(per_split["pipeline"]) == {"DRDIN", "S-DRDIN"}
    assert {"threshold", "on edge"} <= set(per_split.columns) and per_split["threshold"].between(0, 1).all()
    assert "on edge (ours)" in out["table2"]
    assert "2 splits" in (tmp_path / "sdrdin" / "table2.md").read_text()


@pytest.fixture(scope="module")
def reproduced(splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("sdrdin_all_rows")
    tables = main(out=out, config=tiny(), splits=splits, verbose=0)
    return out / "sdrdin", tables


def test_every_row_of_tables_2_and_3_is_reproduced(reproduced):
    from sdrdin.config import TABLE2_ROWS, TABLE3_ROWS

    folder, tables = reproduced
    assert list(tables["table2"].index) == list(TABLE2_ROWS)
    assert list(tables["table3"].index) == list(TABLE3_ROWS)
    assert np.isfinite(tables["table2"]["TP (ours)"]).all()
    assert tables["table2"].loc["CONCORDe-Net", "F1 (paper)"] == 0.768
    assert tables["table_a4"].loc["CONCORDe-Net", "hours for 100 epochs (paper)"] == 0.73
    assert "1 split" in (folder / "table2.md").read_text()


def test_notebook_replots_the_tables_and_figures(reproduced, notebook):
    folder, _ = reproduced
    scope = notebook("sdrdin_figures.ipynb", "SDRDIN_RESULTS", folder)
    assert_figures_drawn(scope, ("table2", "table3", "table_a5", "fig_a2_encoder", "fig_a3_detections"), folder)


def test_notebook_says_what_to_run_when_results_are_missing(tmp_path, notebook):
    with pytest.raises(FileNotFoundError, match="sdrdin reproduce"):
        notebook("sdrdin_figures.ipynb", "SDRDIN_RESULTS", tmp_path, first_cell_only=True)
