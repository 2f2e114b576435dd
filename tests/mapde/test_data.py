import numpy as np
import pytest

from common.labels import mapped_label
from mapde.data import check_annotated, mapde_dataset, mapped_targets
from mapde.inference import calibrate
from tests.mapde.helpers import CFG, DOTS, sample


def test_mapped_targets_single_and_per_class():
    s = sample(classes=np.array([0, 1, 0, 1, 0]))
    t = mapped_targets(s)
    assert t.shape == (128, 128, 1) and t[40, 40, 0] == pytest.approx(1.0) and t[40, 41, 0] == pytest.approx(0.8)
    np.testing.assert_allclose(t[..., 0], mapped_label(s.points, s.shape))
    pc = mapped_targets(s, per_class=True)
    assert pc.shape == (128, 128, 2)
    np.testing.assert_allclose(pc.sum(-1), t[..., 0], atol=1e-6)
    assert pc[42, 60, 0] == 0 and pc[42, 60, 1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unclassified"):
        mapped_targets(sample(classes=np.array([0, -1, 0, 1, 0])), per_class=True)

def test_empty_annotations_are_refused():
    empty = sample(points=np.zeros((0, 2)), size=256)
    with pytest.raises(ValueError, match="empty annotations"):
        check_annotated([empty, empty])
    with pytest.raises(ValueError, match="empty"):
        check_annotated([])
    with pytest.raises(ValueError, match="empty annotations"):
        mapde_dataset([empty], CFG)
    with pytest.raises(ValueError, match="no annotated cells"):
        calibrate([np.random.default_rng(0).random((256, 256))], [empty], "deconv", CFG)

def test_images_smaller_than_the_input_are_refused_for_training():
    with pytest.raises(ValueError, match="smaller than Micro-Net's 252x252"):
        mapde_dataset([sample(size=128)], CFG)

def test_dataset_shapes_and_determinism():
    samples = [sample(size=264, name="a"), sample(DOTS + 20, size=270, name="b")]
    a = [(x.numpy(), t.numpy()) for x, t in mapde_dataset(samples, CFG, batch_size=2).take(2)]
    b = [(x.numpy(), t.numpy()) for x, t in mapde_dataset(samples, CFG, batch_size=2).take(2)]
    assert a[0][0].shape == (2, 252, 252, 3) and a[0][1].shape == (2, 252, 252, 1)
    assert 0 <= a[0][0].min() and a[0][0].max() <= 255
    for (x1, t1), (x2, t2) in zip(a, b):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(t1, t2)
    ev = list(mapde_dataset(samples, CFG, batch_size=8, training=False))
    assert ev[0][0].shape == (8, 252, 252, 3)   # 2x2 grid crops per image


def test_small_images_are_refused_before_training_starts():
    from mapde.data import check_sizes

    with pytest.raises(ValueError, match=r"1 validation image\(s\) are smaller than Micro-Net's 252x252 input"):
        check_sizes([sample(size=256)], [sample(size=128, name="v")], 252)
