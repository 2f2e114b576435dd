"""Two-step training runs, the fixed filter surviving training, Table 1 rows and the CLI."""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest

from common.datasets import SampleList, load
from common.io import read_points_csv, write_image
from mapde import MapDeConfig, train_model, train_sccnn
from mapde.__main__ import main as cli
from mapde.reproduce import main, table1

TINY = dict(width=1 / 32, epochs=1, steps_per_epoch=2, batch_size=2, sccnn_epochs=1, sccnn_patches=256,
            sccnn_width=0.25, min_distances=(3, 5), n_thresholds=6)


@pytest.fixture(scope="module")
def splits():
    def part(split, n, size):
        return load("synthetic:he", split=split, n_images=n, size=size, seed=3)
    return part("train", 2, 264), part("val", 1, 252), part("test", 1, 252)


def test_two_step_training_keeps_the_mapping_filter_fixed(splits, tmp_path):
    train, val, _ = splits
    cfg = MapDeConfig.quick(**TINY)
    from mapde.model import build_mapde

    k0 = np.asarray(build_mapde(cfg).get_layer("mapping_filter").kernel)
    model, hist = train_model(cfg, train, val, tmp_path / "run")
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"])
    np.testing.assert_array_equal(np.asarray(model.get_layer("mapping_filter").kernel), k0)
    trained = [np.asarray(w) for w in model.trainable_weights]
    assert trained and model.optimizer.iterations.numpy() == 2
    reloaded = keras.saving.load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_array_equal(np.asarray(reloaded.get_layer("mapping_filter").kernel), k0)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == "mapde"


def test_learning_rate_follows_the_paper_schedule():
    from mapde.train import optimizer

    opt = optimizer(MapDeConfig(), steps=10)
    sched = opt.learning_rate if callable(opt.learning_rate) else opt._learning_rate
    assert float(sched(0)) == pytest.approx(1e-3)
    assert float(sched(25)) == pytest.approx(1e-3 * np.exp(-0.05 * 2), rel=1e-5)
    assert isinstance(opt, keras.optimizers.Adagrad)


def test_micronet_with_auxiliary_losses_and_sccnn_train(splits, tmp_path):
    train, val, _ = splits
    cfg = MapDeConfig.quick(**TINY, aux_weight=0.3).variant("Micro-Net-Peak")
    model, hist = train_model(cfg, train, val, tmp_path / "mn")
    assert model.aux_outputs and np.isfinite(hist[0]["val_loss"])
    sc, h = train_sccnn(MapDeConfig.quick(**TINY), train, val, tmp_path / "sc")
    assert len(h) == 1 and (tmp_path / "sc" / "model.keras").exists()
    with pytest.raises(ValueError, match="train_sccnn"):
        train_model(MapDeConfig.quick(**TINY).variant("SCCNN"), train, val, tmp_path / "x")


@pytest.fixture(scope="module")
def reproduced(splits, tmp_path_factory):
    """A tiny ``reproduce.main`` run: (its ``mapde`` folder, Table 1)."""
    out = tmp_path_factory.mktemp("reproduce")
    result = main(config=MapDeConfig.quick(**TINY), out=out, splits=splits, verbose=0, command="tiny test run")
    return out / "mapde", result["table1"]


def test_table1_rows_and_columns(reproduced, splits):
    folder, df = reproduced
    assert list(df.index) == ["Proposed", "MapDe-Peak", "MapDe-feat(L-1)", "Micro-Net-Peak", "SCCNN"]
    for m in ("Precision", "Recall", "F1Score"):
        assert f"{m} (paper)" in df and f"{m} (ours)" in df
        assert df[f"{m} (ours)"].between(0, 1).all()
    assert df.loc["Proposed", "F1Score (paper)"] == pytest.approx(0.7906)
    assert {"F1Score @5px", "F1Score @8px", "threshold", "min_distance"} <= set(df.columns)
    assert pd.isna(df.loc["Proposed", "min_distance"]) and df.loc["MapDe-Peak", "min_distance"] in (3, 5)
    assert set(os.listdir(folder / "models")) == {"mapde", "micronet", "sccnn"}   # MapDe trained once
    assert "6 px" in df.attrs["meta"]["protocol"]
    with pytest.raises(ValueError, match="unknown Table 1 row"):
        table1(rows=["U-net"], splits=splits)


def test_cli_train_predict_evaluate_on_a_user_folder(tmp_path, capsys):
    from common.synthetic import make_dataset

    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    rows = ["image,x,y"]
    for s in make_dataset("he", 4, 260, seed=5):
        write_image(folder / "images" / f"{s.name}.png", s.image)
        rows += [f"{s.name}.png,{x:.1f},{y:.1f}" for x, y in s.points]
    (folder / "points.csv").write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    assert cli(["train", "--data", str(folder), "--quick", "--epochs", "1", "--width", "0.03125", "--out", str(run),
                "--verbose", "0"]) == 0
    tuned = json.loads((run / "locate.json").read_text())
    assert set(tuned) == {"deconv", "peak", "feat"}
    img = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    write_image(tmp_path / "big.png", img)
    out = tmp_path / "pred"
    assert cli(["predict", str(tmp_path / "big.png"), "--model", str(run), "--out", str(out),
                "--method", "peak"]) == 0
    pts = read_points_csv(out / "big.csv")
    assert (out / "big.geojson").exists() and ((pts["x"] < 420) & (pts["y"] < 300)).all()
    assert cli(["evaluate", "--model", str(run), "--data", str(folder), "--split", "all", "--radius", "6"]) == 0
    assert "6 px: Precision" in capsys.readouterr().out
    assert cli(["predict", str(tmp_path / "big.png"), "--model", str(run), "--out", str(out), "--no-tiling"]) == 2
    assert "tiling is off" in capsys.readouterr().err
    assert cli(["evaluate", "--model", str(tmp_path / "nothing")]) == 2


