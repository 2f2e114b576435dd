"""CONCORDe-Net (Hagos et al., MICCAI 2019): Dice + cell-count regularisation through a frozen counter.

The counter network (reference_specs 1b) maps a probability map to a cell count. It is trained
first on reference masks (mask -> count), then frozen and appended to a segmentation network;
the pair is trained with ``Dice + 0.3 * CountLoss`` (``loss_weights = [1, 0.3]`` in the code).
AwareNet's Table 2 and S-DRDIN use it as a baseline, so it lives in ``common``.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["CellCounter", "ConcordeNet", "CountLoss", "DiceLoss"]


@keras.saving.register_keras_serializable(package="cellrepro")
class CellCounter(keras.Model):
    """The CONCORDe-Net counter: prob map (S, S, 1) -> count (1,), non-negative.

    Conv 16 -> AvgPool 2 -> Conv 32 -> AvgPool 2 -> Conv 64 -> AvgPool 2 -> Flatten -> Dense 200
    (ReLU) -> Dropout 0.3 -> Dense 1 (ReLU) named ``cell_count``. All convolutions 3x3, same, ReLU.

    Args:
        input_size: side of the square probability map (Flatten fixes it).
        filters: widths of the three convolutions.
        dense_units: width of the hidden dense layer (200).
        dropout: dropout rate (0.3).
    """

    def __init__(self, input_size: int = 224, filters=(16, 32, 64), dense_units: int = 200, dropout: float = 0.3,
                 **kwargs):
        if input_size is None or input_size % 2 ** len(filters):
            raise ValueError(f"input_size must be a multiple of {2 ** len(filters)}, got {input_size}")
        inputs = keras.Input((input_size, input_size, 1), name="prob_map")
        x = inputs
        for i, f in enumerate(filters):
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"count_conv{i + 1}")(x)
            x = keras.layers.AveragePooling2D(2, name=f"count_pool{i + 1}")(x)
        x = keras.layers.Flatten(name="count_flatten")(x)
        x = keras.layers.Dense(dense_units, activation="relu", name="count_dense")(x)
        x = keras.layers.Dropout(dropout, name="count_dropout")(x)
        outputs = keras.layers.Dense(1, activation="relu", dtype="float32", name="cell_count")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.input_size, self.filters = input_size, tuple(int(f) for f in filters)
        self.dense_units, self.dropout = dense_units, dropout

    def get_config(self):
        return {"input_size": self.input_size, "filters": list(self.filters), "dense_units": self.dense_units,
                "dropout": self.dropout, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cellrepro")
class ConcordeNet(keras.Model):
    """A segmentation network with a frozen counter on its probability map.

    Outputs ``{"prob": segmenter(x), "count": counter(segmenter(x))}``. The counter's weights are
    frozen (``trainable=False``), so only the segmenter learns; the count loss reaches it through
    the counter's gradient.

    Args:
        segmenter: a model mapping (S, S, 3) images to (S, S, 1) probabilities.
        counter: a (pre-trained) :class:`CellCounter` for (S, S, 1) maps.
    """

    def __init__(self, segmenter: keras.Model, counter: keras.Model, **kwargs):
        seg_shape = tuple(segmenter.input.shape[1:])
        if tuple(counter.input.shape[1:3]) != seg_shape[:2]:
            raise ValueError(f"counter input {tuple(counter.input.shape[1:])} does not match the segmenter's "
                             f"spatial size {seg_shape[:2]}")
        counter.trainable = False
        inputs = keras.Input(seg_shape, name="image")
        prob = segmenter(inputs)
        count = counter(prob)
        # Identity-named outputs so losses and metrics can be keyed "prob" and "count".
        prob = keras.layers.Identity(name="prob")(prob)
        count = keras.layers.Identity(name="count")(count)
        super().__init__(inputs=inputs, outputs={"prob": prob, "count": count}, **kwargs)
        self.segmenter, self.counter = segmenter, counter

    def get_config(self):
        return {"segmenter": keras.saving.serialize_keras_object(self.segmenter),
                "counter": keras.saving.serialize_keras_object(self.counter),
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        seg = keras.saving.deserialize_keras_object(config.pop("segmenter"))
        cnt = keras.saving.deserialize_keras_object(config.pop("counter"))
        return cls(seg, cnt, **config)


@keras.saving.register_keras_serializable(package="cellrepro")
class DiceLoss(keras.losses.Loss):
    """CONCORDe-Net's Dice loss ``1 - (2 sum y p + s) / (sum y + sum p + s)`` over the whole batch.

    ``y_true`` may carry extra channels (e.g. AwareNet's [R, W]); only the first is used.
    """

    def __init__(self, smooth: float = 1.0, name="dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        y = ops.cast(y_true, "float32")[..., 0:1]
        p = ops.cast(y_pred, "float32")
        return 1.0 - (2.0 * ops.sum(y * p) + self.smooth) / (ops.sum(y) + ops.sum(p) + self.smooth)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(smooth=self.smooth)
        return cfg


@keras.saving.register_keras_serializable(package="cellrepro")
class CountLoss(keras.losses.Loss):
    """CONCORDe-Net's count loss ``1 - 1 / (1 + mean |c_hat - c|)``, bounded in [0, 1)."""

    def __init__(self, name="count", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        c = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        c_hat = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
        return 1.0 - 1.0 / (1.0 + ops.mean(ops.abs(c_hat - c)))
