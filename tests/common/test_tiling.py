import numpy as np
import pytest
from scipy import ndimage

from common import labels, postprocess, tiling
from common.synthetic import make_dataset


def smooth(tile):
    # A local operator with reach 4 * sigma = 8 px (truncate=4), like a small network.
    return ndimage.gaussian_filter(tile.astype(float).mean(-1) if tile.ndim == 3 else tile.astype(float), 2.0,
                                   truncate=4.0)


def detector(tile):
    m = smooth(255 - tile)
    pts = postprocess.peak_points(m, min_distance=4, threshold=60)
    return pts, m[np.rint(pts[:, 1]).astype(int), np.rint(pts[:, 0]).astype(int)]


@pytest.fixture(scope="module")
def big_image():
    return make_dataset("he", 1, (300, 410), seed=5)[0].image


def test_tiles_partition_the_image():
    for shape, tile, margin in [((300, 410), 96, 16), ((96, 96), 96, 16), ((97, 50), 64, 8), ((1000, 17), 64, 0)]:
        cover = np.zeros(shape[:2], dtype=int)
        for t in tiling.tile_grid(shape, tile, margin):
            cy0, cy1, cx0, cx1 = t.core
            cover[cy0:cy1, cx0:cx1] += 1
            # Core inside the tile, with the margin kept except at image borders.
            assert t.y0 <= cy0 and cy1 <= t.y0 + tile and t.x0 <= cx0 and cx1 <= t.x0 + tile
            assert cy0 == 0 or cy0 - t.y0 >= margin
            assert cx0 == 0 or cx0 - t.x0 >= margin
            assert cy1 == shape[0] or t.y0 + tile - cy1 >= margin
        assert (cover == 1).all()


def test_tiled_map_equals_whole_image(big_image):
    whole = smooth(big_image)
    tiled = tiling.tiled_map(big_image, smooth, tile_size=96, margin=8)
    np.testing.assert_allclose(tiled, whole, atol=1e-9)
    # Too small a margin leaves seams: the test can fail.
    seamy = tiling.tiled_map(big_image, smooth, tile_size=96, margin=2)
    assert np.abs(seamy - whole).max() > 1e-3


def test_tiled_points_equal_whole_image(big_image):
    whole_pts, whole_scores = detector(big_image)
    pts, scores = tiling.tiled_points(big_image, detector, tile_size=96, margin=14)
    order_w = np.lexsort((whole_pts[:, 0], whole_pts[:, 1]))
    order_t = np.lexsort((pts[:, 0], pts[:, 1]))
    assert len(whole_pts) > 20
    np.testing.assert_allclose(pts[order_t], whole_pts[order_w])
    np.testing.assert_allclose(scores[order_t], whole_scores[order_w])


def test_points_only_predictor_and_small_image_padding():
    img = np.zeros((40, 50), dtype=float)
    pts = np.array([[10.0, 10.0], [45.0, 35.0]])
    img += labels.mapped_label(pts, img.shape)
    found = tiling.tiled_points(img, lambda t: postprocess.peak_points(t, 3, 0.5), tile_size=64, margin=8)
    np.testing.assert_allclose(found[np.argsort(found[:, 0])], pts)
    with pytest.raises(ValueError, match="smaller than"):
        tiling.tiled_points(img, lambda t: np.zeros((0, 2)), tile_size=64, margin=8, pad_mode="error")


def test_bad_arguments(big_image):
    with pytest.raises(ValueError, match="exceed"):
        tiling.tile_grid((100, 100), 32, 16)
    with pytest.raises(ValueError, match="predictor returned shape"):
        tiling.tiled_map(big_image, lambda t: t[:10], 96, 8)
    with pytest.raises(ValueError, match="pad_mode"):
        tiling.tiled_map(big_image, smooth, 96, 8, pad_mode="wrap")
    with pytest.raises(ValueError, match="non-empty"):
        tiling.tiled_map(np.zeros((0, 5)), smooth, 96, 8)
