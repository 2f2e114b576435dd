import numpy as np
import pytest
from skimage.restoration import richardson_lucy as sk_rl

from common import labels
from common.deconv import richardson_lucy


@pytest.mark.parametrize("iterations", [1, 2, 5])
@pytest.mark.parametrize("psf_shape", [(11, 11), (4, 6), (3, 1)])
def test_matches_scikit_image(rng, iterations, psf_shape):
    img = rng.random((45, 38)) * 2
    psf = rng.random(psf_shape)
    ours = richardson_lucy(img, psf, iterations)
    ref = sk_rl(img, psf, num_iter=iterations, clip=False)
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)


def test_clip_matches_scikit_image(rng):
    img = rng.random((30, 30)) * 5
    psf = labels.mapping_filter()
    np.testing.assert_allclose(richardson_lucy(img, psf, 3, clip=True), sk_rl(img, psf, num_iter=3, clip=True),
                               atol=1e-5)


def test_batch_equals_per_image(rng):
    batch = rng.random((4, 33, 29)).astype(np.float32)
    psf = labels.mapping_filter()
    out = richardson_lucy(batch, psf)
    assert out.shape == batch.shape and out.dtype == np.float32
    for b in range(4):
        np.testing.assert_allclose(out[b], sk_rl(batch[b], psf, num_iter=2, clip=False), atol=1e-5)


def test_deconvolving_a_mapped_dot_image_recovers_the_dots():
    from common.postprocess import threshold_centroids

    pts = np.array([[12.0, 15.0], [40.0, 22.0], [25.0, 45.0], [47.0, 47.0]])
    mapped = labels.mapped_label(pts, (64, 64))
    out = richardson_lucy(mapped, labels.mapping_filter(), iterations=2)
    # Threshold + centroids of the deconvolved map (MapDe's "Proposed") recovers the dots.
    found = threshold_centroids(out, 0.5 * out.max())
    found = found[np.lexsort((found[:, 0], found[:, 1]))]
    np.testing.assert_allclose(found, pts[np.lexsort((pts[:, 0], pts[:, 1]))], atol=0.5)


def test_more_iterations_concentrate_mass_on_the_dots():
    pts = np.array([[12.0, 15.0], [40.0, 22.0], [25.0, 45.0]])
    psf = labels.mapping_filter() / labels.mapping_filter().sum()
    mapped = labels.mapped_label(pts, (64, 64), psf)
    near = labels.disk_mask(pts, (64, 64), radius=1.5)
    frac = [richardson_lucy(mapped, psf, it)[near].sum() / mapped.sum() for it in (2, 10, 50)]
    assert frac[0] < frac[1] < frac[2]
    assert frac[2] > 2 * mapped[near].sum() / mapped.sum()


@pytest.mark.parametrize(
    "image, psf, match",
    [
        (np.zeros((2, 3, 4, 5)), np.ones((3, 3)), "shape"),
        (np.zeros((0, 5)), np.ones((3, 3)), "empty"),
        (np.full((5, 5), np.nan), np.ones((3, 3)), "NaN"),
        (np.ones((5, 5)), np.ones(3), "psf"),
        (np.array([["a"]]), np.ones((3, 3)), "numeric"),
    ],
)
def test_bad_input(image, psf, match):
    with pytest.raises(ValueError, match=match):
        richardson_lucy(image, psf)


def test_bad_iterations():
    with pytest.raises(ValueError, match="iterations"):
        richardson_lucy(np.ones((5, 5)), np.ones((3, 3)), iterations=0)
