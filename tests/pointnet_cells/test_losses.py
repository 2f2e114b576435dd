import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_cells.losses import PointLoss, gce, host_match, match_batch, match_image, matching_cost, pad_annotations


def _random_case(rng, m, n, c=3):
    pts = rng.uniform(0, 64, (m, 2))
    p_obj = rng.uniform(0, 1, m)
    p_cls = rng.dirichlet(np.ones(c), m)
    gt = rng.uniform(0, 64, (n, 2))
    gc = rng.integers(-1, c, n)
    return pts, p_obj, p_cls, gt, gc


def test_cost_terms_are_eq_2():
    pts = np.array([[0.0, 0.0], [10.0, 0.0]])
    p_obj = np.array([0.2, 0.9])
    p_cls = np.array([[0.7, 0.3], [0.1, 0.9]])
    cost = matching_cost(pts, p_obj, p_cls, np.array([[3.0, 4.0], [10.0, 0.0]]), np.array([0, -1]), alpha=0.05)
    # alpha * distance - p_obj - p_cls(class of the cell); an unclassified cell has no class term
    np.testing.assert_allclose(cost, [[0.05 * 5 - 0.2 - 0.7, 0.05 * 10 - 0.2],
                                      [0.05 * np.hypot(7, 4) - 0.9 - 0.1, 0.0 - 0.9]])


@pytest.mark.parametrize("seed", range(6))
def test_matcher_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(3, 7)), int(rng.integers(1, 4))
    pts, p_obj, p_cls, gt, gc = _random_case(rng, m, n)
    delta = match_image(pts, p_obj, p_cls, gt, gc, alpha=0.05)
    cost = matching_cost(pts, p_obj, p_cls, gt, gc, 0.05)
    best = min(sum(cost[i, j] for j, i in enumerate(perm)) for perm in itertools.permutations(range(m), n))
    assert len(set(delta)) == n and sum(cost[i, j] for j, i in enumerate(delta)) == pytest.approx(best)


def test_more_cells_than_proposals_is_a_clear_error():
    rng = np.random.default_rng(0)
    pts, p_obj, p_cls, gt, gc = _random_case(rng, 2, 3)
    with pytest.raises(ValueError, match="3 annotated cells but the network makes only 2 proposals"):
        match_image(pts, p_obj, p_cls, gt, gc)
    assert len(match_image(pts, p_obj, p_cls, gt[:0], gc[:0])) == 0


def _raw(rng, b, m, c=3):
    raw = rng.normal(size=(b, m, 4 + c)).astype("float32")
    raw[..., :2] = rng.uniform(0, 64, (b, m, 2))
    return raw


def test_match_batch_targets_and_unknown_classes():
    rng = np.random.default_rng(3)
    raw = _raw(rng, 2, 10)
    ann = pad_annotations([np.array([[5.0, 5.0], [30.0, 40.0]]), np.zeros((0, 2))], [np.array([1, -1]), []])
    t = match_batch(raw, ann, 3, "independent")
    assert t.shape == (2, 10, 4) and t[0, :, 0].sum() == 2 and t[1, :, 0].sum() == 0
    pos = t[0, :, 0] > 0
    assert sorted(t[0, pos, 3].tolist()) == [-1.0, 1.0] and np.all(t[0, ~pos, 3] == -1)
    assert {tuple(p) for p in t[0, pos, 1:3]} == {(5.0, 5.0), (30.0, 40.0)}
    bad = pad_annotations([np.array([[5.0, 5.0]])], [np.array([3])])
    with pytest.raises(ValueError, match="classes must lie in"):
        match_batch(raw[:1], bad, 3, "independent")


def test_host_match_inside_a_compiled_function_equals_eager():
    rng = np.random.default_rng(4)
    raw = _raw(rng, 2, 10)
    ann = pad_annotations([rng.uniform(0, 64, (3, 2)), rng.uniform(0, 64, (1, 2))], [[0, 1, 2], [2]])
    eager = np.asarray(host_match(raw, ann, 3, "independent"))
    graph = tf.function(lambda r, a: host_match(r, a, 3, "independent"), jit_compile=False)(raw, ann).numpy()
    np.testing.assert_array_equal(eager, graph)
    np.testing.assert_array_equal(eager, match_batch(raw, ann, 3, "independent"))


