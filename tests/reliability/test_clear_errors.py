"""Inputs that used to give silent wrong answers or raw tracebacks now get one clear error."""

import json
import warnings

import numpy as np
import pytest

from common.deconv import richardson_lucy
from common.labels import disk_mask, mapping_filter
from common.postprocess import peak_points, threshold_centroids
from common.tiling import tile_grid


def test_numerical_arguments():
    img = np.random.default_rng(0).random((32, 32))
    with pytest.raises(ValueError, match="positive sum"):
        richardson_lucy(img, np.zeros((5, 5)))
    with pytest.raises(ValueError, match="positive sum"):
        richardson_lucy(img, np.array([[1.0, -1.0]]))
    with pytest.raises(ValueError, match="threshold must be finite"):
        threshold_centroids(img, float("nan"))
    with pytest.raises(ValueError, match="threshold must be finite"):
        peak_points(img, 2, float("nan"))
    with pytest.raises(ValueError, match="larger than the 32x32 image's diagonal"):
        disk_mask(np.array([[3.0, 3.0]]), (32, 32), 1e6)
    assert richardson_lucy(img, mapping_filter()).shape == (32, 32)


def test_a_margin_near_half_the_tile_warns():
    with pytest.warns(UserWarning, match="core of only 12 px"):
        tile_grid((2000, 2000), 252, 120)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tile_grid((2000, 2000), 252, 63)


@pytest.fixture(scope="module")
def awarenet_run(tmp_path_factory, user_folder):
    from tests.conftest import paper_cli

    main = paper_cli("awarenet")

    data, _ = user_folder("mihc", 8, 96)
    run = tmp_path_factory.mktemp("aw_run")
    assert main(["train", "--data", str(data), "--quick", "--epochs", "1", "--set", "input_size=32",
                 "--set", "steps_per_epoch=2", "--out", str(run), "--verbose", "0"]) == 0
    return run


def test_another_papers_run_or_model_file_is_named(awarenet_run, tmp_path, capsys):
    import shutil

    from tests.conftest import paper_cli

    mapde_cli = paper_cli("mapde")

    assert mapde_cli(["evaluate", "--model", str(awarenet_run)]) == 2
    err = capsys.readouterr().err
    assert "for the 'awarenet' package, not 'mapde'" in err and "config.json" in err and "Traceback" not in err
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(awarenet_run / "model.keras", bare / "model.keras")
    assert mapde_cli(["evaluate", "--model", str(bare / "model.keras")]) == 2
    assert "no config.json" in capsys.readouterr().err
    from mapde.config import MapDeConfig

    MapDeConfig().save(bare)    # a mapde config beside another paper's model file
    assert mapde_cli(["evaluate", "--model", str(bare / "model.keras")]) == 2
    assert "holds a AwareNetDetector model, not a mapde model" in capsys.readouterr().err


def test_truncated_model_and_damaged_json_are_named(awarenet_run, tmp_path, capsys):
    import shutil

    from tests.conftest import paper_cli

    main = paper_cli("awarenet")

    run = tmp_path / "run"
    shutil.copytree(awarenet_run, run)
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    assert main(["evaluate", "--model", str(run)]) == 2
    err = capsys.readouterr().err
    assert "model.keras is not a readable .keras file" in err and "Traceback" not in err
    shutil.copy(awarenet_run / "model.keras", run / "model.keras")
    (run / "postprocess.json").write_text("")
    assert main(["evaluate", "--model", str(run)]) == 2
    assert "postprocess.json is damaged" in capsys.readouterr().err
    (run / "postprocess.json").write_text(json.dumps({"method": "threshold", "params": {}}))
    assert main(["predict", str(tmp_path), "--model", str(run), "--out", str(tmp_path / "p")]) == 2


def test_bad_out_folders_fail_before_any_work(awarenet_run, tmp_path, capsys, monkeypatch):
    import os

    from tests.conftest import paper_cli

    main = paper_cli("awarenet")
    from common.io import write_image

    write_image(tmp_path / "x.png", np.zeros((40, 40, 3), np.uint8))
    (tmp_path / "file").write_text("")
    assert main(["predict", str(tmp_path / "x.png"), "--model", str(awarenet_run), "--out",
                 str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    # root ignores permission bits, so the read-only folder is simulated
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(ro) else real(p, mode))
    assert main(["predict", str(tmp_path / "x.png"), "--model", str(awarenet_run), "--out", str(ro)]) == 2
    assert "not writable" in capsys.readouterr().err


def test_epochs_zero_fails_before_anything_is_written(tmp_path, capsys):
    from tests.conftest import paper_cli

    main = paper_cli("awarenet")

    assert main(["train", "--quick", "--epochs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "epochs must be a positive whole number" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
