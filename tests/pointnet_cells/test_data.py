import numpy as np
import pytest

from common.datasets import Sample, SampleList
from pointnet_cells.data import check_annotated, density_targets, point_stream, random_resized_crop, validation_crops
from tests.pointnet_cells.helpers import tiny


def _marked_image(points, size=96):
    img = np.zeros((size, size, 3), np.uint8)
    for x, y in points:
        img[int(y), int(x)] = 255
    return img


def test_crop_moves_points_with_the_pixels():
    pts = np.array([[20.0, 30.0], [50.0, 70.0], [80.0, 10.0]])
    img = _marked_image(pts)
    rng = np.random.default_rng(0)
    for _ in range(20):
        crop, p, c = random_resized_crop(img, pts, np.arange(3), 64, rng, scale=(1.0, 1.0))
        assert crop.shape == (64, 64, 3) and len(p) == len(c)
        assert np.all((p >= 0) & (p <= 63))
        for (x, y) in p:   # every kept point still sits on its bright pixel
            assert crop[int(round(y)), int(round(x))].max() == 255


def test_resize_scales_points_and_never_leaves_a_crop_smaller_than_asked():
    pts = np.array([[40.0, 40.0]])
    crop, p, _ = random_resized_crop(_marked_image(pts), pts, [0], 96, np.random.default_rng(1), scale=(0.5, 0.5))
    assert crop.shape == (96, 96, 3) and len(p) == 1


def test_stream_is_a_pure_function_of_the_batch_index(splits):
    tr, _, _ = splits
    cfg = tiny()
    a = [next(point_stream(tr, cfg, start_batch=k)) for k in (0, 3)]
    s = point_stream(tr, cfg)
    b = [next(s) for _ in range(4)]
    np.testing.assert_array_equal(a[0][0], b[0][0])
    np.testing.assert_array_equal(a[1][1], b[3][1])
    x, y = a[0]
    assert x.shape == (2, 64, 64, 3) and y.shape[0] == 2 and y.shape[2] == 4


def test_validation_crops_cover_the_images(splits):
    _, va, _ = splits
    x, y = validation_crops(va, 64)
    assert x.shape == (2, 64, 64, 3) and int(y[..., 3].sum()) == sum(len(s.points) for s in va)


def test_density_targets_peak_at_one_on_each_cell():
    t = density_targets(np.array([[10.0, 10.0], [40.0, 20.0]]), np.array([1, -1]), (32, 64), 2)
    assert t.shape == (32, 64, 3)
    assert t[10, 10, 0] == pytest.approx(1.0) and t[20, 40, 0] == pytest.approx(1.0)
    assert t[10, 10, 2] == pytest.approx(1.0) and t[..., 1].max() == 0 and t[20, 40, 1:].max() == 0
    assert t.max() <= 1.0 and t[0, 63, 0] == 0


def test_unusable_splits_are_refused():
    img = np.zeros((64, 64, 3), np.uint8)
    empty = SampleList([Sample(img, np.zeros((0, 2)), np.zeros(0, np.int64), ("x",), name="a")])
    with pytest.raises(ValueError, match="no annotated cells"):
        check_annotated(empty)
    with pytest.raises(ValueError, match="empty"):
        check_annotated(SampleList([]))
    one = SampleList([Sample(img, np.array([[5.0, 5.0]]), np.array([0]), ("x",), name="a")])
    with pytest.raises(ValueError, match="smaller than the 128 px crop"):
        check_annotated(one, crop_size=128)


def test_validation_crops_at_an_image_scale(splits):
    _, va, _ = splits
    x, y = validation_crops(va, 64, image_scale=2.0)
    assert x.shape == (8, 64, 64, 3) and int(y[..., 3].sum()) == sum(len(s.points) for s in va)
