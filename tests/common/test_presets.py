"""Presets (issue 26): found by name, checked by sha256, warm starts that re-initialise only what the
classes size, and the wheel ships the packages' presets."""

import json
import os

import numpy as np
import pytest

from common import contract
from common.presets import export_preset, find, presets, resolve, verify
from tests.conftest import script_module


@pytest.fixture(scope="module")
def sdrdin_preset(tmp_path_factory):
    """A tiny S-DRDIN run on the mIHC synthetic data (6 classes), exported as a preset; returns
    ``(paper, preset, store)``."""
    paper = contract.get("sdrdin")
    root = tmp_path_factory.mktemp("presets")
    cfg = paper.tiny_config()
    tr, va, _ = paper.load_splits(paper.tiny_data, 0)
    paper.train(cfg, tr, va, str(root / "run"), verbose=0)
    preset = export_preset(paper, str(root / "run"), "tiny-sdrdin", str(root / "store"), licence="synthetic")
    return paper, preset, root / "store"


def _folder(root, samples, names, merge=False):
    """A user folder of ``samples`` with the classes called ``names`` (``merge``: the last two as one)."""
    from common.io import write_image, write_points_csv

    os.makedirs(root / "images")
    pts, img, cls = [], [], []
    for k, s in enumerate(samples):
        write_image(root / "images" / f"img{k}.png", s.image)
        c = np.asarray(s.classes)
        if merge:
            c = np.minimum(c, len(names) - 1)
        pts.append(s.points)
        img += [f"img{k}.png"] * len(s.points)
        cls.append(c)
    write_points_csv(root / "points.csv", np.concatenate(pts), image=img, classes=np.concatenate(cls),
                     class_names=names)
    return str(root)


def test_presets_are_found_by_name_and_verified(sdrdin_preset, monkeypatch):
    paper, preset, store = sdrdin_preset
    monkeypatch.setenv("CELLREPRO_PRESETS", str(store))
    assert "tiny-sdrdin" in presets() and find("tiny-sdrdin").folder == preset.folder
    folder, found = resolve("tiny-sdrdin", "sdrdin")
    assert folder == preset.folder and found.name == "tiny-sdrdin"
    with pytest.raises(ValueError, match="preset of sdrdin, not mapde"):
        resolve("tiny-sdrdin", "mapde")
    with pytest.raises(FileNotFoundError, match="did you mean the preset 'tiny-sdrdin'"):
        resolve("tiny-sdrdn", "sdrdin")
    verify(find("tiny-sdrdin"))
    pred = paper.load("tiny-sdrdin")
    assert list(pred.class_names) == find("tiny-sdrdin").manifest["class_names"]
    assert find("tiny-sdrdin").manifest["licence"] == "synthetic"


def test_export_refuses_bad_names_runs_without_calibration_and_existing_presets(sdrdin_preset, tmp_path):
    import shutil

    paper, preset, store = sdrdin_preset
    with pytest.raises(ValueError, match="letters, digits"):
        export_preset(paper, preset.folder, "a b", str(tmp_path))
    with pytest.raises(ValueError, match="--overwrite"):
        export_preset(paper, preset.folder, "tiny-sdrdin", str(store))
    run = tmp_path / "uncalibrated"
    shutil.copytree(preset.folder, run)
    (run / "postprocess.json").unlink()
    with pytest.raises(ValueError, match="no postprocess.json"):
        export_preset(paper, str(run), "x", str(tmp_path))
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


@pytest.mark.parametrize("change", ["renamed", "fewer"])
def test_warm_start_reinitialises_only_the_class_sized_layers(sdrdin_preset, tmp_path, monkeypatch, change):
    """Classes renamed (same number) or merged (one fewer): the layers sized by the classes start afresh,
    every other layer holds the preset's weights before training."""
    import keras

    from common.warmstart import _leaves

    paper, preset, store = sdrdin_preset
    monkeypatch.setenv("CELLREPRO_PRESETS", str(store))
    samples = paper.load_split(paper.tiny_data, "train", 0)
    old = list(samples[0].class_names)
    names = [f"type{k}" for k in range(len(old))] if change == "renamed" else old[:-1]
    folder = _folder(tmp_path / "data", list(samples) + list(paper.load_split(paper.tiny_data, "val", 0)), names,
                     merge=change == "fewer")
    tr, va, _ = paper.load_splits(folder, 0)
    cfg = paper.config_class().load(preset.folder).with_overrides(init_from="tiny-sdrdin", epochs=1)
    seen = {}
    import common.training as training

    real = training.RunKeeper.__init__

    def spy(self, run, *a, **k):   # the model as fit() starts training, after the warm start
        seen.setdefault("report", json.loads((tmp_path / "fine" / "init.json").read_text()))
        real(self, run, *a, **k)

    monkeypatch.setattr(training.RunKeeper, "__init__", spy)
    paper.train(cfg, tr, va, str(tmp_path / "fine"), verbose=0)
    report = seen["report"]
    fresh = {f["layer"] for f in report["layers re-initialised"]}
    assert fresh, "the classification head must start afresh"
    assert report["source classes"] == old and sorted(report["classes"]) == sorted(names)
    why = {f["why"] for f in report["layers re-initialised"]}
    assert all(("differ by name" in w) if change == "renamed" else w.startswith("shapes") for w in why)
    paper.register_models()
    source = _leaves(keras.saving.load_model(os.path.join(preset.folder, "model.keras"), compile=False))
    assert report["layers loaded"] + len(fresh) == len(source)
    probe = _leaves(paper.build(cfg, len(names) + 1))
    sized = {b.name for a, b in zip(probe, _leaves(paper.build(cfg, len(names))))
             if [w.shape for w in a.weights] != [w.shape for w in b.weights]}
    assert len(fresh) == len(sized)


