import json

import pandas as pd
import pytest

from common.io import write_image
from tests.conftest import paper_cli

cli = paper_cli("awarenet")


def test_train_with_classifier_then_predict_classes(tmp_path, user_folder, capsys):
    data, samples = user_folder("mihc", 6, 64)
    run = tmp_path / "run"
    assert cli(["train", "--data", str(data), "--quick", "--set", "input_size=32", "--epochs", "1", "--classifier",
                "--row", "U-net", "--out", str(run), "--verbose", "0"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["variant_name"] == "U-net" and cfg["weight_scheme"] is None and cfg["overrides"]["input_size"] == 32
    assert (run / "classifier" / "model.keras").exists()
    image = tmp_path / "query.png"
    write_image(image, samples[0].image)
    assert cli(["predict", str(image), "--model", str(run), "--out", str(tmp_path / "pred")]) == 0
    pts = pd.read_csv(tmp_path / "pred" / "query_cells.csv")
    assert {"x", "y", "score", "class"} <= set(pts.columns)
    assert {f"p_{c}" for c in samples[0].class_names} <= set(pts.columns)
    assert set(pts["class"]) <= set(samples[0].class_names)
    counts = pd.read_csv(tmp_path / "pred" / "counts.csv")
    assert counts.loc[0, "cells"] == len(pts) and set(samples[0].class_names) <= set(counts.columns)
    assert cli(["evaluate", "--model", str(run), "--data", str(data), "--split", "all", "--threshold", "0.5"]) == 0
    assert "Class F1" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert cli(["evaluate", "--model", str(tmp_path / "nothing")]) == 2
    assert "no run folder, model file or preset named" in capsys.readouterr().err
    assert cli(["train", "--data", str(tmp_path / "missing"), "--quick", "--out", str(tmp_path / "r")]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert cli(["train", "--quick", "--set", "lerning_rate=1", "--out", str(tmp_path / "r")]) == 2
    assert "did you mean learning_rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["train", "--row", "VGG", "--out", str(tmp_path)])   # argparse: unknown row
