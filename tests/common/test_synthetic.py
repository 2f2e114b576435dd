import numpy as np
import pytest

from common import synthetic
from common.datasets import Sample, class_counts


@pytest.mark.parametrize("kind", sorted(synthetic.KINDS))
def test_deterministic_per_seed(kind):
    a = synthetic.make_dataset(kind, 2, 64, seed=3)
    b = synthetic.make_dataset(kind, 2, 64, seed=3)
    c = synthetic.make_dataset(kind, 2, 64, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.points, y.points)
        np.testing.assert_array_equal(x.classes, y.classes)
    assert not np.array_equal(a[0].image, c[0].image)


@pytest.mark.parametrize("kind", sorted(synthetic.KINDS))
def test_samples_are_valid_and_proportions_match(kind):
    spec = synthetic.KINDS[kind]
    samples = synthetic.make_dataset(kind, 12, 128, seed=0)
    assert all(isinstance(s, Sample) and s.image.shape == (128, 128, 3) and s.image.dtype == np.uint8
               for s in samples)
    assert all(s.class_names == spec.class_names for s in samples)
    counts = class_counts(samples)
    total = counts.sum()
    expect = np.asarray(spec.proportions, dtype=float) / sum(spec.proportions) * total
    # Largest-remainder allocation: every class within one cell of its exact share.
    assert np.all(np.abs(counts - expect) < 1.0), (counts, expect)
    if spec.boxes:
        for s in samples:
            assert s.boxes.shape == (len(s.points), 4)
            inside = (s.boxes[:, 0] <= s.points[:, 0]) & (s.points[:, 0] <= s.boxes[:, 2])
            assert inside.all()


def test_mihc_abundance_ratio_on_a_larger_set():
    counts = class_counts(synthetic.make_dataset("mihc", 20, 256, seed=1))
    np.testing.assert_allclose(counts / counts.sum(), np.array([2244, 997, 243]) / 3484, atol=1 / counts.sum())


def test_cells_are_darker_than_background():
    s = synthetic.make_dataset("he", 1, 128, seed=0)[0]
    grey = s.image.mean(-1)
    at_cells = grey[np.rint(s.points[:, 1]).astype(int), np.rint(s.points[:, 0]).astype(int)].mean()
    assert at_cells < grey.mean() - 10


def test_distractors_are_not_annotated():
    # mihc draws unlabelled negative nuclei: dark blobs away from every annotated point.
    from scipy import ndimage

    s = synthetic.make_dataset("mihc", 1, 256, seed=2)[0]
    dark = s.image.min(-1) < 160
    lab, n = ndimage.label(dark)
    com = np.array(ndimage.center_of_mass(dark, lab, range(1, n + 1)))[:, ::-1]
    far = np.hypot(*(com[:, None] - s.points[None]).transpose(2, 0, 1)).min(1) > 8
    assert far.sum() >= 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="cats"), "kind"),
        (dict(kind="he", n_images=0), "n_images"),
        (dict(kind="he", size=16), "at least 32"),
        (dict(kind="he", size=(0, 64)), "positive"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic.make_dataset(**kwargs)


def test_shapes_are_deterministic_boxed_and_load_by_name():
    from common.datasets import load

    a = synthetic.make_shapes(3, 96, seed=5)
    b = synthetic.make_dataset("shapes", 3, 96, seed=5)
    assert [s.name for s in a] == ["shapes_5_000", "shapes_5_001", "shapes_5_002"]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.boxes, y.boxes)
    assert not np.array_equal(a[0].image, synthetic.make_shapes(1, 96, seed=6)[0].image)
    for s in a:
        assert s.image.shape == (96, 96, 3) and s.image.dtype == np.uint8
        assert s.class_names == synthetic.SHAPE_CLASSES and len(s.points) >= 1
        assert s.boxes.shape == (len(s.points), 4) and np.all(s.boxes[:, 2:] > s.boxes[:, :2])
        assert s.boxes.min() >= 0 and s.boxes.max() <= 95
        np.testing.assert_allclose(s.points, (s.boxes[:, :2] + s.boxes[:, 2:]) / 2)
    loaded = load("synthetic:shapes", split="val", n_images=2, size=64)
    assert len(loaded) == 2 and loaded[0].boxes is not None and "synthetic:shapes" in loaded.description


def test_shapes_have_their_geometry_and_refuse_microscopy_options():
    from common.synthetic import _shape_mask

    # half-extent 20 at (48, 48), unrotated: (xmin, xmax, ymin, ymax) of the drawn pixels, and whether
    # the centre is drawn (a ring's is not)
    expect = {"disc": (28, 68, 28, 68, True), "ring": (28, 68, 28, 68, False), "square": (28, 68, 28, 68, True),
              "triangle": (31, 65, 28, 58, True), "ellipse": (28, 68, 39, 57, True), "cross": (28, 68, 28, 68, True)}
    for k, name in enumerate(synthetic.SHAPE_CLASSES):
        m = _shape_mask(k, (48, 48), 20.0, 0.0, 96, 96)
        ys, xs = np.nonzero(m > 0.5)
        x0, x1, y0, y1, filled = expect[name]
        assert abs(xs.min() - x0) <= 1 and abs(xs.max() - x1) <= 1 and abs(ys.min() - y0) <= 1 \
            and abs(ys.max() - y1) <= 1, name
        assert (m[48, 48] > 0.5) == filled, name
    # a rotated square reaches further along the axes than an unrotated one
    assert np.nonzero(_shape_mask(2, (48, 48), 20.0, np.pi / 4, 96, 96) > 0.5)[1].min() < 25
    with pytest.raises(ValueError, match="no faint class"):
        synthetic.make_dataset("shapes", 1, 64, faint_factor=0.5)
    with pytest.raises(ValueError, match="must be one of"):
        synthetic.make_dataset("squares", 1, 64)
