import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from common import matching


def brute_force(pred, gt, radius):
    """(max number of pairs within radius, least total distance among those) by enumeration."""
    d = cdist(pred, gt) if len(pred) and len(gt) else np.zeros((len(pred), len(gt)))
    best = (0, 0.0)
    n, m = len(pred), len(gt)
    small, large = (n, m) if n <= m else (m, n)
    for perm in itertools.permutations(range(large), small):
        pairs = [(i, perm[i]) if n <= m else (perm[i], i) for i in range(small)]
        ok = [d[a, b] for a, b in pairs if d[a, b] <= radius]
        cand = (len(ok), sum(ok))
        if cand[0] > best[0] or (cand[0] == best[0] and cand[1] < best[1] - 1e-12):
            best = cand
    return best


def naive_min_distance_hungarian(pred, gt, radius):
    d = cdist(pred, gt)
    r, c = linear_sum_assignment(d)
    return int((d[r, c] <= radius).sum())


def counterexample():
    # reference_specs 0.1: A1=(0,0), A2=(5.9,0), B1=(0,0), B2 5.9 from A1 and 6.1 from A2, radius 6.
    x = (5.9 ** 2 - 6.1 ** 2 + 5.9 ** 2) / (2 * 5.9)
    y = math.sqrt(5.9 ** 2 - x ** 2)
    return np.array([[0.0, 0.0], [5.9, 0.0]]), np.array([[0.0, 0.0], [x, y]])


def test_distance_first_hungarian_undercounts_but_ours_does_not():
    pred, gt = counterexample()
    assert naive_min_distance_hungarian(pred, gt, 6) == 1
    r = matching.match_points(pred, gt, 6)
    assert r.tp == 2 and r.fp == 0 and r.fn == 0
    np.testing.assert_array_equal(r.pairs, [[0, 1], [1, 0]])


@pytest.mark.parametrize("solver", ["dense", "sparse"])
@pytest.mark.parametrize("seed", range(40))
def test_hungarian_equals_brute_force_on_small_random_cases(seed, solver, monkeypatch):
    if solver == "sparse":  # force the sparse full-matching path for every component
        monkeypatch.setattr(matching, "_DENSE_LIMIT", 0)
    rng = np.random.default_rng(seed)
    n, m = rng.integers(0, 7), rng.integers(0, 7)
    pred = rng.uniform(0, 15, (n, 2)).round(1)
    gt = rng.uniform(0, 15, (m, 2)).round(1)
    radius = rng.uniform(2, 8)
    r = matching.match_points(pred, gt, radius)
    count, total = brute_force(pred, gt, radius)
    assert r.tp == count
    assert r.distances.sum() == pytest.approx(total, abs=1e-9)
    assert r.tp + r.fp == n and r.tp + r.fn == m
    assert np.all(r.distances <= radius)
    assert len(set(r.pairs[:, 0])) == r.tp and len(set(r.pairs[:, 1])) == r.tp


def test_greedy_pairs_nearest_first_and_can_undercount():
    pred = np.array([[0.0, 0.0], [4.0, 0.0]])
    gt = np.array([[3.0, 0.0], [-2.5, 0.0]])
    g = matching.match_points(pred, gt, 3.0, method="greedy")
    h = matching.match_points(pred, gt, 3.0)
    assert h.tp == 2
    assert g.tp == 2  # nearest pair (4,0)-(3,0) first, then (0,0)-(-2.5,0)
    pred2 = np.array([[0.0, 0.0], [2.0, 0.0]])
    gt2 = np.array([[1.0, 0.0], [-1.5, 0.0]])
    # Greedy takes the tie-broken nearest (0,0)-(1,0) first and strands (2,0); Hungarian finds 2.
    assert matching.match_points(pred2, gt2, 1.6, method="greedy").tp == 1
    assert matching.match_points(pred2, gt2, 1.6).tp == 2


def test_greedy_by_score():
    pred = np.array([[0.0, 0.0], [1.0, 0.0]])
    gt = np.array([[0.9, 0.0]])
    r = matching.match_points(pred, gt, 2.0, method="greedy", scores=[0.9, 0.1])
    np.testing.assert_array_equal(r.pairs, [[0, 0]])