def test_gce_limits():
    p = keras.ops.convert_to_tensor(np.array([0.1, 0.5, 0.9], "float32"))
    ce = -np.log([0.1, 0.5, 0.9])
    gaps = [np.abs(np.asarray(gce(p, q)) - ce).max() for q in (0.3, 0.1, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.03                                       # CE as q -> 0
    np.testing.assert_allclose(np.asarray(gce(p, 1.0)), [0.9, 0.5, 0.1], rtol=1e-6)              # MAE at q = 1


def _targets(b=1, m=4):
    t = np.zeros((b, m, 4), "float32")
    t[..., 3] = -1
    return t


def test_detection_loss_weights_negatives_by_beta():
    y = np.zeros((1, 4, 2 + 2 + 2), "float32")
    y[..., 2:4] = [0.0, 0.0]          # p = 0.5 everywhere
    t = _targets()
    t[0, 0] = [1, 0, 0, 0]            # one positive, three negatives
    for beta in (0.6, 1.0):
        d = float(PointLoss(2, beta=beta).terms(t, y)["det"])
        assert d == pytest.approx((np.log(2) + beta * 3 * np.log(2)) / 4, rel=1e-5)


def test_classification_term_is_gce_plus_l2_summed_over_cells():
    y = np.zeros((1, 4, 2 + 2 + 3), "float32")
    y[0, :, 4:] = [2.0, 0.0, 0.0]
    t = _targets()
    t[0, 0] = [1, 0, 0, 0]
    t[0, 1] = [1, 0, 0, 2]
    t[0, 2] = [1, 0, 0, -1]           # an unclassified cell has no class term
    p = np.exp([2.0, 0, 0]) / np.exp([2.0, 0, 0]).sum()
    want = sum((1 - p[c] ** 0.4) / 0.4 + 0.1 * np.linalg.norm(p) for c in (0, 2))
    summed = PointLoss(3, q=0.4, gamma=0.1, cls_reduction="sum").terms(t, y)["cls"]
    assert float(summed) == pytest.approx(want, rel=1e-5)
    assert float(PointLoss(3, q=0.4, gamma=0.1).terms(t, y)["cls"]) == pytest.approx(want / 2, rel=1e-5)


def test_a_detection_only_model_has_no_class_term_and_no_keras_warning():
    import warnings

    y = np.zeros((1, 4, 2 + 2 + 1), "float32")
    t = _targets()
    t[0, 0] = [1, 0, 0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # Keras warns for a softmax over one class
        terms = PointLoss(1, gamma=0.1).terms(t, y)
    assert float(terms["cls"]) == 0.0 and float(terms["det"]) > 0


def test_point_loss_reaches_the_regression_gradient_and_lambda_scales_it():
    rng = np.random.default_rng(5)
    y = tf.Variable(_raw(rng, 1, 6))
    ann = pad_annotations([np.array([[10.0, 10.0], [40.0, 50.0]])], [[0, 2]])
    grads = {}
    for lam in (0.0, 2e-3, 4e-3):
        with tf.GradientTape() as tape:
            loss = PointLoss(3, lam=lam)(ann, y)
        grads[lam] = tape.gradient(loss, y).numpy()[..., :2]
    assert np.all(grads[0.0] == 0) and np.abs(grads[2e-3]).sum() > 0   # eq. 3 does train the points
    # only the lambda-weighted term (eq. 3) reaches the points, so its gradient is linear in lambda
    np.testing.assert_allclose(grads[4e-3], 2 * grads[2e-3], rtol=1e-5, atol=1e-9)


def test_images_without_cells_keep_the_loss_finite_and_gradients_safe():
    rng = np.random.default_rng(6)
    for heads, k in (("independent", 4 + 3), ("single", 2 + 4)):
        y = tf.Variable(_raw(rng, 2, 5)[..., :k])
        ann = pad_annotations([np.zeros((0, 2)), np.zeros((0, 2))], [[], []])
        with tf.GradientTape() as tape:
            loss = PointLoss(3, heads=heads, cls_loss="gce" if heads == "independent" else "ce")(ann, y)
        g = tape.gradient(loss, y).numpy()
        assert np.isfinite(float(loss)) and np.all(np.isfinite(g)) and np.all(g[..., :2] == 0)


def test_single_head_is_p2pnet_cross_entropy():
    y = np.zeros((1, 2, 2 + 1 + 2), "float32")    # uniform over background + 2 classes
    t = _targets(m=2)
    t[0, 0] = [1, 0, 0, 1]
    d = float(PointLoss(2, heads="single", cls_loss="ce", beta=0.5).terms(t, y)["det"])
    assert d == pytest.approx((np.log(3) + 0.5 * np.log(3)) / 2, rel=1e-5)


def test_loss_serialises_and_refuses_bad_settings():
    from common.testing import run_serialization_test

    run_serialization_test(PointLoss(4, heads="single", cls_loss="ce", alpha=0.1, q=0.7))
    with pytest.raises(ValueError, match="q must"):
        PointLoss(q=0)
    with pytest.raises(ValueError, match="heads"):
        PointLoss(heads="x")
