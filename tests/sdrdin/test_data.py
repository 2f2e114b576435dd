import numpy as np
import pytest

from common.datasets import Sample, SampleList, load
from sdrdin.data import check_classified, patches, sdrdin_dataset, targets
from tests.sdrdin.helpers import tiny


def sample(points, classes, size=40, names=("a", "b")):
    img = np.full((size, size, 3), 200, np.uint8)
    return Sample(img, np.asarray(points, np.float32), np.asarray(classes, np.int64), names, name="s")


def test_targets_are_radius_2_disks_per_class_with_background():
    mc, md = targets(sample([[10, 10], [30, 20]], [0, 1]))
    assert mc.shape == (40, 40, 3) and md.shape == (40, 40, 1)
    assert mc[..., 0].sum() == 9 and mc[..., 1].sum() == 9          # pixels closer than r = 2: 9 px
    assert mc[10, 10, 0] == 1 and mc[20, 30, 1] == 1 and mc[10, 10, 2] == 0
    np.testing.assert_array_equal(md[..., 0], mc[..., :2].max(-1))   # Md = channel max of the cell channels
    np.testing.assert_array_equal(mc[..., 2], 1 - md[..., 0])          # background = inversion of Md


def test_unclassified_cells_are_detection_targets_and_ignored_by_the_class_map():
    mc, md = targets(sample([[10, 10], [30, 20]], [0, -1]))
    assert md[20, 30, 0] == 1 and mc[20, 30].sum() == 0               # no channel: the class loss ignores it
    assert mc[10, 10].sum() == 1


def test_patches_every_stride_cover_the_image():
    x, mc, md = patches([sample([[10, 10]], [0], size=40)], size=16, stride=12)
    # origins 0, 12, 24 on each axis (24 = 40 - 16, flush with the edge)
    assert x.shape == (9, 16, 16, 3) and mc.shape == (9, 16, 16, 3) and md.shape == (9, 16, 16, 1)
    assert md[0, 10, 10, 0] == 1


def test_patch_counts_are_the_cell_centres_inside_each_patch():
    """CONCORDe-Net's count target: cells at x = 10 and x = 30 (y = 10) in 16 px patches every 12 px."""
    _, _, _, n = patches([sample([[10, 10], [30, 10]], [0, 1], size=40)], size=16, stride=12, counts=True)
    # origins (y, x) in row-major order: x = 0 holds the first cell, x = 24 the second, x = 12 neither
    assert n.shape == (9, 1) and n[:3, 0].tolist() == [1, 0, 1] and n[3:, 0].sum() == 0


def test_dataset_yields_the_tasks_asked_and_flips_image_and_targets_together(splits):
    cfg = tiny()
    ds = sdrdin_dataset(splits[0], cfg, tasks=("class", "det"), training=True, repeat=True)
    x, y = next(iter(ds))
    assert x.shape == (2, 32, 32, 3) and set(y) == {"class", "det"}
    assert y["class"].shape == (2, 32, 32, 7) and y["det"].shape == (2, 32, 32, 1)
    np.testing.assert_allclose(np.asarray(y["class"])[..., 6], 1 - np.asarray(y["det"])[..., 0])
    x2, y2 = next(iter(sdrdin_dataset(splits[0], cfg, tasks=("class", "det"), training=True, repeat=True)))
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x2))     # one seed, one stream
    only = next(iter(sdrdin_dataset(splits[1], cfg, tasks=("det",), training=False)))[1]
    assert set(only) == {"det"}


def test_a_folder_without_a_class_column_is_refused(tmp_path):
    from common import io

    (tmp_path / "images").mkdir()
    io.write_image(tmp_path / "images" / "a.png", np.zeros((40, 40, 3), np.uint8))
    (tmp_path / "points.csv").write_text("image,x,y\na.png,10,10\n")
    data = load(tmp_path, "all")
    with pytest.raises(ValueError, match="no cell classes .* add a 'class' column"):
        check_classified(data)


def test_other_bad_splits_are_refused():
    with pytest.raises(ValueError, match="empty"):
        check_classified([])
    with pytest.raises(ValueError, match="no annotated cells"):
        check_classified([sample(np.zeros((0, 2)), [])])
    with pytest.raises(ValueError, match="all are -1"):
        check_classified([sample([[5, 5]], [-1])])
    with pytest.raises(ValueError, match="has 2 classes .* the model 6"):
        check_classified(SampleList([sample([[5, 5]], [0])]), n_classes=6)
    with pytest.raises(ValueError, match="smaller than the 32x32"):
        sdrdin_dataset([sample([[5, 5]], [0], size=20)], tiny())