def test_radius_is_inclusive_and_empty_sets():
    r = matching.match_points([[0, 0]], [[3, 4]], 5)
    assert r.tp == 1
    assert matching.match_points([[0, 0]], [[3, 4.001]], 5).tp == 0
    e = matching.match_points(np.zeros((0, 2)), [[1, 1], [2, 2]], 5)
    assert (e.tp, e.fp, e.fn) == (0, 0, 2)
    e = matching.match_points([[1, 1]], [], 5)
    assert (e.tp, e.fp, e.fn) == (0, 1, 0)
    e = matching.match_points([], [], 5)
    assert (e.tp, e.fp, e.fn) == (0, 0, 0)


def test_coincident_points_match():
    r = matching.match_points([[5, 5], [5, 5]], [[5, 5], [5, 5]], 1)
    assert r.tp == 2


def test_scales_to_many_points():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 3000, (100_000, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    r = matching.match_points(pred, gt, 6)
    assert r.tp > 99_000 and r.tp + r.fp == 100_000


def test_detection_scores_micro_and_zero_division():
    preds = [np.array([[0, 0], [10, 10]]), np.zeros((0, 2))]
    gts = [np.array([[1, 0]]), np.array([[5, 5]])]
    s = matching.detection_scores(preds, gts, 3)
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)
    assert s.precision == 0.5 and s.recall == 0.5 and s.f1 == 0.5
    z = matching.detection_scores([np.zeros((0, 2))], [np.zeros((0, 2))], 3)
    assert (z.precision, z.recall, z.f1) == (0.0, 0.0, 0.0)
    single = matching.detection_scores(np.array([[0, 0]]), np.array([[0, 1]]), 3)
    assert single.f1 == 1.0
    assert set(s.as_dict()) == {"Precision", "Recall", "F1", "TP", "FP", "FN"}


def test_classification_scores_against_sklearn():
    from sklearn.metrics import precision_recall_fscore_support

    gts = [np.array([[0, 0], [10, 0], [20, 0], [30, 0], [40, 0]])]
    gt_cls = [np.array([0, 0, 1, 1, -1])]
    preds = [np.array([[0.5, 0], [10, 0.5], [20, 0], [31, 0], [40, 0], [90, 90]])]
    pred_cls = [np.array([0, 1, 1, 1, 0, 0])]
    df = matching.classification_scores(preds, pred_cls, gts, gt_cls, 3, ["a", "b"])
    p, r, f, s = precision_recall_fscore_support([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1], zero_division=0)
    np.testing.assert_allclose(df.loc[["a", "b"], "F1"], f)
    np.testing.assert_array_equal(df.loc[["a", "b"], "Support"], [2, 2])
    assert df.loc["accuracy", "F1"] == pytest.approx(0.75)
    w = precision_recall_fscore_support([0, 0, 1, 1], [0, 1, 1, 1], average="weighted", zero_division=0)
    assert df.loc["weighted", "F1"] == pytest.approx(w[2])


def test_detection_recall_by_class():
    gts = [np.array([[0, 0], [10, 0], [20, 0]])]
    df = matching.detection_recall_by_class([np.array([[0, 0], [20, 1]])], gts, [np.array([0, 0, 1])], 3,
                                            ["common", "rare"])
    assert df.loc["common", "Recall"] == 0.5 and df.loc["rare", "Recall"] == 1.0
    assert df["Support"].tolist() == [2, 1]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: matching.match_points([[0, 0]], [[1, 1]], 0), "radius"),
        (lambda: matching.match_points([[0, np.nan]], [[1, 1]], 2), "pred.*NaN"),
        (lambda: matching.match_points([[0, 0, 0]], [[1, 1]], 2), "pred"),
        (lambda: matching.match_points([[0, 0]], [[1, 1]], 2, method="nearest"), "method"),
        (lambda: matching.match_points([[0, 0]], [[1, 1]], 2, "greedy", scores=[1, 2]), "scores"),
        (lambda: matching.detection_scores([np.zeros((0, 2))], [], 2), "images"),
        (lambda: matching.classification_scores([[[0, 0]]], [[5]], [[[0, 0]]], [[0]], 2, ["a"]), "pred_classes"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
