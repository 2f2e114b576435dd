import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.yolo_transfer.helpers import tiny
from yolo_transfer.train import copy_weights, train, train_stage


def test_two_step_scratch_run_writes_the_run_folder(splits, tmp_path):
    tr, va, _ = splits
    pred = train(tiny("scratch"), tr, va, tmp_path / "run", verbose=0)
    hist = pred.history()
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"]) and pred.model.optimizer.iterations.numpy() == 2
    assert {"seconds", "val_map", "val_ap_0", "val_loss"} <= set(hist[0])
    for f in ("config.json", "data.json", "model.keras", "postprocess.json", "sweep.csv", "history.csv"):
        assert (tmp_path / "run" / f).exists()
    pp = json.loads((tmp_path / "run" / "postprocess.json").read_text())
    assert pp["method"] == "boxes" and 0 <= pp["params"]["boxes"]["threshold"] < 1
    assert pred.model.trainable_modules == ("darknet", "multiscale", "detection")
    det = pred.predict(va[0].image, threshold=0.0)
    assert det.boxes is not None and len(det.boxes) == len(det) and det.class_names == tr.class_names


def test_transfer_runs_the_three_stages_with_the_paper_freezing(splits, tmp_path):
    tr, va, _ = splits
    cfg = tiny("transfer", multiscale_interval=1, stage2_epochs=2)
    pred = train(cfg, tr, va, tmp_path / "t", verbose=0)
    stages = json.loads((tmp_path / "t" / "stages.json").read_text())
    assert set(stages) == {"stage1", "stage2"} and "synthetic:pdl1" in stages["stage1"]["data"]
    from common.inference import load_keras

    s1 = load_keras(tmp_path / "t" / "stage1" / "model.keras", ("YOLOv3",), "yolo_transfer")
    s2 = load_keras(tmp_path / "t" / "stage2" / "model.keras", ("YOLOv3",), "yolo_transfer")
    assert s1.trainable_modules == ("darknet",) and s2.trainable_modules == ("multiscale",)
    assert pred.model.trainable_modules == ("multiscale", "detection")
    assert s1.n_classes == 4 and pred.model.n_classes == 3   # PD-L1 cells (4 classes) -> blood cells (3)
    # stage 2 trained only the neck: its backbone is stage 1's, and stage 3 kept that backbone frozen
    for a, b in zip(s1.get_layer("darknet").get_weights(), s2.get_layer("darknet").get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s2.get_layer("darknet").get_weights(), pred.model.get_layer("darknet").get_weights()):
        np.testing.assert_array_equal(a, b)
    # stage 2 trains on the second source at several input sizes (multi-scale), stage 1 at one
    assert json.loads((tmp_path / "t" / "stage2" / "config.json").read_text())["data"].startswith("synthetic:he")
    assert len(stages["stage2"]["input sizes"]) > 1 and set(stages["stage2"]["input sizes"]) <= set(
        cfg.multiscale_sizes)
    assert stages["stage1"]["input sizes"] == [cfg.input_size]


def test_darknet_weights_replace_the_source_stages(splits, tmp_path):
    from yolo_transfer import build_yolo, save_darknet_weights

    tr, va, _ = splits
    cfg = tiny("transfer")
    src = build_yolo(cfg, n_classes=80)
    path = save_darknet_weights(src, tmp_path / "coco.weights")
    pred = train(cfg.with_overrides(weights=str(path)), tr, va, tmp_path / "w", verbose=0)
    stages = json.loads((tmp_path / "w" / "stages.json").read_text())
    assert stages["weights"]["stages replaced"] == [1, 2] and stages["weights"]["skipped"] == [9, 12]
    assert not (tmp_path / "w" / "stage1").exists()
    for a, b in zip(src.get_layer("darknet").get_weights(), pred.model.get_layer("darknet").get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="Darknet weights"):
        train(cfg.with_overrides(weights=str(tmp_path / "none.weights")), tr, va, tmp_path / "x", verbose=0)


def test_copy_weights_leaves_other_class_counts_output_convs(splits):
    from yolo_transfer import build_yolo

    cfg = tiny()
    a, b = build_yolo(cfg, 4), build_yolo(cfg, 3)
    names = copy_weights(a, b)
    assert "conv_08" in names and "conv_09" not in names and "conv_12" not in names


def test_resume_continues_a_frozen_stage(splits, tmp_path):
    from yolo_transfer import build_yolo

    tr, va, _ = splits
    cfg = tiny()
    m = build_yolo(cfg)
    train_stage(m, cfg, tr, va, tmp_path / "s", ("detection",), 1, verbose=0)
    m2, hist = train_stage(build_yolo(cfg), cfg, tr, va, tmp_path / "s", ("detection",), 2, verbose=0)
    assert len(hist) == 2 and m2.trainable_modules == ("detection",)
    assert m2.optimizer.iterations.numpy() == 4


def test_training_is_bit_identical_from_one_seed(splits, tmp_path):
    from common.testing import run_determinism_check
    from yolo_transfer import build_yolo

    tr, va, _ = splits
    runs = iter(range(2))

    def once():
        from common.training import set_seed

        cfg = tiny()
        set_seed(0)
        model, _ = train_stage(build_yolo(cfg), cfg, tr, va, tmp_path / f"r{next(runs)}", ("darknet", "multiscale",
                                                                                            "detection"), 1, verbose=0)
        return model

    run_determinism_check(once)


def test_point_data_gets_a_clear_error(tmp_path):
    from common.datasets import load

    pts = load("synthetic:mihc", split="train", n_images=2, size=64)
    with pytest.raises(ValueError, match="no boxes"):
        train(tiny(), pts, pts, tmp_path / "p", verbose=0)
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_multiscale_training_writes_no_onednn_error_line(tmp_path):
    # Keras' UpSampling2D tiled, and the tile's int32 gradient made oneDNN log
    # "oneDNN supports DT_INT32 only on platforms with AVX-512" at error level in every YOLO training.
    code = ("from common.logs import quiet_tensorflow; quiet_tensorflow()\n"
            "from common.datasets import load\n"
            "from tests.yolo_transfer.helpers import tiny\n"
            "from yolo_transfer.train import train\n"
            "tr, va = (load('synthetic:blood', split=s, n_images=n, size=64, seed=5)\n"
            "          for s, n in (('train', 4), ('val', 2)))\n"
            f"train(tiny('transfer', multiscale_interval=1), tr, va, {str(tmp_path / 'run')!r}, verbose=0)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "oneDNN" not in res.stderr and "AVX-512" not in res.stderr, res.stderr[-2000:]
