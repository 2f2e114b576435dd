import json
import os

import numpy as np
import pandas as pd
import pytest

from awarenet import AwareNetConfig, paper, reproduce
from awarenet.__main__ import main as cli
from common.datasets import SampleList
from common.io import write_image, write_points_csv
from common.synthetic import make_dataset


@pytest.fixture(scope="module")
def splits():
    return (SampleList(make_dataset("mihc", 4, 128, seed=21), "synthetic mihc train"),
            SampleList(make_dataset("mihc", 2, 64, seed=22), "val"),
            SampleList(make_dataset("mihc", 3, 128, seed=23), "test"))


@pytest.fixture(scope="module")
def tiny():
    return AwareNetConfig(input_size=32, base_filters=4, depth=2, batch_size=4, epochs=1, counter_epochs=1,
                          steps_per_epoch=2, classifier_epochs=1, classifier_base=4, classifier_batch=16,
                          learning_rate=1e-3, thresholds=(0.3, 0.6))


def test_paper_table2_is_the_papers():
    t = paper.table2()
    assert list(t.index) == ["ExpWeightType1", "RatioWeight", "ExpWeightType2", "CONCORDe-Net", "U-net"]
    assert list(t.columns) == ["Precision", "Recall", "F1-score"]
    assert t.loc["ExpWeightType1"].tolist() == [0.82, 0.75, 0.78]
    assert t.loc["U-net", "F1-score"] == 0.76
    assert paper.TRAINING_COUNTS == (2244, 997, 243) and paper.MATCH_RADIUS_PX == 10


@pytest.fixture(scope="module")
def results(tmp_path_factory, splits, tiny):
    out = tmp_path_factory.mktemp("reproduce")
    tables = reproduce.main(out=out, config=tiny, splits=splits, verbose=0)
    return out / "awarenet", tables


def test_table2_rows_columns_and_provenance(results):
    folder, tables = results
    df = tables["table2"]
    assert list(df.index) == list(paper.TABLE2)
    for m in ("Precision", "Recall", "F1-score"):
        assert f"{m} (paper)" in df.columns and f"{m} (ours)" in df.columns
        assert df[f"{m} (ours)"].between(0, 1).all()
    np.testing.assert_allclose(df["F1-score (paper)"], [0.78, 0.78, 0.77, 0.76, 0.76])
    assert {"threshold", "Recall CD4+FOXP3+", "epochs", "train s"} <= set(df.columns)
    assert set(df["threshold"]) <= {0.3, 0.6}
    meta = df.attrs["meta"]
    assert {"data", "split", "protocol", "config", "hardware", "wall time", "command"} <= set(meta)
    assert "10 px" in meta["protocol"]
    for row in paper.TABLE2:
        assert (folder / "detection" / row / "detector.keras").exists()
        assert (folder / "detection" / row / "val_threshold_sweep.csv").exists()
    md = (folder / "table2.md").read_text()
    assert "**wall time**" in md and "ExpWeightType1" in md
    saved = pd.read_csv(folder / "table2.csv", index_col=0)
    assert list(saved.index) == list(paper.TABLE2)


def test_table2_bad_rows(splits, tiny):
    with pytest.raises(ValueError, match="unknown Table 2 row"):
        reproduce.table2(rows=["VGG"], config=tiny, splits=splits)
    with pytest.raises(ValueError, match="dataset name"):
        reproduce.load_splits("")


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


def test_notebook_replots_from_the_run(results, notebook):
    folder, _ = results
    notebook("awarenet_figures.ipynb", "AWARENET_RESULTS", folder)
    for name in ("table2", "recall_by_class", "threshold_sweep", "roc", "umap"):
        assert (folder / "figures" / f"{name}.png").stat().st_size > 1000


def test_notebook_says_what_to_run_when_results_are_missing(tmp_path, notebook):
    with pytest.raises(FileNotFoundError, match="awarenet reproduce"):
        notebook("awarenet_figures.ipynb", "AWARENET_RESULTS", tmp_path, first_cell_only=True)


def _user_folder(root, n=6, size=64):
    samples = make_dataset("mihc", n, size, seed=31)
    os.makedirs(root / "images")
    pts, names, cls = [], [], []
    for k, s in enumerate(samples):
        write_image(root / "images" / f"img{k}.png", s.image)
        pts.append(s.points)
        names += [f"img{k}.png"] * len(s.points)
        cls += [s.class_names[c] for c in s.classes]
    write_points_csv(root / "points.csv", np.concatenate(pts), image=names,
                     classes=np.array([samples[0].class_names.index(c) for c in cls]),
                     class_names=samples[0].class_names)
    return samples


def test_cli_train_predict_evaluate_on_a_user_folder(tmp_path, capsys):
    data = tmp_path / "data"
    samples = _user_folder(data)
    run = tmp_path / "run"
    rc = cli(["train", "--data", str(data), "--quick", "--input-size", "32", "--epochs", "1", "--classifier",
              "--out", str(run), "--verbose", "0"])
    assert rc == 0
    thr = json.loads((run / "threshold.json").read_text())
    assert thr["chosen_on"] == "val" and 0 < thr["threshold"] < 1
    assert (run / "classifier" / "classifier.keras").exists()
    image = tmp_path / "query.png"
    write_image(image, samples[0].image)
    rc = cli(["predict", str(image), "--model", str(run), "--out", str(tmp_path / "pred"), "--tile-size", "32", "--margin", "8"])
    assert rc == 0
    pts = pd.read_csv(tmp_path / "pred" / "query.csv")
    assert {"x", "y"} <= set(pts.columns)
    if len(pts):
        assert set(pts["class"]) <= set(samples[0].class_names)
    gj = json.loads((tmp_path / "pred" / "query.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(pts)
    rc = cli(["evaluate", "--model", str(run), "--data", str(data), "--split", "all"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "F1-score" in out and "radius 10.0 px" in out


def test_cli_errors(tmp_path, capsys):
    assert cli(["evaluate", "--model", str(tmp_path / "nothing")]) == 2
    assert "no detector" in capsys.readouterr().err
    assert cli(["train", "--data", str(tmp_path / "missing"), "--quick", "--out", str(tmp_path / "r")]) == 2
    with pytest.raises(SystemExit):
        cli(["train", "--row", "VGG", "--out", str(tmp_path)])   # argparse: unknown row
