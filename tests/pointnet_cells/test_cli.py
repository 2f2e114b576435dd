import json
import subprocess
import sys

import pandas as pd

from tests.conftest import paper_cli

cli = paper_cli("pointnet_cells")


TINY = ["--set", "width=0.0625", "--set", "head_channels=8", "--set", "crop_size=64", "--set", "batch_size=2",
        "--set", "tile_size=128"]


def test_help_is_quick_and_lists_the_rows():
    out = subprocess.run([sys.executable, "-m", "pointnet_cells", "reproduce", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--q-sweep" in out.stdout and "Baseline+PFA+IC" in out.stdout
    assert "tensorflow" not in out.stderr.lower()


def test_train_predict_evaluate_on_a_user_folder(user_folder, tmp_path, capsys):
    data, _ = user_folder("pdl1", n=6, size=64)
    run, pred, ev = tmp_path / "run", tmp_path / "pred", tmp_path / "ev"
    assert cli(["train", "--data", str(data), "--quick", "--epochs", "1", "--row", "Baseline+PFA", *TINY,
                "--out", str(run), "--verbose", "0"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["variant_name"] == "Baseline+PFA" and cfg["heads"] == "single"
    assert cli(["predict", str(data / "images"), "--model", str(run), "--out", str(pred), "--overlay",
                "--threshold", "0.0"]) == 0
    first = sorted(p for p in pred.glob("*.csv") if p.name != "counts.csv")[0]
    df = pd.read_csv(first)
    assert {"x", "y", "score", "class"} <= set(df.columns) and len(df) > 0
    assert (pred / "counts.csv").exists() and list(pred.glob("*_overlay.jpg"))
    gj = json.loads((pred / first.name.replace("_cells.csv", ".geojson")).read_text())
    assert gj["features"][0]["geometry"]["type"] == "Point"
    assert cli(["evaluate", "--model", str(run), "--data", str(data), "--out", str(ev), "--split", "test"]) == 0
    m = pd.read_csv(ev / "metrics.csv")
    assert {"F1", "Class F1"} <= set(m.columns) and list(m["radius"]) == [12.0]
    capsys.readouterr()
