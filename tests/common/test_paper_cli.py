"""The one command line: the same verbs, flags, run-folder files and outputs for every paper."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from common.io import write_image
from common.paper_cli import expand_images

PAPERS = {
    # paper: (synthetic kind of the user folder, images, image size, overrides for a tiny quick run)
    "awarenet": ("mihc", 8, 96, ["--set", "input_size=32"]),
    "mapde": ("he", 5, 256, ["--set", "width=0.03125", "--set", "steps_per_epoch=2"]),
    "sdrdin": ("mihc6", 6, 96, ["--set", "input_size=32", "--set", "patch_stride=16", "--set", "steps_per_epoch=2",
                                "--set", "min_area=2",
                                "--set", "peak_window=5", "--set", "vote_box=9"]),
}
# every paper's command line, including those trained on other data than a points folder (boxes: yolo_transfer)
ALL_PAPERS = sorted([*PAPERS, "yolo_transfer", "pointnet_cells"])
RUN_FILES = {"config.json", "data.json", "model.keras", "postprocess.json", "sweep.csv", "history.csv", "state.json"}


def _cli(paper):
    import importlib

    return importlib.import_module(f"{paper}.__main__").main


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_train_predict_evaluate_sequence(paper, tmp_path, user_folder, capsys):
    kind, n, size, extra = PAPERS[paper]
    data, samples = user_folder(kind, n, size)
    cli = _cli(paper)
    run, pred, ev = tmp_path / "run", tmp_path / "pred", tmp_path / "eval"
    assert cli(["train", "--data", str(data), "--quick", "--epochs", "1", *extra, "--out", str(run),
                "--verbose", "0"]) == 0
    assert RUN_FILES <= set(os.listdir(run))
    pp = json.loads((run / "postprocess.json").read_text())
    assert pp["method"] in pp["params"] and "threshold" in pp["params"][pp["method"]]
    sweep = pd.read_csv(run / "sweep.csv")
    assert {"method", "threshold", "Precision", "Recall", "F1", "TP", "FP", "FN"} <= set(sweep.columns)

    assert cli(["predict", str(data / "images"), "--model", str(run), "--out", str(pred), "--overlay"]) == 0
    for k in range(len(samples)):
        pts = pd.read_csv(pred / f"img{k}.csv")
        assert list(pts.columns[:4]) == ["image", "x", "y", "score"]
        gj = json.loads((pred / f"img{k}.geojson").read_text())
        assert len(gj["features"]) == len(pts)
        assert all("score" in f["properties"]["measurements"] for f in gj["features"])
        assert (pred / f"img{k}_overlay.png").stat().st_size > 100
    ids = [f["id"] for k in range(len(samples)) for f in json.loads((pred / f"img{k}.geojson").read_text())["features"]]
    assert len(ids) == len(set(ids))   # unique across images
    counts = pd.read_csv(pred / "counts.csv")
    assert list(counts["image"]) == [f"img{k}.png" for k in range(len(samples))]
    # never overwrite without being asked
    assert cli(["predict", str(data / "images"), "--model", str(run), "--out", str(pred)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert cli(["predict", str(data / "images" / "img0.png"), "--model", str(run), "--out", str(pred),
                "--overwrite"]) == 0

    assert cli(["evaluate", "--model", str(run), "--data", str(data), "--split", "val", "test", "--radius", "6", "10",
                "--out", str(ev)]) == 0
    m = pd.read_csv(ev / "metrics.csv")
    assert list(m.columns[:9]) == ["split", "images", "radius", "Precision", "Recall", "F1", "TP", "FP", "FN"]
    assert list(zip(m["split"], m["radius"])) == [("val", 6.0), ("val", 10.0), ("test", 6.0), ("test", 10.0)]
    assert "| split |" in capsys.readouterr().out


@pytest.mark.parametrize("paper", ALL_PAPERS)
def test_the_same_flags_everywhere(paper, capsys):
    cli = _cli(paper)
    for verb, flags in {"reproduce": ["--data", "--data-root", "--out", "--quick", "--epochs", "--seed", "--set",
                                      "--radius", "--verbose", "--rows", "--resume"],
                        "train": ["--data", "--data-root", "--out", "--quick", "--epochs", "--seed", "--set",
                                  "--radius", "--verbose", "--restart"],
                        "predict": ["--model", "--out", "--overlay", "--overwrite", "--verbose"],
                        "evaluate": ["--model", "--data", "--data-root", "--out", "--split", "--radius",
                                     "--verbose"]}.items():
        with pytest.raises(SystemExit):
            cli([verb, "--help"])
        text = capsys.readouterr().out
        for f in flags:
            assert f in text, (paper, verb, f)
    with pytest.raises(SystemExit):
        cli(["train", "--help"])
    assert "(default: synthetic)" in capsys.readouterr().out


@pytest.mark.parametrize("paper", ALL_PAPERS)
def test_help_answers_without_tensorflow(paper):
    code = (f"import sys, runpy; sys.argv = ['{paper}', '--help']\n"
            f"try:\n    runpy.run_module('{paper}', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "reproduce" in res.stdout


def test_logs_off_a_terminal_are_one_line_per_epoch_and_quiet(tmp_path, user_folder):
    data, _ = user_folder("mihc", 8, 96)
    res = subprocess.run([sys.executable, "-m", "awarenet", "train", "--data", str(data), "--quick", "--epochs", "2",
                          "--set", "input_size=32", "--set", "steps_per_epoch=2", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": ""})
    assert res.returncode == 0, res.stderr
    both = res.stdout + res.stderr
    assert "\r" not in both and "\x1b" not in both
    assert "oneDNN" not in both and "absl::InitializeLog" not in both and "cuInit" not in both
    epochs = [ln for ln in res.stdout.splitlines() if "val_loss" in ln]
    assert len(epochs) == 2


def test_unexpected_errors_are_one_line_with_the_traceback_at_verbose_2(tmp_path, capsys, monkeypatch):
    from awarenet.__main__ import CLI

    def boom(*a, **k):
        raise RuntimeError("something broke")

    monkeypatch.setattr(CLI, "load", boom)
    assert CLI.main(["evaluate", "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "unexpected error RuntimeError: something broke" in err and "Traceback" not in err
    assert CLI.main(["evaluate", "--model", str(tmp_path), "--verbose", "2"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_expand_images_and_name_collisions(tmp_path):
    import numpy as np

    from awarenet.__main__ import main as cli

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        write_image(tmp_path / sub / "slide.png", np.zeros((8, 8, 3), np.uint8))
    assert expand_images([str(tmp_path / "a"), str(tmp_path / "*" / "*.png")]) == [
        str(tmp_path / "a" / "slide.png"), str(tmp_path / "b" / "slide.png")]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_images([str(tmp_path / "*.tif")])
    with pytest.raises(FileNotFoundError, match="no such image"):
        expand_images([str(tmp_path / "c.png")])
    assert cli(["predict", str(tmp_path / "a" / "slide.png"), str(tmp_path / "b" / "slide.png"), "--model",
                str(tmp_path), "--out", str(tmp_path / "p")]) == 2
    (tmp_path / "file").write_text("x")
    assert cli(["predict", str(tmp_path / "a"), "--model", str(tmp_path), "--out", str(tmp_path / "file")]) == 2
