import keras
import numpy as np
import pytest

from common.baselines.concordenet import CellCounter, ConcordeNet, CountLoss, DiceLoss
from common.testing import (
    run_config_roundtrip,
    run_model_saving_test,
    run_serialization_test,
)


def _segmenter(size=32):
    inp = keras.Input((size, size, 3))
    out = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inp)
    return keras.Model(inp, out)


def test_counter_layout_and_round_trip(tmp_path):
    c = CellCounter(32)
    names = [layer.name for layer in c.layers]
    assert names[1:4] == ["count_conv1", "count_pool1", "count_conv2"] and names[-1] == "cell_count"
    assert c.get_layer("count_dense").units == 200 and c.get_layer("count_dropout").rate == 0.3
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 1)).astype("float32")
    y = c.predict(x, verbose=0)
    assert y.shape == (2, 1) and np.all(y >= 0)      # ReLU count
    run_model_saving_test(c, x, directory=str(tmp_path))
    run_config_roundtrip(c, x)
    with pytest.raises(ValueError, match="multiple of 8"):
        CellCounter(30)


def test_concordenet_freezes_counter_and_round_trips(tmp_path):
    seg, cnt = _segmenter(), CellCounter(32)
    model = ConcordeNet(seg, cnt)
    assert cnt.trainable is False
    trainable = {id(v) for v in model.trainable_weights}
    assert all(id(v) not in trainable for v in cnt.weights)
    assert all(id(v) in trainable for v in seg.trainable_weights)
    x = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype("float32")
    out = model.predict(x, verbose=0)
    assert out["prob"].shape == (2, 32, 32, 1) and out["count"].shape == (2, 1)
    run_model_saving_test(model, x, directory=str(tmp_path))
    with pytest.raises(ValueError, match="does not match"):
        ConcordeNet(_segmenter(32), CellCounter(64))


def test_concordenet_training_leaves_counter_unchanged():
    seg, cnt = _segmenter(), CellCounter(32)
    before = [w.copy() for w in cnt.get_weights()]
    model = ConcordeNet(seg, cnt)
    model.compile(optimizer="adam", loss={"prob": DiceLoss(), "count": CountLoss()},
                  loss_weights={"prob": 1.0, "count": 0.3})
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(4, 32, 32, 3)).astype("float32")
    y = {"prob": (rng.uniform(size=(4, 32, 32, 1)) > 0.9).astype("float32"), "count": np.full((4, 1), 5.0, "float32")}
    seg_before = [w.copy() for w in seg.get_weights()]
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, cnt.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(seg_before, seg.get_weights()))


def test_losses_match_numpy():
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=(2, 8, 8, 2)) > 0.5).astype("float32")
    p = rng.uniform(size=(2, 8, 8, 1)).astype("float32")
    ref = 1 - (2 * (y[..., :1] * p).sum() + 1) / (y[..., :1].sum() + p.sum() + 1)
    assert float(DiceLoss(1.0)(y, p)) == pytest.approx(ref, rel=1e-5)
    c, ch = np.array([[3.0], [10.0]], "float32"), np.array([[5.0], [9.0]], "float32")
    assert float(CountLoss()(c, ch)) == pytest.approx(1 - 1 / (1 + 1.5), rel=1e-6)
    assert float(CountLoss()(c, c)) == 0.0
    run_serialization_test(DiceLoss(0.5))
    run_serialization_test(CountLoss())
