import json
import os

import pandas as pd

from common.io import write_image
from tests.conftest import paper_cli

cli = paper_cli("yolo_transfer")


TINY = ["--set", "model=tiny", "--set", "width=0.125", "--set", "input_size=64", "--set", "batch_size=2",
        "--set", "anchors=coco"]


def _folder(root):
    """An Ultralytics-layout folder of synthetic blood smears (train / val / test)."""
    from common.datasets import load

    os.makedirs(root)
    (root / "data.yaml").write_text("names: [RBC, WBC, Platelets]\n")
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        os.makedirs(root / "images" / split)
        os.makedirs(root / "labels" / split)
        for k, s in enumerate(load("synthetic:blood", split=split, n_images=n, size=64, seed=9)):
            write_image(root / "images" / split / f"{split}{k}.png", s.image)
            h, w = s.shape
            b = s.boxes
            lines = [f"{c} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"
                     for c, (x0, y0, x1, y1) in zip(s.classes, b)]
            (root / "labels" / split / f"{split}{k}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_train_predict_evaluate_on_an_ultralytics_folder(tmp_path, capsys):
    data = _folder(tmp_path / "data")
    run, pred, ev = tmp_path / "run", tmp_path / "pred", tmp_path / "ev"
    assert cli(["train", "--data", str(data), "--quick", "--epochs", "1", "--row", "scratch", *TINY,
                "--out", str(run), "--verbose", "0"]) == 0
    assert json.loads((run / "config.json").read_text())["variant_name"] == "scratch"
    assert cli(["predict", str(data / "images" / "test"), "--model", str(run), "--out", str(pred), "--overlay",
                "--threshold", "0.0"]) == 0
    df = pd.read_csv(pred / "test0_cells.csv")
    assert {"xmin", "ymin", "xmax", "ymax", "score", "class"} <= set(df.columns)
    gj = json.loads((pred / "test0.geojson").read_text())
    assert len(gj["features"]) == len(df) and gj["features"][0]["geometry"]["type"] == "Polygon"
    assert (pred / "test0_overlay.jpg").exists() and (pred / "counts.csv").exists()
    assert cli(["evaluate", "--model", str(run), "--data", str(data), "--out", str(ev), "--split", "val", "test"]) == 0
    m = pd.read_csv(ev / "metrics.csv")
    assert {"split", "mAP@0.5", "AP@0.5 RBC", "AP@0.5 WBC", "AP@0.5 Platelets"} <= set(m.columns)
    assert list(m["split"]) == ["val", "test"]
    capsys.readouterr()


def test_points_data_and_missing_weights_are_one_line_errors(tmp_path, user_folder, capsys):
    data, _ = user_folder("mihc", 6, 64)
    assert cli(["train", "--data", str(data), "--quick", "--epochs", "1", *TINY, "--out", str(tmp_path / "r"),
                "--verbose", "0"]) == 2
    assert "no boxes" in capsys.readouterr().err
    assert cli(["train", "--quick", "--epochs", "1", *TINY, "--weights", str(tmp_path / "none.weights"),
                "--out", str(tmp_path / "w"), "--verbose", "0"]) == 2
    assert "none.weights: no such file" in capsys.readouterr().err
