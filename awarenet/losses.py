"""AwareNet's weighted Dice loss (eq. 5), written with keras.ops."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["WeightedDiceLoss", "weighted_dice"]


def weighted_dice(reference, prob, weights=None, eps: float = 1e-5):
    """Weighted Dice loss, eq. 5: ``1 - (2 sum W Y R + eps) / (sum W (Y + R) + eps)``.

    Sums run over every pixel of every image in the batch, as in the authors' code, so the loss is
    one scalar per batch. ``weights=None`` gives the plain Dice loss (the U-net row of Table 2).

    Args:
        reference: R, the disk mask (..., H, W, 1) or (..., H, W).
        prob: Y, the predicted probability map, same shape.
        weights: W, the weight image, same shape, or None.
        eps: stabiliser (paper 1e-5, authors' code 1).
    """
    r = ops.cast(reference, "float32")
    y = ops.cast(prob, "float32")
    w = ops.ones_like(r) if weights is None else ops.cast(weights, "float32")
    num = 2.0 * ops.sum(w * y * r) + eps
    den = ops.sum(w * (y + r)) + eps
    return 1.0 - num / den


@keras.saving.register_keras_serializable(package="cellrepro")
class WeightedDiceLoss(keras.losses.Loss):
    """Keras loss for eq. 5 with ``y_true`` packing [R, W] as two channels (..., H, W, 2).

    With ``use_weights=False`` the W channel is ignored (plain Dice). Returns one value per batch.
    """

    def __init__(self, eps: float = 1e-5, use_weights: bool = True, name="weighted_dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.eps = float(eps)
        self.use_weights = bool(use_weights)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        r, w = y_true[..., 0:1], y_true[..., 1:2]
        return weighted_dice(r, y_pred, w if self.use_weights else None, self.eps)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(eps=self.eps, use_weights=self.use_weights)
        return cfg
