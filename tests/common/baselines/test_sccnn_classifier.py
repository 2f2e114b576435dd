import keras
import numpy as np
import pytest

from common.baselines.inception_unet import InceptionUNet
from common.baselines.sccnn import SCCNNClassifier, classifier_patches, nep_classify
from common.datasets import Sample
from common.testing import run_config_roundtrip, run_model_saving_test


def _sample(points, classes, size=40):
    img = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
    return Sample(name="s", image=img, points=np.asarray(points, float), classes=np.asarray(classes),
                  class_names=("a", "b"))


def test_classifier_layout_is_the_papers_and_round_trips(tmp_path):
    m = SCCNNClassifier(3)
    assert [m.get_layer(n).filters for n in ("c1", "c2")] == [36, 48]
    assert m.get_layer("c1").kernel_size == (4, 4) and m.get_layer("c2").kernel_size == (3, 3)
    assert m.get_layer("f1").units == 512 and m.get_layer("f2").units == 512 and m.get_layer("d1").rate == 0.2
    x = np.random.default_rng(0).uniform(0, 255, (2, 27, 27, 3)).astype("float32")
    y = np.asarray(m(x))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)
    run_model_saving_test(SCCNNClassifier(2, width=0.25), x, directory=str(tmp_path))
    run_config_roundtrip(SCCNNClassifier(2, width=0.25), x)
    with pytest.raises(ValueError, match="n_classes"):
        SCCNNClassifier(1)
    with pytest.raises(ValueError, match="patch_size"):
        SCCNNClassifier(2, patch_size=15)


def test_classifier_patches_are_centred_near_classified_cells_only():
    s = _sample([[10, 10], [30, 30]], [1, -1])
    xs, ys = classifier_patches([s], 50, patch_size=27, jitter=0.0, seed=0)
    assert xs.shape == (50, 27, 27, 3) and set(ys.tolist()) == {1}
    # with no jitter the patch is the cell's own 27 x 27 window, up to rotation / flip
    pad = np.pad(s.image, ((13, 13), (13, 13), (0, 0)), mode="reflect")
    own = pad[10:37, 10:37].astype(np.float32)
    views = [np.rot90(own, k) for k in range(4)]
    views += [v[:, ::-1] for v in views]
    assert all(any(np.array_equal(p, v) for v in views) for p in xs[:5])
    with pytest.raises(ValueError, match="no annotated cell has a class"):
        classifier_patches([_sample([[10, 10]], [-1])], 4)


def test_nep_averages_the_neighbourhood_of_each_cell():
    keras.utils.set_random_seed(0)
    m = SCCNNClassifier(2, width=0.25)
    s = _sample([[5, 5], [20, 20]], [0, 1])
    probs = nep_classify(m, s.image, s.points, radius=2.0)
    assert probs.shape == (2, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # radius 0 is the single centred patch
    one = nep_classify(m, s.image, s.points[:1], radius=0.0)
    pad = np.pad(s.image.astype(np.float32), ((13, 13), (13, 13), (0, 0)), mode="reflect")
    np.testing.assert_allclose(one, np.asarray(m(pad[None, 5:32, 5:32])), atol=1e-6)
    # 13 patches (|d| <= 2) are averaged: the mean of the patch predictions
    offs = [(dx, dy) for dy in range(-2, 3) for dx in range(-2, 3) if dx * dx + dy * dy <= 4]
    patches = np.stack([pad[20 + dy:47 + dy, 20 + dx:47 + dx] for dx, dy in offs])
    np.testing.assert_allclose(probs[1], np.asarray(m(patches)).mean(axis=0), atol=1e-5)
    assert nep_classify(m, s.image, np.zeros((0, 2))).shape == (0, 2)
    with pytest.raises(ValueError, match="outside"):
        nep_classify(m, s.image, [[100, 5]])


def test_inception_unet_rescales_and_names_its_head():
    a = InceptionUNet(16, 4, 3, rescale=True, output_name="det")
    b = InceptionUNet(16, 4, 3)
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x / 255.0)), atol=1e-5)
    assert a.output_name == "det" and a.layers[-1].name == "det"
    run_config_roundtrip(a, x)
