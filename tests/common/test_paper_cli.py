"""The one command line: shared flags on every verb, quiet logs, one-line errors, image expansion.

Each paper's train -> predict -> evaluate sequence and its bad inputs are the contract tests'
(``tests/contract/test_cli.py``)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from common import contract
from common.cli import main as cellrepro
from common.io import write_image
from common.paper_cli import PaperCLI, expand_images
from tests.conftest import paper_cli

SHARED = {"reproduce": ["--data", "--data-root", "--out", "--quick", "--epochs", "--seed", "--set", "--radius",
                        "--verbose", "--rows", "--resume"],
          "train": ["--data", "--data-root", "--out", "--row", "--quick", "--epochs", "--seed", "--set", "--radius",
                    "--verbose", "--restart"],
          "predict": ["--model", "--out", "--threshold", "--overlay", "--overwrite", "--verbose"],
          "evaluate": ["--model", "--data", "--data-root", "--out", "--split", "--radius", "--threshold",
                       "--verbose"]}


@pytest.mark.parametrize("paper", contract.names())
def test_the_same_flags_everywhere(paper, capsys):
    for verb, flags in SHARED.items():
        with pytest.raises(SystemExit):
            cellrepro([paper, verb, "--help"])
        text = capsys.readouterr().out
        for f in flags:
            assert f in text, (paper, verb, f)
    with pytest.raises(SystemExit):
        cellrepro([paper, "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: synthetic)" in text and f"(default: {contract.get(paper).default_row})" in text
    with pytest.raises(SystemExit):
        cellrepro([paper, "predict", "--help"])
    assert "--seed" not in capsys.readouterr().out    # predict draws nothing at random


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("code", ["import mapde; mapde.MapDe", "import mapde; mapde.load('mapde-crchisto')"])
def test_the_python_api_is_quiet_too(code):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CELLREPRO_TF_LOGS")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "oneDNN" not in res.stderr and "absl::InitializeLog" not in res.stderr and "cuInit" not in res.stderr
    assert "cuda drivers" not in res.stderr, res.stderr


def test_unexpected_errors_are_one_line_with_the_traceback_at_verbose_2(tmp_path, capsys, monkeypatch):
    paper = contract.get("awarenet")

    def boom(*a, **k):
        raise RuntimeError("something broke")

    monkeypatch.setattr(PaperCLI, "_check_model", boom)
    cli = PaperCLI(paper)
    assert cli.main(["evaluate", "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "unexpected error RuntimeError: something broke" in err and "Traceback" not in err
    assert cli.main(["evaluate", "--model", str(tmp_path), "--verbose", "2"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_expand_images_and_name_collisions(tmp_path):
    cli = paper_cli("awarenet")
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
    assert not (tmp_path / "p").exists()


def test_overlay_draws_a_legend_truth_and_downsamples():
    from common.inference import Detections
    from common.paper_cli import OVERLAY_MAX_SIDE, overlay

    img = np.full((300, 400, 3), 120, np.uint8)
    det = Detections([[50.0, 60.0], [200.0, 100.0]], [0, 1], [0.9, 0.4], class_names=("tumour", "immune"))
    out = overlay(img, det, truth=[[300.0, 250.0]])
    assert out.shape[1] == 400 + 230 and out.shape[0] >= 300
    assert (out[250, 300] == 255).all()                            # the truth cross, in white
    assert tuple(out[60, 50 + 4]) != (120, 120, 120)               # a detection's circle
    legend = out[:, 400:]
    assert (legend == 255).mean() > 0.8 and (legend < 128).any()   # white panel with text
    big = np.full((5000, 3000, 3), 120, np.uint8)
    out = overlay(big, Detections([[2500.0, 4000.0]], None, [0.5]))
    assert max(out.shape[0], out.shape[1] - 230) == OVERLAY_MAX_SIDE


def test_read_truth_matches_images_by_name_or_stem(tmp_path):
    from common.paper_cli import read_truth

    (tmp_path / "t.csv").write_text("image,x,y\na.png,1,2\na.png,3,4\nb,5,6\nzzz.png,7,8\n")
    got = read_truth(str(tmp_path / "t.csv"), {"a": "x/a.png", "b": "x/b.tif"})
    assert sorted(got) == ["a", "b"] and got["a"].tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="names none of the 1 image"):
        read_truth(str(tmp_path / "t.csv"), {"c": "c.png"})
    with pytest.raises(FileNotFoundError, match="--truth .*missing: no such file"):
        read_truth(str(tmp_path / "missing"), {"a": "a.png"})
