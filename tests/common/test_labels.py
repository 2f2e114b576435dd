import numpy as np
import pytest

from common import labels


def brute_nearest(points, shape):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(xx[..., None] - points[:, 0], yy[..., None] - points[:, 1])  # H x W x N
    return d.min(axis=-1), d.argmin(axis=-1)


@pytest.mark.parametrize("radius", [1.0, 2.0, 2.5, 4.0, 6.3])
def test_disk_mask_matches_brute_force(rng, radius):
    shape = (37, 53)
    pts = np.column_stack([rng.uniform(-0.5, 52.49, 25), rng.uniform(-0.5, 36.49, 25)])
    dmin, _ = brute_nearest(pts, shape)
    np.testing.assert_array_equal(labels.disk_mask(pts, shape, radius), dmin < radius)


def test_disk_mask_integer_point_and_strictness():
    m = labels.disk_mask([[5, 5]], (11, 11), radius=2)
    # d < 2: the four distance-2 pixels are excluded, distance sqrt(2) included.
    assert m[5, 5] and m[4, 4] and m[5, 6] and not m[5, 7] and not m[3, 5]
    assert m.sum() == 9


def test_disk_mask_empty_points_is_background():
    m = labels.disk_mask(np.zeros((0, 2)), (8, 9))
    assert m.shape == (8, 9) and m.dtype == bool and not m.any()
    assert not labels.disk_mask([], (4, 4)).any()


def test_class_masks_channels_and_background(rng):
    shape = (30, 40)
    pts = np.column_stack([rng.uniform(0, 39, 12), rng.uniform(0, 29, 12)])
    cls = rng.integers(0, 3, 12)
    m = labels.class_masks(pts, cls, shape, n_classes=3, radius=2)
    assert m.shape == (30, 40, 4) and m.dtype == np.float32
    for k in range(3):
        np.testing.assert_array_equal(m[..., k] > 0, labels.disk_mask(pts[cls == k], shape, 2))
    np.testing.assert_array_equal(m[..., 3], 1 - m[..., :3].max(-1))
    empty = labels.class_masks([], [], shape, 3)
    assert np.all(empty[..., 3] == 1) and not empty[..., :3].any()


def test_abundance_weights_paper_values():
    n = [2244, 997, 243]
    r = labels.abundance_weights(n, "ratio")
    np.testing.assert_allclose(r.class_weights, [1.0, 2244 / 997, 2244 / 243])
    assert r.background == 1.0
    e1 = labels.abundance_weights(n, "ExpWeightType1")
    np.testing.assert_allclose(e1.class_weights, np.exp(-np.array(n) / 2244))
    assert e1.background == pytest.approx(np.exp(-1))
    e2 = labels.abundance_weights(n, "exp2")
    np.testing.assert_allclose(e2.class_weights, np.exp(-(np.array(n) / 2244) ** 2))
    # The table of reference_specs 1c for the code's 1:2:9 ratios.
    np.testing.assert_allclose(labels.abundance_weights([9, 4.5, 1], "exp1").class_weights,
                               [0.368, 0.607, 0.895], atol=1e-3)
    np.testing.assert_allclose(labels.abundance_weights([9, 4.5, 1], "exp2").class_weights,
                               [0.368, 0.779, 0.988], atol=1e-3)


@pytest.mark.parametrize("bad", [[], [10, 0, 3], [5, -1], [1, np.nan]])
def test_abundance_weights_bad_counts(bad):
    with pytest.raises(ValueError, match="counts"):
        labels.abundance_weights(bad, "ratio")


def test_abundance_weights_unknown_scheme():
    with pytest.raises(ValueError, match="scheme"):
        labels.abundance_weights([1, 2], "linear")


