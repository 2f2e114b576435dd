"""The model contract of every paper, under whichever Keras backend runs the tests (TensorFlow, and
JAX in the second leg of ``make test``): build, ``.keras`` round trip, a fit step that lowers the loss,
and the same seed giving the same weights."""

import keras
import numpy as np
import pytest

from common.training import set_seed

pytestmark = [pytest.mark.contract,
              pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer:UserWarning")]


def _built(paper, samples, seed=0):
    set_seed(seed)
    cfg = paper.tiny_config()
    model = paper.build(cfg, len(samples[0].class_names))
    return cfg, model


def _outputs(out):
    if isinstance(out, dict):
        return [np.asarray(out[k]) for k in sorted(out)]
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return [np.asarray(out)]


def test_build_gives_a_registered_model_of_the_paper(paper, tiny_samples):
    samples = tiny_samples(paper)
    _, model = _built(paper, samples)
    assert isinstance(model, keras.Model)
    assert type(model).__name__ in paper.model_classes
    name = keras.saving.get_registered_name(type(model))
    assert name.startswith("cellrepro>"), name


def test_keras_file_round_trip_gives_the_same_outputs(paper, tiny_samples, tmp_path):
    samples = tiny_samples(paper)
    cfg, model = _built(paper, samples)
    x, _ = paper.training_batch(cfg, samples)
    before = _outputs(model(x, training=False))
    path = tmp_path / "m.keras"
    model.save(path)
    paper.register_models()
    again = keras.saving.load_model(path)
    assert type(again) is type(model)
    after = _outputs(again(x, training=False))
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert again.get_config() == model.get_config()


def test_fit_steps_lower_the_loss_on_a_batch(paper, tiny_samples):
    samples = tiny_samples(paper)
    cfg, model = _built(paper, samples)
    x, y = paper.training_batch(cfg, samples)
    first = float(np.sum(model.train_on_batch(x, y)))
    for _ in range(7):
        last = float(np.sum(model.train_on_batch(x, y)))
    assert np.isfinite(first) and np.isfinite(last)
    assert last < first, (paper.name, first, last)


def test_the_same_seed_gives_the_same_weights(paper, tiny_samples):
    samples = tiny_samples(paper)
    weights = []
    for _ in range(2):
        cfg, model = _built(paper, samples, seed=3)
        x, y = paper.training_batch(cfg, samples, seed=3)
        model.train_on_batch(x, y)
        weights.append(model.get_weights())
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    _, other = _built(paper, samples, seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(weights[0], other.get_weights()))
