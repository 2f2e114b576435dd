import numpy as np
import pytest

from awarenet import data
from common.datasets import Sample
from common.labels import abundance_weights

N = [2244, 997, 243]


def sample():
    img = np.full((64, 64, 3), 200, np.uint8)
    pts = np.array([[10.0, 10.0], [40.0, 20.0], [30.0, 50.0], [55.0, 55.0]])
    return Sample(img, pts, [0, 1, 2, -1], ("CD8+", "CD4+FOXP3-", "CD4+FOXP3+"), name="t")


def test_weight_images_for_the_papers_n():
    s = sample()
    ratio = abundance_weights(N, "ratio")
    r, w = data.detection_targets(s, 4, ratio)
    assert r.shape == w.shape == (64, 64, 1)
    inside = r[..., 0] > 0
    assert np.all(w[~inside] == 1.0)                        # RatioWeight: 1 outside cells
    assert w[10, 10, 0] == pytest.approx(1.0)               # CD8+: max(N)/N = 1
    assert w[20, 40, 0] == pytest.approx(2244 / 997, rel=1e-6)
    assert w[50, 30, 0] == pytest.approx(2244 / 243, rel=1e-6)
    assert w[55, 55, 0] == pytest.approx(1.0)               # unclassified: smallest class weight
    for scheme in ("exp1", "exp2"):
        _, we = data.detection_targets(s, 4, abundance_weights(N, scheme))
        np.testing.assert_allclose(we[~inside], np.exp(-1), rtol=1e-6)   # exp schemes: exp(-1) outside
    _, w1 = data.detection_targets(s, 4, abundance_weights(N, "exp1"))
    assert w1[50, 30, 0] == pytest.approx(np.exp(-243 / 2244), rel=1e-6)
    _, plain = data.detection_targets(s, 4, None)
    assert np.all(plain == 1)


def test_class_weights_from_training_split(mihc_samples):
    aw = data.class_weights_for(mihc_samples, "ratio")
    assert aw.class_weights[0] == pytest.approx(1.0) and aw.class_weights[2] > aw.class_weights[1] > 1
    assert data.class_weights_for(mihc_samples, None) is None
    only_cd8 = [Sample(s.image, s.points, np.zeros(len(s.points), int), s.class_names) for s in mihc_samples]
    with pytest.raises(ValueError, match="no cells of class"):
        data.class_weights_for(only_cd8, "exp1")


def test_detection_dataset_shapes_and_determinism(mihc_samples):
    aw = data.class_weights_for(mihc_samples, "exp1")
    ds = data.detection_dataset(mihc_samples, 64, weights=aw, batch_size=2, seed=3)
    x, y = next(iter(ds))
    assert tuple(x.shape) == (2, 64, 64, 3) and tuple(y.shape) == (2, 64, 64, 2)
    assert float(x.numpy().max()) <= 1.0
    assert set(np.unique(y.numpy()[..., 0])) <= {0.0, 1.0}
    val = data.detection_dataset(mihc_samples, 64, weights=aw, batch_size=3, training=False)
    a = next(iter(val))[0].numpy()
    b = next(iter(val))[0].numpy()
    np.testing.assert_array_equal(a, b)


def test_detection_dataset_rejects_small_images(mihc_samples):
    with pytest.raises(ValueError, match="smaller than the 128x128 input"):
        data.detection_dataset(mihc_samples, 128)
    with pytest.raises(ValueError, match="empty"):
        data.detection_dataset([], 64)


def test_cell_patches():
    s = sample()
    p, y = data.cell_patches([s], 28)
    assert p.shape == (3, 28, 28, 3) and p.dtype == np.uint8 and y.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="even"):
        data.cell_patches([s], 27)
    with pytest.raises(ValueError, match="patch_size"):
        data.cell_patches([s], 0)
    empty = Sample(s.image, np.zeros((0, 2)), [], s.class_names)
    with pytest.raises(ValueError, match="no classified cells"):
        data.cell_patches([empty])
