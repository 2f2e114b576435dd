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
from mapde.reproduce import table1

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


def test_table1_rows_and_columns(splits, tmp_path):
    df = table1(config=MapDeConfig.quick(**TINY), out=tmp_path, splits=splits, verbose=0)
    assert list(df.index) == ["Proposed", "MapDe-Peak", "MapDe-feat(L-1)", "Micro-Net-Peak", "SCCNN"]
    for m in ("Precision", "Recall", "F1Score"):
        assert f"{m} (paper)" in df and f"{m} (ours)" in df
        assert df[f"{m} (ours)"].between(0, 1).all()
    assert df.loc["Proposed", "F1Score (paper)"] == pytest.approx(0.7906)
    assert {"F1Score @5px", "F1Score @8px", "threshold", "min_distance"} <= set(df.columns)
    assert pd.isna(df.loc["Proposed", "min_distance"]) and df.loc["MapDe-Peak", "min_distance"] in (3, 5)
    assert set(os.listdir(tmp_path / "models")) == {"mapde", "micronet", "sccnn"}   # MapDe trained once
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
