"""The command-line contract of every paper: train -> predict -> evaluate through ``cellrepro <paper>``
with the paper's tiny config, the same files everywhere, and the shared bad inputs refused in one line
before TensorFlow is imported or any folder is made."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from common.cli import main as cellrepro
from tests.contract.conftest import PAPERS, listing, set_args

pytestmark = pytest.mark.contract

RUN_FILES = {"config.json", "data.json", "model.keras", "postprocess.json", "sweep.csv", "history.csv", "state.json"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``trained(paper)``: a tiny run folder trained through the command line (cached per paper)."""
    runs = {}

    def get(paper):
        if paper.name not in runs:
            run = tmp_path_factory.mktemp(f"run_{paper.name}") / "run"
            argv = [paper.name, "train", "--data", paper.tiny_data, "--quick", *set_args(paper.tiny), "--out",
                    str(run), "--verbose", "0"]
            assert cellrepro(argv) == 0, argv
            runs[paper.name] = run
        return runs[paper.name]

    return get


def test_train_writes_the_shared_run_folder(paper, trained):
    run = trained(paper)
    assert RUN_FILES <= set(os.listdir(run))
    pp = json.loads((run / "postprocess.json").read_text())
    assert pp["method"] in pp["params"] and "threshold" in pp["params"][pp["method"]]
    assert pp["source"].startswith("validation split (")
    sweep = pd.read_csv(run / "sweep.csv")
    assert {"method", "threshold"} <= set(sweep.columns)
    config = json.loads((run / "config.json").read_text())
    assert config["paper"] == paper.name and config["variant_name"] == paper.default_row
    data = json.loads((run / "data.json").read_text())
    assert data["class_names"] and data["train_images"] >= 1
    assert len(data["train_names"]) == data["train_images"] and len(data["val_names"]) == data["val_images"]
    assert not set(data["train_names"]) & set(data["val_names"])
    assert data["val_megapixels"] > 0 and data["val_cells"] >= 0


def test_predict_writes_cells_geojson_counts_and_overlays(paper, trained, tmp_path, capsys):
    run = trained(paper)
    samples = paper.load_split(paper.tiny_data, "test", 0)
    from common.io import write_image

    images = tmp_path / "images"
    images.mkdir()
    for k, s in enumerate(samples[:2]):
        write_image(images / f"img{k}.png", s.image)
    write_image(images / "counts.png", samples[0].image)   # an image named as a per-call file
    from common.io import write_points_csv

    write_points_csv(tmp_path / "truth.csv", samples[0].points, image="img0.png")
    out = tmp_path / "pred"
    assert cellrepro([paper.name, "predict", str(images), "--model", str(run), "--out", str(out), "--overlay",
                      "--truth", str(tmp_path / "truth.csv"), "--verbose", "0"]) == 0
    for stem in ("img0", "img1", "counts"):
        cells = pd.read_csv(out / f"{stem}_cells.csv")
        assert list(cells.columns[:3]) == ["image", "x", "y"] and "score" in cells.columns
        gj = json.loads((out / f"{stem}.geojson").read_text())
        assert len(gj["features"]) == len(cells)
        assert (out / f"{stem}_overlay.jpg").is_file()
    counts = pd.read_csv(out / "counts.csv")
    assert sorted(counts["image"]) == ["counts.png", "img0.png", "img1.png"]
    assert list(pd.read_csv(out / "counts_cells.csv")["image"].unique()) in ([], ["counts.png"])
    # never overwrite without being asked
    assert cellrepro([paper.name, "predict", str(images), "--model", str(run), "--out", str(out)]) == 2
    assert "already exist" in capsys.readouterr().err


def test_evaluate_scores_splits_at_radii(paper, trained, tmp_path, capsys):
    run = trained(paper)
    ev = tmp_path / "eval"
    assert cellrepro([paper.name, "evaluate", "--model", str(run), "--data", paper.tiny_data, "--split", "val",
                      "test", "--radius", "6", "10", "--out", str(ev), "--verbose", "0"]) == 0
    m = pd.read_csv(ev / "metrics.csv")
    assert list(m.columns[:3]) == ["split", "images", "radius"]
    assert {"Precision", "Recall", "F1", "TP", "FP", "FN"} <= set(m.columns)
    assert list(zip(m["split"], m["radius"])) == [("val", 6.0), ("val", 10.0), ("test", 6.0), ("test", 10.0)]
    out = capsys.readouterr().out
    assert "| split |" in out
    assert "within 6, 10 px" in out and f"default radius is {paper.match_radius:g} px" in out


def test_the_python_api_loads_the_same_run(paper, trained):
    import importlib

    run = trained(paper)
    pred = importlib.import_module(paper.name).load(run)
    s = paper.load_split(paper.tiny_data, "test", 0)[0]
    det = pred.predict(s.image)
    assert len(det.points) == len(det.scores)
    with pytest.raises(ValueError, match="not"):
        pred.predict(s.image, method="no-such-method")
    with pytest.raises(TypeError):
        paper.load(run, no_such_option=1)


