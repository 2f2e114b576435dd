"""S-DRDIN's classification loss (section 2.4): pixel-weighted cross-entropy (eq. 1-2).

The detection branch uses Keras' binary cross-entropy; S-DRDIN trains on the sum of the two.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["PixelWeightedCE"]

_EPS = 1e-7


@keras.saving.register_keras_serializable(package="cellrepro")
class PixelWeightedCE(keras.losses.Loss):
    """Pixel-weighted cross-entropy on the classification branch's softmax (eq. 1-2).

    For a batch of B class maps with Nc channels (cell types + background) and N pixels each, the
    weight of channel c is the inverse of its pixel count in the batch (eq. 1)::

        w_c = N * Nc * B / sum_i x_i^c

    and the loss of one image is (eq. 2, with the target x_i^c selecting each pixel's channel)::

        L = -1 / (Nc * N) * sum_c sum_i w_c * x_i^c * log p_c(x_i)

    Averaged over the batch this equals ``sum_c mean(-log p_c)`` over the batch's pixels of channel
    c: every class counts the same however few pixels it has. A channel absent from the batch gets
    weight 0. Pixels whose target is all zero (cells without a class, e.g. CRCHisto's unclassified
    dots) are ignored. ``weighting="none"`` is the plain per-pixel cross-entropy (the U-Net row).

    Args:
        weighting: ``"batch"`` (eq. 1) or ``"none"``.
    """

    def __init__(self, weighting: str = "batch", name: str = "pixel_weighted_ce", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if weighting not in ("batch", "none"):
            raise ValueError(f"weighting must be 'batch' (eq. 1) or 'none', got {weighting!r}")
        self.weighting = weighting

    def call(self, y_true, y_pred):
        ct, cp = y_true.shape[-1], y_pred.shape[-1]
        if ct is not None and cp is not None and ct != cp:
            raise ValueError(f"the class map has {ct} channels but the classification output {cp} (cell types + "
                             "background): the data's classes do not match the model's n_classes")
        y = ops.cast(y_true, "float32")
        logp = ops.log(ops.clip(ops.cast(y_pred, "float32"), _EPS, 1.0))
        shape = ops.shape(y)
        n = ops.cast(shape[1] * shape[2], "float32")   # pixels per channel of one map
        if self.weighting == "none":
            return -ops.sum(y * logp, axis=(1, 2, 3)) / n
        nc = ops.cast(shape[3], "float32")
        b = ops.cast(shape[0], "float32")
        counts = ops.sum(y, axis=(0, 1, 2))
        w = ops.where(counts > 0, n * nc * b / ops.maximum(counts, 1e-12), 0.0)      # eq. 1
        return -ops.sum(y * logp * w, axis=(1, 2, 3)) / (nc * n)                      # eq. 2

    def get_config(self):
        cfg = super().get_config()
        cfg.update(weighting=self.weighting)
        return cfg
