import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_figures_drawn
from yolo_transfer import paper
from yolo_transfer.reproduce import detection_table, main, training_time


def _hist(maps, seconds=2.0):
    return [{"epoch": k + 1, "seconds": seconds, "val_map": m} for k, m in enumerate(maps)]


def test_paper_numbers_are_data():
    assert paper.TRAINING_HOURS == {"scratch": 6.8, "transfer": 2.5}
    assert set(paper.PUBLIC_AP) == {"RBC", "WBC", "Platelets", "mAP"}


def test_training_time_rows_and_epochs_to_target():
    runs = {"scratch": {"history": _hist([0.1, 0.3, 0.55, 0.6])},
            "transfer": {"history": _hist([0.4, 0.52, 0.6], 1.0), "source seconds": 30.0}}
    df = training_time(runs, 0.5)
    assert list(df.index) == ["scratch", "transfer"]
    assert df.loc["scratch", "epochs to target (ours)"] == 3 and df.loc["transfer", "epochs to target (ours)"] == 2
    assert df.loc["scratch", "seconds to target (ours)"] == 6.0 and df.loc["transfer", "seconds to target (ours)"] == 2
    assert df.loc["transfer", "time ratio transfer/scratch, target stage only (ours)"] == pytest.approx(1 / 3)
    assert df.loc["transfer", "seconds to target with source stages (ours)"] == 32.0
    assert df.loc["transfer", "time ratio transfer/scratch, source stages counted (ours)"] == pytest.approx(32 / 6)
    assert df.loc["scratch", "hours (paper)"] == 6.8 and df.loc["transfer", "source-stage seconds (ours)"] == 30
    never = training_time({"scratch": {"history": _hist([0.1])}}, 0.5)
    assert np.isnan(never.loc["scratch", "epochs to target (ours)"])


def test_detection_table_rows():
    ap = pd.DataFrame({"AP": [0.8, 0.9, 0.5, 0.7333]}, index=["RBC", "WBC", "Platelets", "mAP"])
    counts = pd.DataFrame({"count MAE": [2.0, 0.0, 1.0], "count (truth)": [10.0, 1.0, 1.0]},
                          index=["RBC", "WBC", "Platelets"])
    df = detection_table({"scratch": {"ap": ap, "counts": counts}, "transfer": {"ap": ap, "counts": counts}})
    assert list(df.index) == ["RBC", "WBC", "Platelets", "mAP"]
    assert df.loc["mAP", "AP@0.5 (public run)"] == 0.906 and df.loc["WBC", "AP@0.5 transfer (ours)"] == 0.9
    assert df.loc["mAP", "count MAE scratch (ours)"] == pytest.approx(1.0)
    synthetic = detection_table({"scratch": {"ap": ap, "counts": counts}}, data="synthetic:blood")
    assert "AP@0.5 (public run)" not in synthetic   # the public BCCD run only beside BCCD results


def test_main_publishes_both_tables(splits, tmp_path, capsys):
    from tests.yolo_transfer.helpers import TINY

    out = main(quick=True, out=tmp_path, overrides=TINY, splits=splits, verbose=0)
    assert list(out["training_time"].index) == ["scratch", "transfer"]
    assert list(out["detection"].index) == ["RBC", "WBC", "Platelets", "mAP"]
    folder = tmp_path / "yolo_transfer"
    for f in ("training_time.md", "training_time.csv", "detection.md", "detection.csv", "curves.csv", "command.txt"):
        assert (folder / f).exists()
    text = (folder / "training_time.md").read_text()
    assert "stand in for the paper's" in text and "synthetic:he" in text
    assert "- **choices**: quick preset: the source order" in text
    tt = out["training_time"]   # the calibrated count threshold of each row and whether it is on an edge
    assert tt["count threshold"].between(0, 1).all() and set(tt["count on edge"]) <= {"-", "lowest", "highest"}
    curves = pd.read_csv(folder / "curves.csv")
    assert set(curves["row"]) == {"scratch", "transfer"} and "val_map" in curves
    assert "epochs to target" in capsys.readouterr().out


def test_notebook_replots_the_figures(splits, tmp_path, notebook):
    from tests.yolo_transfer.helpers import TINY

    main(quick=True, out=tmp_path, overrides=TINY, splits=splits, verbose=0, data="synthetic")
    folder = tmp_path / "yolo_transfer"
    from yolo_transfer.paper import YoloPaper

    original = YoloPaper.load_splits
    YoloPaper.load_splits = lambda self, data, seed=0, data_root=None: splits
    try:
        scope = notebook("yolo_transfer_figures.ipynb", "YOLO_RESULTS", folder)
    finally:
        YoloPaper.load_splits = original
    assert_figures_drawn(scope, ("map_vs_time", "fig2_detections", "counts"), folder)


def test_notebook_says_what_to_run_when_results_are_missing(tmp_path, notebook):
    with pytest.raises(FileNotFoundError, match="yolo_transfer reproduce"):
        notebook("yolo_transfer_figures.ipynb", "YOLO_RESULTS", tmp_path, first_cell_only=True)