def test_cli_and_python_m_are_the_same_parser(paper):
    a = subprocess.run([sys.executable, "-m", paper.name, "train", "--help"], capture_output=True, text=True)
    register = "from paper_template.paper import PAPER; from common import contract; contract.register(PAPER); "
    b = subprocess.run([sys.executable, "-c", register + "import sys; from common.cli import main; "
                        f"sys.exit(main(['{paper.name}', 'train', '--help']))"], capture_output=True, text=True)
    assert a.returncode == b.returncode == 0
    assert a.stdout.replace(f"python -m {paper.name}", "P") == b.stdout.replace(f"cellrepro {paper.name}", "P")


BAD = {
    "unknown data": ["train", "--data", "no-such-data", "--out", "{out}"],
    "data a file": ["train", "--data", "{file}", "--out", "{out}"],
    "unknown field": ["train", "--set", "no_such_field=1", "--out", "{out}"],
    "data as override": ["train", "--set", "data=crchisto", "--out", "{out}"],
    "out a file": ["train", "--out", "{file}"],
    "bad synthetic option": ["train", "--data", "synthetic:images=0", "--out", "{out}"],
    "missing model": ["predict", "{file}", "--model", "{missing}", "--out", "{out}"],
    "no such image": ["predict", "{missing}", "--model", "{missing}", "--out", "{out}"],
    "evaluate missing model": ["evaluate", "--model", "{missing}", "--out", "{out}"],
    "another paper's run": ["evaluate", "--model", "{other_run}", "--out", "{out}"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_before_tensorflow_and_makes_no_folder(case, tmp_path):
    """Every paper at once, in one subprocess per case: exit 2, one line, TensorFlow never imported."""
    file = tmp_path / "file.txt"
    file.write_text("x")
    other = tmp_path / "other_run"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"paper": "some_other_paper"}))
    code = (
        "import sys, json\n"
        "from common.cli import main\n"
        "from paper_template.paper import PAPER\n"
        "from common import contract\n"
        "contract.register(PAPER)\n"
        "res = {}\n"
        "for p in json.loads(sys.argv[1]):\n"
        "    res[p] = main([p, *json.loads(sys.argv[2])])\n"
        "print(json.dumps(res))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n")
    fill = {"out": str(tmp_path / "out"), "file": str(file), "missing": str(tmp_path / "missing"),
            "other_run": str(other)}
    argv = [a.format(**fill) for a in BAD[case]]
    res = subprocess.run([sys.executable, "-c", code, json.dumps(PAPERS), json.dumps(argv)], capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert res.returncode == 0, res.stderr
    codes = json.loads(res.stdout.strip().splitlines()[-1])
    assert codes == {p: 2 for p in PAPERS}, (codes, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == len(PAPERS), res.stderr
    assert all(": error: " in ln for ln in lines), res.stderr
    assert listing(tmp_path / "out") == [] and not (tmp_path / "out").exists()


def test_nan_and_missing_thresholds_are_refused(paper, trained, tmp_path):
    """A NaN threshold (given, or in postprocess.json) and a run never calibrated are errors, not 0 cells."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained(paper), run)
    image = paper.load_split(paper.tiny_data, "test", 0)[0].image
    pred = paper.load(run)
    with pytest.raises(ValueError, match="finite"):
        pred.predict(image, threshold=float("nan"))
    pp = json.loads((run / "postprocess.json").read_text())
    pp["params"][pp["method"]]["threshold"] = float("nan")
    (run / "postprocess.json").write_text(json.dumps(pp))
    with pytest.raises(ValueError, match="postprocess.json.*not a finite number"):
        paper.load(run).predict(image)
    pp["params"][pp["method"]]["threshold"] = "0.5"
    (run / "postprocess.json").write_text(json.dumps(pp))
    with pytest.raises(ValueError, match="postprocess.json.*not a finite number"):
        paper.load(run).predict(image)
    (run / "postprocess.json").unlink()
    with pytest.raises(ValueError, match="no tuned parameters"):
        paper.load(run).predict(image)


# ---------------------------------------------------------------------- presets (issue 26)
def test_export_preset_loads_by_name_and_predicts_as_the_run(paper, trained, tmp_path, monkeypatch, capsys):
    """export-preset -> `cellrepro presets` lists it -> predict --model NAME gives the run's cells; a
    damaged file is refused by its sha256, a preset of another paper is named."""
    import shutil

    from common.io import write_image

    run = trained(paper)
    store = tmp_path / "presets"
    monkeypatch.setenv("CELLREPRO_PRESETS", str(store))
    assert cellrepro([paper.name, "export-preset", str(run), "tiny-" + paper.name, "--licence", "test data",
                      "--verbose", "0"]) == 0
    manifest = json.loads((store / f"tiny-{paper.name}" / "preset.json").read_text())
    assert manifest["paper"] == paper.name and manifest["licence"] == "test data"
    assert set(manifest["sha256"]) == set(manifest["bytes"]) and "model.keras" in manifest["sha256"]
    assert cellrepro(["presets", "--verify"]) == 0
    assert f"tiny-{paper.name}" in capsys.readouterr().out
    image = tmp_path / "img.png"
    write_image(image, paper.load_split(paper.tiny_data, "test", 0)[0].image)
    outs = {}
    for model in (str(run), f"tiny-{paper.name}"):
        out = tmp_path / ("by_name" if model.startswith("tiny") else "by_run")
        assert cellrepro([paper.name, "predict", str(image), "--model", model, "--out", str(out),
                          "--verbose", "0"]) == 0
        outs[model] = pd.read_csv(out / "img_cells.csv")
    pd.testing.assert_frame_equal(*outs.values())
    assert cellrepro([paper.name, "export-preset", str(run), "tiny-" + paper.name, "--verbose", "0"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # one byte changed: refused, naming the file and the sha256
    damaged = tmp_path / "damaged"
    shutil.copytree(store / f"tiny-{paper.name}", damaged / "bad-preset")
    m = json.loads((damaged / "bad-preset" / "preset.json").read_text())
    m["name"] = "bad-preset"
    (damaged / "bad-preset" / "preset.json").write_text(json.dumps(m))
    blob = bytearray((damaged / "bad-preset" / "model.keras").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (damaged / "bad-preset" / "model.keras").write_bytes(bytes(blob))
    monkeypatch.setenv("CELLREPRO_PRESETS", os.pathsep.join([str(store), str(damaged)]))
    assert cellrepro([paper.name, "predict", str(image), "--model", "bad-preset", "--out", str(tmp_path / "x"),
                      "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    assert "sha256" in err and "model.keras" in err and not (tmp_path / "x").exists()
    other = next(p for p in PAPERS if p != paper.name)
    assert cellrepro([other, "predict", str(image), "--model", f"tiny-{paper.name}", "--out", str(tmp_path / "y"),
                      "--verbose", "0"]) == 2
    assert f"preset of {paper.name}" in capsys.readouterr().err


def test_train_from_a_preset_loads_its_weights(paper, trained, tmp_path, monkeypatch, capsys):
    """train --from NAME trains the preset's row from its weights (init.json says what was loaded),
    refuses --row of another row, and records init_from so a resume cannot mix sources."""
    run = trained(paper)
    store = tmp_path / "presets"
    monkeypatch.setenv("CELLREPRO_PRESETS", str(store))
    assert cellrepro([paper.name, "export-preset", str(run), "p", "--verbose", "0"]) == 0
    out = tmp_path / "fine"
    assert cellrepro([paper.name, "train", "--from", "p", "--data", paper.tiny_data, "--epochs", "1",
                      "--out", str(out), "--verbose", "1"]) == 0
    said = capsys.readouterr().out
    assert "started from preset p" in said
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["init_from"] == "p" and cfg["variant_name"] == json.loads((run / "config.json").read_text())[
        "variant_name"]
    reports = [json.loads(p.read_text()) for p in sorted(out.rglob("init.json"))]
    assert reports and all(r["layers loaded"] > 0 for r in reports)
    assert all(r["layers re-initialised"] == [] for r in reports)   # same classes: everything loads
    other_rows = [r for r in paper.rows if r != cfg["variant_name"] and r != paper.default_row]
    if other_rows:
        assert cellrepro([paper.name, "train", "--from", "p", "--row", other_rows[0], "--out",
                          str(tmp_path / "r"), "--verbose", "0"]) == 2
        assert "leave --row out" in capsys.readouterr().err
    assert cellrepro([paper.name, "train", "--from", "no-such-preset", "--out", str(tmp_path / "n"),
                      "--verbose", "0"]) == 2
    assert "no run folder, model file or preset" in capsys.readouterr().err


def test_the_papers_notebook_takes_a_run_folder(paper, trained, notebook):
    import re
    from pathlib import Path

    from tests.conftest import assert_figures_drawn

    path = Path(__file__).resolve().parents[2] / "notebooks" / f"{paper.name}_figures.ipynb"
    if not path.exists():
        pytest.skip(f"{paper.name} has no figures notebook")
    env = re.search(r'os\.environ\.get\(\\"([A-Z_]+)\\"', path.read_text()).group(1)
    run = trained(paper)
    scope = notebook(path.name, env, run)
    assert scope["SOURCE"].kind == "run" and not scope["SOURCE"].tables
    assert_figures_drawn(scope, ("detections",), run)
