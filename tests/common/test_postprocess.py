import numpy as np
import pytest

from common import labels
from common import postprocess as pp


def test_threshold_centroids_hand_made_map():
    m = np.zeros((20, 30))
    m[2:5, 3:6] = 0.9          # 3x3 square centred (x=4, y=3)
    m[10:12, 20:24] = 0.8      # 2x4 block centred (x=21.5, y=10.5)
    m[16, 16] = 0.95           # single pixel
    pts = pp.threshold_centroids(m, 0.5)
    np.testing.assert_allclose(pts, [[4, 3], [21.5, 10.5], [16, 16]])
    np.testing.assert_allclose(pp.threshold_centroids(m, 0.5, min_area=2), [[4, 3], [21.5, 10.5]])
    np.testing.assert_allclose(pp.threshold_centroids(m, 0.85), [[4, 3], [16, 16]])
    assert pp.threshold_centroids(m, 0.99).shape == (0, 2)


def test_threshold_centroids_weighted():
    m = np.zeros((5, 5))
    m[2, 1], m[2, 2] = 1.0, 3.0
    np.testing.assert_allclose(pp.threshold_centroids(m, 0.5, weighted=True), [[1.75, 2.0]])


def test_peak_points_hand_made_map():
    pts = np.array([[10.0, 10.0], [30.0, 12.0], [18.0, 30.0]])
    m = labels.mapped_label(pts, (40, 40))
    expected = pts[[0, 1, 2]][np.argsort([10, 12, 30])]
    np.testing.assert_allclose(pp.peak_points(m, min_distance=3, threshold=0.5), expected)
    assert len(pp.peak_points(m, 3, threshold=1.5)) == 0
    # Two bumps 4 px apart: min_distance 4 keeps the higher, 1 keeps both.
    yy, xx = np.mgrid[:25, :25]
    m2 = np.exp(-((xx - 10) ** 2 + (yy - 10) ** 2) / 2.0) + 0.9 * np.exp(-((xx - 14) ** 2 + (yy - 10) ** 2) / 2.0)
    assert len(pp.peak_points(m2, 1, 0.1)) == 2
    np.testing.assert_allclose(pp.peak_points(m2, 4, 0.1), [[10, 10]])
    # two dots 3 px apart summed by the mapping filter are flat between them: one peak at the plateau's centre
    m3 = labels.mapped_label([[10, 10], [13, 10]], (25, 25))
    np.testing.assert_allclose(pp.peak_points(m3, 1, 0.1), [[11.5, 10]])


def test_blob_points_splits_touching_cells_and_drops_noise():
    pts = np.array([[20.0, 20.0], [29.0, 20.0], [60.0, 50.0]])
    m = labels.disk_mask(pts, (80, 80), radius=6).astype(float)
    m[70:73, 5:8] = 1.0  # 9-px noise blob
    found = pp.blob_points(m, threshold=0.5, min_area=50, window=7, dilation_radius=2)
    assert len(found) == 3
    d = np.hypot(*(found[:, None, :] - pts[None]).transpose(2, 0, 1))
    assert d.min(axis=0).max() < 1.5
    # Plain thresholding merges the touching pair.
    assert len(pp.threshold_centroids(m, 0.5, min_area=50)) == 2
    assert pp.blob_points(np.zeros((10, 10))).shape == (0, 2)


