"""Calibration (quantile grid, refinement, edge warnings, flat maps) and scoring."""

import time
import warnings

import numpy as np
import pytest

from common.datasets import Sample
from common.evaluation import EdgeOfSearchWarning, calibrate, score, threshold_candidates
from common.inference import Detections
from common.labels import disk_mask
from common.postprocess import peak_points, threshold_centroids


def _samples(rng, n=3, size=96, cells=12):
    out = []
    for k in range(n):
        pts = rng.uniform(8, size - 8, (cells, 2))
        out.append(Sample(np.zeros((size, size, 3), np.uint8), pts, rng.integers(0, 2, cells), ("a", "b"),
                          name=f"s{k}"))
    return out


def _graded_maps(samples, rng):
    """Cells with heights spread over (0.6, 1.0) plus background blobs up to 0.5."""
    maps = []
    for s in samples:
        m = np.zeros(s.shape, np.float32)
        for p in s.points:
            m[disk_mask(p[None], s.shape, 3)] = rng.uniform(0.6, 1.0)
        fake = rng.uniform(8, s.shape[0] - 8, (6, 2))
        for p in fake:
            m[disk_mask(p[None], s.shape, 3)] = np.maximum(m[disk_mask(p[None], s.shape, 3)], rng.uniform(0.1, 0.5))
        maps.append(m)
    return maps


def locate(m, threshold):
    return threshold_centroids(m, threshold)


def test_calibrate_finds_the_separating_threshold_and_refines(rng):
    samples = _samples(rng)
    maps = _graded_maps(samples, rng)
    params, sweep = calibrate(maps, samples, locate, radius=3, n_thresholds=10)
    assert params["F1"] > 0.9 and params["F1"] == sweep["F1"].max() and 0.3 < params["threshold"] < 0.6
    assert set(sweep["stage"]) == {"grid", "refine"} and params["edge"] == []
    assert {"threshold", "stage", "Precision", "Recall", "F1", "TP", "FP", "FN"} <= set(sweep.columns)


def test_candidates_come_from_the_maps_not_a_fixed_grid(rng):
    """A fixed grid capped at 0.98 could not reach a map whose cells all peak above it."""
    samples = _samples(rng)
    maps = [0.99 + 0.01 * m for m in _graded_maps(samples, rng)]   # everything in [0.99, 1.0]
    cands = threshold_candidates(maps, 12, 0, 1)
    assert cands.max() > 0.99
    params, _ = calibrate(maps, samples, locate, radius=3, n_thresholds=12, low=0, high=1)
    assert params["threshold"] > 0.98 and params["F1"] > 0.9


