import os

import numpy as np
import pandas as pd
import pytest

from common.datasets import SampleList, load
from mapde import MapDeConfig
from mapde.reproduce import main, table1
from tests.conftest import assert_figures_drawn
from tests.mapde.helpers import TINY


@pytest.fixture(scope="module")
def reproduced(splits, tmp_path_factory):
    """A tiny ``reproduce.main`` run: (its ``mapde`` folder, Table 1)."""
    out = tmp_path_factory.mktemp("reproduce")
    result = main(config=MapDeConfig.quick(**TINY), out=out, splits=splits, verbose=0, command="tiny test run")
    return out / "mapde", result["table1"]

def test_table1_rows_and_columns(reproduced, splits):
    folder, df = reproduced
    assert list(df.index) == ["Proposed", "MapDe-Peak", "MapDe-feat(L-1)", "Micro-Net-Peak", "SCCNN",
                              "Proposed (label estimate)"]
    for m in ("Precision", "Recall", "F1"):
        assert f"{m} (paper)" in df and f"{m} (ours)" in df
        assert df[f"{m} (ours)"].between(0, 1).all()
    assert df.loc["Proposed", "F1 (paper)"] == pytest.approx(0.7906)
    assert pd.isna(df.loc["Proposed (label estimate)", "F1 (paper)"])   # ours, not the paper's
    assert {"F1 @5px", "F1 @8px", "TP", "FP", "FN", "threshold", "min_distance", "on edge"} <= set(df.columns)
    assert df["on edge"].map(lambda v: v == "-" or set(v.split(", ")) <= {"threshold", "min_distance"}).all()
    assert pd.isna(df.loc["Proposed", "min_distance"]) and df.loc["MapDe-Peak", "min_distance"] in (3, 5)
    assert set(os.listdir(folder / "models")) == {"mapde", "micronet", "sccnn"}   # MapDe trained once
    assert "6 px" in df.attrs["meta"]["protocol"] and "raw output (paper)" in df.attrs["meta"]["protocol"]
    with pytest.raises(ValueError, match="unknown Table 1 row"):
        table1(rows=["U-net"], splits=splits)

def test_synthetic_splits_are_annotated_h_and_e():
    from mapde.paper import PAPER

    train, val, test = PAPER.load_splits("synthetic")
    assert isinstance(train, SampleList) and train.class_names[0] == "epithelial"
    assert [len(s) for s in (train, val, test)] == [n for n, _ in PAPER.synthetic_splits.values()]
    assert train[0].shape == (320, 320) and test[0].shape == (252, 252)

def test_reproduce_writes_the_table_with_its_provenance(reproduced):
    folder, df = reproduced
    md = (folder / "table1.md").read_text()
    assert "tiny test run" in md and "6 px" in md and "wall time" in md and "F1Score (paper)" in md
    assert "learning_rate 0.05" in md
    saved = pd.read_csv(folder / "table1.csv", index_col=0)
    np.testing.assert_allclose(saved["F1 (ours)"], df["F1 (ours)"], atol=1e-3)
    for kind in ("mapde", "micronet", "sccnn"):
        assert {"sweep.csv", "postprocess.json", "model.keras"} <= set(os.listdir(folder / "models" / kind))
    assert not (folder / "tiatoolbox_crchisto.md").exists()   # only for CRCHisto runs

def test_notebook_replots_table1_and_figures(reproduced, notebook):
    folder, _ = reproduced
    scope = notebook("mapde_figures.ipynb", "MAPDE_RESULTS", folder)
    assert_figures_drawn(scope, ("table1", "threshold_sweeps", "fig2_pipeline", "fig3_comparison"), folder)

def test_notebook_says_what_to_run_when_results_are_missing(tmp_path, notebook):
    with pytest.raises(FileNotFoundError, match="mapde reproduce"):
        notebook("mapde_figures.ipynb", "MAPDE_RESULTS", tmp_path, first_cell_only=True)

def test_load_split_matches_load_splits():
    from mapde.paper import PAPER

    test = PAPER.load_split("synthetic", "test", seed=0)
    np.testing.assert_array_equal(test[0].image, PAPER.load_splits("synthetic", seed=0)[2][0].image)
    with pytest.raises(ValueError, match="split must be one of"):
        PAPER.load_split("synthetic", "trainval")

def test_crchisto_run_writes_the_tiatoolbox_comparison(crchisto_root, data_root, tmp_path):
    def part(split, n):
        full = load("crchisto", split=split, data_root=data_root)
        return SampleList(list(full)[:n], full.description)

    splits = part("train", 1), part("val", 1), part("test", 1)
    result = main(data="crchisto", config=MapDeConfig.quick(**TINY), out=tmp_path, splits=splits,
                  rows=["MapDe-Peak", "SCCNN"], verbose=0)
    tt = result["tiatoolbox"]
    assert list(tt.index) == ["MapDe-Peak", "SCCNN"]
    assert tt.loc["MapDe-Peak", "F1 (TIAToolbox)"] == pytest.approx(0.81)
    np.testing.assert_allclose(tt["F1 (ours)"], result["table1"]["F1 @8px"])
    assert "8 px" in (tmp_path / "mapde" / "tiatoolbox_crchisto.md").read_text()

def test_deconv_iterations_reproduces_the_proposed_row_at_two(reproduced, splits, tmp_path):
    from mapde.reproduce import deconv_iterations

    folder, df = reproduced
    it = deconv_iterations(folder, (2, 4), splits=splits)
    assert list(it.index) == [2, 4] and it.loc[2, "on edge"] == df.loc["Proposed", "on edge"]
    for m in ("Precision", "Recall", "F1"):
        assert it.loc[2, m] == pytest.approx(df.loc["Proposed", f"{m} (ours)"], abs=1e-6)
    assert "the paper uses 2 iterations" in (folder / "deconv_iterations.md").read_text()
    assert "deconv_input='raw'" in (folder / "deconv_iterations.md").read_text()   # the command says which input
    with pytest.raises(FileNotFoundError, match="no trained MapDe"):
        deconv_iterations(tmp_path)
    with pytest.raises(ValueError, match="iterations must be"):
        deconv_iterations(folder, (0,), splits=splits)