def test_a_run_resumes_only_from_the_same_source(sdrdin_preset, tmp_path, monkeypatch):
    paper, preset, store = sdrdin_preset
    monkeypatch.setenv("CELLREPRO_PRESETS", str(store))
    tr, va, _ = paper.load_splits(paper.tiny_data, 0)
    cfg = paper.config_class().load(preset.folder).with_overrides(init_from="tiny-sdrdin")
    paper.train(cfg, tr, va, str(tmp_path / "fine"), verbose=0)
    with pytest.raises(ValueError, match="init_from"):
        paper.train(cfg.with_overrides(init_from=""), tr, va, str(tmp_path / "fine"), verbose=0)


def _package_presets():
    found = {}
    for name in contract.names():
        root = os.path.join(contract.package_root(contract.get(name)), "presets")
        if os.path.isdir(root):
            found.update({e: os.path.join(root, e) for e in os.listdir(root)
                          if os.path.isfile(os.path.join(root, e, "preset.json"))})
    return found


@pytest.mark.slow
def test_the_wheel_ships_the_presets_and_they_load_outside_the_repository(tmp_path):
    """pip wheel -> every package preset's files are in it; installed into a bare folder, `cellrepro presets
    --verify` run from elsewhere lists and verifies them."""
    import subprocess
    import sys
    import zipfile

    shipped = _package_presets()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), repo], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("cellrepro-*.whl"))
    listed = set(zipfile.ZipFile(wheel).namelist())
    for name, folder in shipped.items():
        for dirpath, _, files in os.walk(folder):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), repo).replace(os.sep, "/")
                assert rel in listed, f"{rel} is not in the wheel"
    assert not any(n.startswith(("tests/", "paper_template/", "results/")) for n in listed)
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "CELLREPRO_PRESETS": ""}
    res = subprocess.run([sys.executable, "-c", "import sys, common; assert 'site' in common.__file__, "
                          "common.__file__; from common.cli import main; sys.exit(main(['presets', '--verify']))"],
                         capture_output=True, text=True, cwd=str(tmp_path), env=env)
    assert res.returncode == 0, res.stderr
    for name in shipped:
        assert name in res.stdout
    assert res.stdout.count("sha256: ok") == len(shipped)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_package_presets()))
def test_each_shipped_preset_scores_its_recorded_test_f1(name, data_root):
    """Every preset the packages ship, loaded by name, scores its test split at the F1 its manifest records
    (the chosen method's row at its first radius): the weights, calibration and recorded table agree."""
    pr = find(name)
    paper = contract.get(pr.paper)
    row = pr.manifest["metrics"]["table"][0]
    metric = "mAP@0.5" if "mAP@0.5" in row else "F1"   # a box detector (YOLO) records its mAP
    assert {metric, "radius"} <= set(row), f"{name}: the manifest's first row has no {metric} / radius"
    data = pr.manifest["training"]["data"]   # the data set's name ("data" describes it: "bccd, split ...")
    if not os.path.isdir(os.path.join(data_root, {"crchisto": "crchistophenotypes"}.get(data, data))):
        pytest.skip(f"real data not available: {data} is missing under {data_root}")
    test = paper.load_split(data, "test", 0, data_root)
    scores = paper.score(paper.load(name), test, [row["radius"]]).reset_index()
    assert scores[metric].iloc[0] == pytest.approx(row[metric], abs=0.005)
    if "TP" in row:
        assert int(scores["TP"].iloc[0]) == pytest.approx(row["TP"], rel=0.01)


def test_make_preset_scores_per_class_from_the_detections_it_scored(sdrdin_preset):
    """results/presets/make_preset.py: the per-class table (AwareNet's goal reports per-class recall) adds up
    to the detection scores, and the chosen method's test detections are predicted once."""
    from common.evaluation import score

    mp = script_module("results/presets/make_preset.py")
    paper, preset, _ = sdrdin_preset
    _, _, test = paper.load_splits(paper.tiny_data, 0)
    pred = mp._Remember(paper.load(preset.folder))
    first = [pred.predict(s.image) for s in test]
    assert all(a is b for a, b in zip(first, [pred.predict(s.image) for s in test]))
    table = mp._per_class(pred, test, 6, None)
    whole = score(first, test, [6]).iloc[0]
    assert list(table.index) == list(first[0].class_names)
    assert (np.concatenate([s.classes for s in test]) >= 0).all()   # every cell classified: the counts add up
    assert table["detected"].sum() == whole["TP"]
    assert table["Support"].sum() == sum(len(s.points) for s in test)
    assert {"detection Recall", "class Precision", "class Recall", "class F1"} <= set(table.columns)
    seen = table["Support"] > 0
    assert seen.any() and np.allclose(table["detection Recall"][seen], (table["detected"] / table["Support"])[seen])
    assert table["detection Recall"][~seen].isna().all()   # a class with no test cell has no recall, not 0


@pytest.mark.parametrize("name, compare", [("sdrdin-crchisto", None), ("mapde-crchisto", "runs/other")])
def test_make_preset_asks_for_the_goal_comparison_exactly_when_the_goal_has_one(name, compare, capsys):
    """make_preset.py: a preset whose goal compares against another run (S-DRDIN against DRDIN) refuses to
    export without it, naming the run it needs; one whose goal has none refuses a --compare."""
    mp = script_module("results/presets/make_preset.py")
    argv = [name, "--run", "runs/does-not-matter"] + (["--compare", compare] if compare else [])
    with pytest.raises(SystemExit) as e:
        mp.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert name in err
    assert ("DRDIN" in err and "needed" in err) if compare is None else "not part of this preset's goal" in err