def test_an_optimum_on_the_edge_of_the_grid_warns(rng):
    samples = _samples(rng)
    maps = _graded_maps(samples, rng)

    def peaks(m, threshold, min_distance):
        return peak_points(m, min_distance, threshold)

    with pytest.warns(EdgeOfSearchWarning, match="min_distance"):
        params, _ = calibrate(maps, samples, peaks, radius=3, grid={"min_distance": [20, 30]}, n_thresholds=6)
    assert "min_distance" in params["edge"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", EdgeOfSearchWarning)   # 1 px is a natural limit, not an edge
        calibrate(maps, samples, peaks, radius=3, grid={"min_distance": [1, 2, 3, 4, 6, 8]}, n_thresholds=6,
                  limits={"min_distance": (1, None)})


def test_flat_maps_fail_fast(rng):
    samples = _samples(rng, n=1, size=1200)
    t0 = time.time()
    with pytest.raises(ValueError, match="no variance"):
        calibrate([np.zeros((1200, 1200), np.float32)], samples, locate, radius=3)
    two = np.zeros((1200, 1200), np.float32)
    two[:, 600:] = 1.0   # two plateaus: every pixel a local maximum
    cands = threshold_candidates([two], 8)
    assert time.time() - t0 < 1.0 and len(cands) >= 1
    with pytest.raises(ValueError, match="NaN"):
        threshold_candidates([np.full((4, 4), np.nan)], 4)


def test_score_gives_the_shared_vocabulary_with_and_without_classes(rng):
    samples = _samples(rng, n=2)
    dets = [Detections(s.points + 1.0, s.classes, np.ones(len(s.points)), class_names=s.class_names) for s in samples]
    df = score(dets, samples, [0.5, 3])
    assert list(df.columns) == ["Precision", "Recall", "F1", "TP", "FP", "FN", "Class Precision", "Class Recall",
                                "Class F1"]
    assert df.loc[0.5, "TP"] == 0 and df.loc[3.0, "F1"] == 1.0 and df.loc[3.0, "Class F1"] == 1.0
    plain = score([s.points for s in samples], samples, 3)
    assert list(plain.columns) == ["Precision", "Recall", "F1", "TP", "FP", "FN"]
    with pytest.raises(ValueError, match="radii"):
        score(dets, samples, [0])
    with pytest.raises(ValueError, match="detections for"):
        score(dets[:1], samples, 3)


def test_calibrate_takes_explicit_thresholds():
    from common.evaluation import calibrate
    from common.postprocess import threshold_centroids

    class S:
        points = np.array([[10.0, 10.0]])

    m = np.zeros((20, 20), np.float32)
    m[9:12, 9:12] = 0.3
    params, sweep = calibrate([m], [S()], lambda lm, threshold: threshold_centroids(lm, threshold), 3.0,
                              thresholds=[0.9, 0.1, 0.5], refine=0)
    grid = sweep[sweep["stage"] == "grid"]
    assert sorted(grid["threshold"]) == [0.1, 0.5, 0.9] and params["threshold"] == 0.1 and params["F1"] == 1.0
    # the best lay on the grid's low edge while the map reaches lower: the search went on toward the map's
    # minimum, so the answer is not on an edge of what was searched
    ext = sweep[sweep["stage"] == "extend"]["threshold"]
    assert len(ext) and ext.max() < 0.1 and ext.min() == 0.0 and params["edge"] == []


def test_a_grid_that_caps_the_answer_is_extended_to_the_maps_range():
    from common.evaluation import calibrate
    from common.postprocess import threshold_centroids

    class S:
        points = np.array([[10.0, 10.0]])

    m = np.zeros((20, 20), np.float32)
    m[9:12, 9:12] = 0.995
    m[2, 2] = 0.992          # a weaker blob that only a threshold above 0.992 leaves out
    params, sweep = calibrate([m], [S()], lambda lm, threshold: threshold_centroids(lm, threshold), 3.0,
                              thresholds=np.geomspace(1e-4, 0.99, 12), refine=0)
    assert params["threshold"] > 0.992 and params["F1"] == 1.0 and params["edge"] == []
    assert (sweep["stage"] == "extend").any()
    with pytest.warns(Warning, match="edge of the values searched"):
        p2, _ = calibrate([m], [S()], lambda lm, threshold: threshold_centroids(lm, threshold), 3.0,
                          thresholds=np.geomspace(1e-4, 0.99, 12), refine=0, extend=0)
    assert p2["edge"] == ["threshold"] and p2["F1"] < 1.0
    with pytest.raises(ValueError, match="at least 2 finite"):
        calibrate([m], [S()], lambda lm, threshold: threshold_centroids(lm, threshold), 3.0, thresholds=[0.5])


def test_calibrating_on_too_few_cells_warns_and_says_so(tmp_path):
    import pandas as pd

    from common.evaluation import Calibration, calibrate_run

    class Pred:
        postprocess = {}

        def calibrate(self, val, maps=None):
            return Calibration("peak", {"peak": {"threshold": 0.5, "F1": 1.0}}, pd.DataFrame({"threshold": [0.5]}),
                               "detection F1")

    one = [Sample(np.zeros((32, 32, 3), np.uint8), np.array([[4.0, 5.0]] * 5), np.zeros(5, np.int64), ("cell",))]
    with pytest.warns(UserWarning, match=r"1 validation image\(s\) holding 5 cell\(s\): too few .* splits/val.txt"):
        pred = calibrate_run(Pred(), one, tmp_path)
    assert pred.postprocess["source"] == "validation split (1 images, 5 cells), best detection F1; too few to trust"