def test_class_vote_mean_and_majority():
    cp = np.zeros((30, 30, 3))
    cp[..., 0] = 0.2
    cp[0:15, :, 1] = 0.9  # top half: class 1
    cp[15:, :, 2] = 0.6   # bottom half: class 2
    pts = np.array([[5.0, 3.0], [20.0, 27.0], [15.0, 14.0]])
    np.testing.assert_array_equal(pp.class_vote(cp, pts, window=5), [1, 2, 1])
    np.testing.assert_array_equal(pp.class_vote(cp, pts, window=5, mode="majority"), [1, 2, 1])
    # Mean and majority differ: one very confident pixel against many weak ones.
    cp2 = np.zeros((9, 9, 2))
    cp2[..., 0] = 0.6
    cp2[..., 1] = 0.4
    cp2[4, 4, 1] = 100.0
    assert pp.class_vote(cp2, [[4, 4]], 3, "mean")[0] == 1
    assert pp.class_vote(cp2, [[4, 4]], 3, "majority")[0] == 0
    assert pp.class_vote(cp, np.zeros((0, 2))).shape == (0,)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pp.threshold_centroids(np.zeros((3, 3, 3)), 0.5), "2 dimensions"),
        (lambda: pp.threshold_centroids(np.full((3, 3), np.nan), 0.5), "NaN"),
        (lambda: pp.threshold_centroids(np.zeros((3, 3)), 0.5, min_area=0), "min_area"),
        (lambda: pp.peak_points(np.zeros((3, 3)), min_distance=0), "min_distance"),
        (lambda: pp.blob_points(np.zeros((3, 3)), window=0), "window"),
        (lambda: pp.class_vote(np.zeros((5, 5)), [[1, 1]]), "3 dimensions"),
        (lambda: pp.class_vote(np.zeros((5, 5, 2)), [[9, 1]]), "outside"),
        (lambda: pp.class_vote(np.zeros((5, 5, 2)), [[1, 1]], window=4), "odd"),
        (lambda: pp.class_vote(np.zeros((5, 5, 2)), [[1, 1]], mode="max"), "mode"),
        (lambda: pp.peak_points(np.zeros((0, 0))), "2 dimensions|empty"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_peaks_on_flat_maps_answer_fast():
    import time

    t0 = time.time()
    assert pp.peak_points(np.zeros((1200, 1200)), 4, 0.0).shape == (0, 2)   # a blank map has no cells
    two = np.zeros((1200, 1200), np.float32)
    two[:, 600:] = 1.0   # two plateaus: every pixel a local maximum, both flat background
    assert len(pp.peak_points(two, 4, 0.5)) == 0
    two[300:303, 300:303] = 2.0                      # a saturated cell: a small plateau is one peak at its centre
    pts = pp.peak_points(two, 4, 0.5)
    assert time.time() - t0 < 1.0
    assert len(pts) == 1 and abs(pts[0, 0] - 301) < 1e-6 and abs(pts[0, 1] - 301) < 1e-6


def test_peaks_of_a_tiled_map_are_the_peaks_of_the_whole_map():
    rng = np.random.default_rng(3)
    from scipy import ndimage

    m = ndimage.gaussian_filter(rng.random((300, 260)), 3).astype(np.float32)
    whole = pp.peak_points(m, 4, 0.5)
    core, margin, found = 100, 12, []
    for y0 in range(0, 300, core):
        for x0 in range(0, 260, core):
            ys, xs = max(0, y0 - margin), max(0, x0 - margin)
            tile = m[ys:y0 + core + margin, xs:x0 + core + margin]
            p = pp.peak_points(tile, 4, 0.5) + [xs, ys]
            own = (p[:, 0] >= x0) & (p[:, 0] < x0 + core) & (p[:, 1] >= y0) & (p[:, 1] < y0 + core)
            found.append(p[own])
    tiled = np.concatenate(found)
    tiled = tiled[np.lexsort((tiled[:, 0], tiled[:, 1]))]
    np.testing.assert_allclose(tiled, whole)


def test_cached_peaks_only_threshold_again():
    m = np.zeros((50, 50), np.float32)
    m[10, 10], m[30, 30] = 0.9, 0.4
    with pp.cached_peaks():
        assert len(pp.peak_points(m, 3, 0.5)) == 1 and len(pp.peak_points(m, 3, 0.1)) == 2
        assert pp.local_peaks(m, 3)[0] is pp.local_peaks(m, 3)[0]     # found once
    assert pp.local_peaks(m, 3)[0] is not pp.local_peaks(m, 3)[0]     # outside the block, found each time
