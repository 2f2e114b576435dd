import numpy as np
import pandas as pd
import pytest

from awarenet import paper, reproduce
from awarenet.paper import PAPER
from tests.conftest import assert_figures_drawn


def test_paper_table2_is_the_papers():
    t = paper.table2()
    assert list(t.index) == ["ExpWeightType1", "RatioWeight", "ExpWeightType2", "CONCORDe-Net", "U-net"]
    assert list(t.columns) == ["Precision", "Recall", "F1"]
    assert t.loc["ExpWeightType1"].tolist() == [0.82, 0.75, 0.78]
    assert t.loc["U-net", "F1"] == 0.76
    assert paper.TRAINING_COUNTS == (2244, 997, 243) and paper.MATCH_RADIUS_PX == 10
    assert paper.RENAME == {"F1": "F1-score"}


@pytest.fixture(scope="module")
def results(tmp_path_factory, splits, tiny):
    out = tmp_path_factory.mktemp("reproduce")
    tables = reproduce.main(out=out, config=tiny, splits=splits, verbose=0, command="tiny test run")
    return out / "awarenet", tables


def test_table2_rows_columns_and_provenance(results):
    folder, tables = results
    df = tables["table2"]
    assert list(df.index) == list(paper.TABLE2)
    for m in ("Precision", "Recall", "F1"):
        assert f"{m} (paper)" in df.columns and f"{m} (ours)" in df.columns
        assert df[f"{m} (ours)"].between(0, 1).all()
    np.testing.assert_allclose(df["F1 (paper)"], [0.78, 0.78, 0.77, 0.76, 0.76])
    assert {"TP", "FP", "FN", "threshold", "Recall CD4+FOXP3+", "epochs", "train s"} <= set(df.columns)
    assert df["threshold"].between(0, 1).all()
    assert df["on edge"].map(lambda v: v == "-" or v == "threshold").all()   # issue 25: a capped search shows
    meta = df.attrs["meta"]
    assert {"data", "split", "protocol", "config", "hardware", "wall time", "command"} <= set(meta)
    assert "10 px" in meta["protocol"] and "tuned the radius per model" in meta["protocol"]
    assert "learning_rate 0.001" in meta["config"]
    for row in paper.TABLE2:
        for f in ("model.keras", "postprocess.json", "sweep.csv", "config.json", "data.json"):
            assert (folder / "detection" / row / f).exists(), (row, f)
    md = (folder / "table2.md").read_text()
    assert "**wall time**" in md and "ExpWeightType1" in md and "F1-score (paper)" in md and "tiny test run" in md
    saved = pd.read_csv(folder / "table2.csv", index_col=0)
    assert list(saved.index) == list(paper.TABLE2) and "F1 (ours)" in saved.columns


def test_table2_bad_rows(splits, tiny):
    with pytest.raises(ValueError, match="unknown Table 2 row"):
        reproduce.table2(rows=["VGG"], config=tiny, splits=splits)
    with pytest.raises(ValueError, match="dataset name"):
        PAPER.load_splits("")


def test_faint_factor_ablation_data():
    faint = PAPER.load_splits("synthetic:mihc", 0)[0]
    plain = PAPER.load_splits("synthetic:mihc:faint_factor=1", 0)[0]
    assert "faint class drawn at 1" in plain.description
    np.testing.assert_array_equal(faint[0].points, plain[0].points)   # same cells, only the rare class's stain differs
    assert not np.array_equal(faint[0].image, plain[0].image)
    with pytest.raises(ValueError, match="unknown synthetic data option"):
        PAPER.load_splits("synthetic:mihc:bright=2", 0)


def test_classification_table_and_notebook_files(results):
    folder, tables = results
    df = tables["classification"]
    assert list(df.index) == ["CD8+", "CD4+FOXP3-", "CD4+FOXP3+", "overall"]
    assert {"AUC (paper, lower bound)", "AUC (ours)", "Accuracy (paper)", "Accuracy (ours)"} <= set(df.columns)
    assert df.loc["overall", "Accuracy (paper)"] == 0.97
    assert 0 <= df.loc["overall", "Accuracy (ours)"] <= 1
    cls = folder / "classification"
    roc = pd.read_csv(cls / "roc_points.csv")
    assert {"class", "fpr", "tpr"} <= set(roc.columns)
    um = pd.read_csv(cls / "umap.csv")
    assert list(um.columns) == ["x", "y", "label", "predicted"]
    assert pd.read_csv(cls / "confusion_matrix.csv", index_col=0).shape == (3, 3)
    assert (cls / "model.keras").exists()


def test_notebook_replots_from_the_run(results, notebook):
    folder, _ = results
    scope = notebook("awarenet_figures.ipynb", "AWARENET_RESULTS", folder)
    assert_figures_drawn(scope, ("table2", "recall_by_class", "threshold_sweep", "roc", "umap"), folder)


def test_notebook_says_what_to_run_when_results_are_missing(tmp_path, notebook):
    with pytest.raises(FileNotFoundError, match="awarenet reproduce"):
        notebook("awarenet_figures.ipynb", "AWARENET_RESULTS", tmp_path, first_cell_only=True)