def test_weight_image_ratio_and_exp(rng):
    shape = (40, 40)
    pts = np.array([[5.0, 5.0], [20.0, 20.0], [33.2, 10.7]])
    cls = np.array([0, 1, 2])
    aw = labels.abundance_weights([2244, 997, 243], "ratio")
    w = labels.weight_image(pts, cls, shape, aw.class_weights, aw.background, radius=4)
    assert w.dtype == np.float32 and w.shape == shape
    for p, c in zip(pts, cls):
        inside = labels.disk_mask(p[None], shape, 4)
        np.testing.assert_allclose(w[inside], aw.class_weights[c], rtol=1e-6)
    outside = ~labels.disk_mask(pts, shape, 4)
    assert np.all(w[outside] == 1.0)
    e = labels.abundance_weights([2244, 997, 243], "exp1")
    we = labels.weight_image(pts, cls, shape, e.class_weights, e.background)
    np.testing.assert_allclose(we[outside], np.exp(-1), rtol=1e-6)


def test_weight_image_overlap_takes_nearest_cell():
    pts = np.array([[10.0, 10.0], [14.0, 10.0]])
    w = labels.weight_image(pts, [0, 1], (21, 25), [1.0, 5.0], 0.0, radius=4)
    dmin, arg = brute_nearest(pts, (21, 25))
    expect = np.where(dmin < 4, np.array([1.0, 5.0])[arg], 0.0)
    # Equidistant pixels (column 12) go to the lower index, as documented.
    np.testing.assert_allclose(w, expect)


def test_mapping_filter_values():
    f = labels.mapping_filter(5, 11)
    assert f.shape == (11, 11) and f[5, 5] == 1.0
    assert f[5, 6] == pytest.approx(0.8) and f[4, 5] == pytest.approx(0.8)
    assert f[4, 4] == pytest.approx((5 - np.sqrt(2)) / 5)
    assert f[5, 0] == 0 and f[0, 0] == 0
    assert np.count_nonzero(f) == 69
    assert f.sum() == pytest.approx(26.05, abs=0.01)


def test_mapped_label_is_filter_at_each_dot():
    f = labels.mapping_filter()
    m = labels.mapped_label([[10, 12], [30, 25]], (40, 50), f)
    np.testing.assert_allclose(m[7:18, 5:16], f, atol=1e-6)
    np.testing.assert_allclose(m[20:31, 25:36], f, atol=1e-6)
    assert m.sum() == pytest.approx(2 * f.sum(), rel=1e-5)


def test_gaussian_density_integrates_to_count(rng):
    pts = np.column_stack([rng.uniform(10, 90, 7), rng.uniform(10, 90, 7)])
    d = labels.gaussian_density(pts, (100, 100), size=7, sigma=6)
    assert d.sum() == pytest.approx(7, rel=1e-5)
    assert d.max() <= 7 / 49 + 1e-6 or d.max() < 1


def test_encode_classes():
    np.testing.assert_array_equal(labels.encode_classes(["b", "a", "b"], ["a", "b"]), [1, 0, 1])
    with pytest.raises(ValueError, match="unknown class name 'c'"):
        labels.encode_classes(["a", "c"], ["a", "b"])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: labels.disk_mask([[50, 5]], (10, 10)), "outside"),
        (lambda: labels.disk_mask([[np.nan, 5]], (10, 10)), "NaN"),
        (lambda: labels.disk_mask([[1, 2, 3]], (10, 10)), r"\(N, 2\)"),
        (lambda: labels.disk_mask([[1, 2]], (10, 10), radius=0), "radius"),
        (lambda: labels.disk_mask([[1, 2]], (10, 10), radius=-3), "radius"),
        (lambda: labels.disk_mask([[1, 2]], (0, 10)), "shape"),
        (lambda: labels.class_masks([[1, 2]], [3], (10, 10), 3), "n_classes"),
        (lambda: labels.class_masks([[1, 2]], ["CD8"], (10, 10), 3), "class names"),
        (lambda: labels.class_masks([[1, 2]], [0, 1], (10, 10), 3), "entries"),
        (lambda: labels.weight_image([[1, 2]], [0], (10, 10), [], 1.0), "class_weights"),
        (lambda: labels.mapping_filter(5, 10), "odd"),
        (lambda: labels.mapping_filter(0, 11), "radius"),
        (lambda: labels.mapped_label([[1, 1]], (5, 5), np.ones((2, 2))), "odd"),
        (lambda: labels.gaussian_density([[1, 1]], (5, 5), sigma=0), "sigma"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