def test_synthetic_splits_are_annotated_h_and_e():
    from mapde.reproduce import SYNTHETIC_SPLITS, load_splits

    train, val, test = load_splits("synthetic")
    assert isinstance(train, SampleList) and train.class_names[0] == "epithelial"
    assert [len(s) for s in (train, val, test)] == [n for n, _ in SYNTHETIC_SPLITS.values()]
    assert train[0].shape == (320, 320) and test[0].shape == (252, 252)


def test_reproduce_writes_the_table_with_its_provenance(reproduced):
    folder, df = reproduced
    md = (folder / "table1.md").read_text()
    assert "tiny test run" in md and "6 px" in md and "wall time" in md
    saved = pd.read_csv(folder / "table1.csv", index_col=0)
    np.testing.assert_allclose(saved["F1Score (ours)"], df["F1Score (ours)"], atol=1e-3)
    assert {p.name for p in (folder / "sweeps").iterdir()} == {f"{r}.csv" for r in df.index}
    assert not (folder / "tiatoolbox_crchisto.md").exists()   # only for CRCHisto runs


def test_notebook_replots_table1_and_figures(reproduced, notebook):
    folder, _ = reproduced
    notebook("mapde_figures.ipynb", "MAPDE_RESULTS", folder)
    for name in ("table1", "threshold_sweeps", "fig2_pipeline", "fig3_comparison"):
        assert (folder / "figures" / f"{name}.png").stat().st_size > 1000


def test_notebook_says_what_to_run_when_results_are_missing(tmp_path, notebook):
    with pytest.raises(FileNotFoundError, match="mapde reproduce"):
        notebook("mapde_figures.ipynb", "MAPDE_RESULTS", tmp_path, first_cell_only=True)


def test_load_split_matches_load_splits():
    from mapde.reproduce import load_split

    from mapde.reproduce import load_splits

    test = load_split("synthetic", "test", seed=0)
    np.testing.assert_array_equal(test[0].image, load_splits("synthetic", seed=0)[2][0].image)
    with pytest.raises(ValueError, match="split must be one of"):
        load_split("synthetic", "trainval")


def test_reproduce_set_overrides_config_fields(capsys):
    from mapde.__main__ import _parse_overrides

    assert _parse_overrides(["width=0.125", "epochs=100", "min_distances=[3, 5]", "data_note=abc"]) == {
        "width": 0.125, "epochs": 100, "min_distances": [3, 5], "data_note": "abc"}
    assert cli(["reproduce", "--quick", "--set", "widht=0.1"]) == 2
    assert "unknown MapDeConfig field(s) ['widht']" in capsys.readouterr().err
    assert cli(["reproduce", "--quick", "--set", "width"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli(["reproduce", "--quick", "--set", "width=9"]) == 2
    assert "width must be in (0, 4]" in capsys.readouterr().err


def test_crchisto_run_writes_the_tiatoolbox_comparison(crchisto_root, data_root, tmp_path):
    def part(split, n):
        full = load("crchisto", split=split, data_root=data_root)
        return SampleList(list(full)[:n], full.description)

    splits = part("train", 1), part("val", 1), part("test", 1)
    result = main(data="crchisto", config=MapDeConfig.quick(**TINY), out=tmp_path, splits=splits,
                  rows=["MapDe-Peak", "SCCNN"], verbose=0)
    tt = result["tiatoolbox"]
    assert list(tt.index) == ["MapDe-Peak", "SCCNN"]
    assert tt.loc["MapDe-Peak", "F1Score (TIAToolbox)"] == pytest.approx(0.81)
    np.testing.assert_allclose(tt["F1Score (ours)"], result["table1"]["F1Score @8px"])
    assert "8 px" in (tmp_path / "mapde" / "tiatoolbox_crchisto.md").read_text()


def test_deconv_iterations_reproduces_the_proposed_row_at_two(reproduced, splits, tmp_path):
    from mapde.reproduce import deconv_iterations

    folder, df = reproduced
    it = deconv_iterations(folder, (2, 4), splits=splits)
    assert list(it.index) == [2, 4]
    for m in ("Precision", "Recall", "F1Score"):
        assert it.loc[2, m] == pytest.approx(df.loc["Proposed", f"{m} (ours)"], abs=1e-6)
    assert "the paper uses 2 iterations" in (folder / "deconv_iterations.md").read_text()
    with pytest.raises(FileNotFoundError, match="no trained MapDe"):
        deconv_iterations(tmp_path)
    with pytest.raises(ValueError, match="iterations must be"):
        deconv_iterations(folder, (0,), splits=splits)
