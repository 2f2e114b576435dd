"""Keras layers shared by the papers: the Add-merged Inception block, a fixed convolution, a
stop-gradient layer and nearest-neighbour upsampling. All are registered serialisables with full
``get_config``; no Lambda layers.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["ConstructorConfig", "FixedConv2D", "InceptionBlock", "NearestUpsampling2D", "StopGradient"]


class ConstructorConfig:
    """``get_config`` / ``from_config`` for models built functionally from their constructor arguments.

    A subclass lists its arguments in ``CONFIG`` as ``{argument: attribute}``; ``get_config`` reads
    each attribute, adds ``name`` and ``trainable``, and ``from_config`` calls the constructor with them.
    """

    CONFIG: dict = {}

    def get_config(self):
        return {**{arg: getattr(self, attr) for arg, attr in self.CONFIG.items()},
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cellrepro")
class InceptionBlock(keras.layers.Layer):
    """The simplified three-path Inception block of the AwareNet / DRDIN code.

    ``out = Add(conv3x3(conv1x1(x)), conv3x3(conv3x3(x)), conv1x1(x))``, every convolution with
    ``filters`` channels, 'same' padding and ReLU, so the block keeps ``filters`` channels.
    ``batch_norm=True`` gives the DRDIN variant with BatchNorm after the first convolution of the
    two deeper paths.

    Args:
        filters: channels of every convolution (and of the output).
        batch_norm: add BatchNormalization after the first conv of paths 1 and 2.
        kernel_initializer: initializer of every kernel (papers: glorot uniform).
    """

    receptive_field_radius = 2   # two stacked 3x3 convolutions (for common.inference.receptive_field)

    def __init__(self, filters: int, batch_norm: bool = False, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if int(filters) <= 0:
            raise ValueError(f"filters must be > 0, got {filters!r}")
        self.filters = int(filters)
        self.batch_norm = bool(batch_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        def conv(k, name):
            return keras.layers.Conv2D(self.filters, k, padding="same", activation="relu",
                                       kernel_initializer=self.kernel_initializer, name=name, dtype=self.dtype_policy)

        self.p1a, self.p1b = conv(1, "p1_1x1"), conv(3, "p1_3x3")
        self.p2a, self.p2b = conv(3, "p2_3x3a"), conv(3, "p2_3x3b")
        self.p3 = conv(1, "p3_1x1")
        self.bn1 = keras.layers.BatchNormalization(name="p1_bn", dtype=self.dtype_policy) if self.batch_norm else None
        self.bn2 = keras.layers.BatchNormalization(name="p2_bn", dtype=self.dtype_policy) if self.batch_norm else None

    def build(self, input_shape):
        self.p1a.build(input_shape)
        self.p2a.build(input_shape)
        self.p3.build(input_shape)
        mid = tuple(input_shape[:-1]) + (self.filters,)
        if self.batch_norm:
            self.bn1.build(mid)
            self.bn2.build(mid)
        self.p1b.build(mid)
        self.p2b.build(mid)

    def call(self, x, training=None):
        a = self.p1a(x)
        b = self.p2a(x)
        if self.batch_norm:
            a = self.bn1(a, training=training)
            b = self.bn2(b, training=training)
        return self.p1b(a) + self.p2b(b) + self.p3(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, batch_norm=self.batch_norm,
                   kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return cfg


@keras.saving.register_keras_serializable(package="cellrepro")
class FixedConv2D(keras.layers.Layer):
    """A convolution with a fixed, non-trainable kernel given in the config (e.g. MapDe's filter).

    The kernel is stored in the config (so it survives ``.keras`` save/load even without weights)
    and held in a non-trainable variable; it never appears in ``trainable_weights``, whatever
    ``layer.trainable`` is set to.

    Args:
        kernel: nested list / array of shape (kh, kw, in_channels, out_channels).
        padding: ``"same"`` or ``"valid"``.
        activation: optional activation applied after the convolution.
    """

    def __init__(self, kernel, padding: str = "same", activation=None, **kwargs):
        super().__init__(**kwargs)
        k = np.asarray(kernel, dtype=np.float32)
        if k.ndim != 4 or k.size == 0:
            raise ValueError(f"kernel must have shape (kh, kw, in_channels, out_channels), got {k.shape}")
        if not np.all(np.isfinite(k)):
            raise ValueError("kernel contains NaN or infinite values")
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        self.kernel_value = k
        self.padding = padding
        self.activation = keras.activations.get(activation)

    @classmethod
    def from_filter(cls, filter2d, in_channels: int, out_channels: int = 1, mode: str = "sum", **kwargs):
        """Builds the layer from one 2-D filter.

        ``mode="sum"``: every output channel sums all input channels filtered by ``filter2d``
        (TIAToolbox's MapDe); ``mode="diagonal"``: output channel c filters input channel c only
        (one mapped channel per class; needs ``in_channels == out_channels``).
        """
        f = np.asarray(filter2d, dtype=np.float32)
        if f.ndim != 2:
            raise ValueError(f"filter2d must be 2-D, got shape {f.shape}")
        k = np.zeros(f.shape + (int(in_channels), int(out_channels)), dtype=np.float32)
        if mode == "sum":
            k[:] = f[:, :, None, None]
        elif mode == "diagonal":
            if in_channels != out_channels:
                raise ValueError("mode='diagonal' needs in_channels == out_channels")
            for c in range(int(in_channels)):
                k[:, :, c, c] = f
        else:
            raise ValueError(f"mode must be 'sum' or 'diagonal', got {mode!r}")
        return cls(k, **kwargs)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.kernel_value.shape[2]:
            raise ValueError(f"FixedConv2D kernel expects {self.kernel_value.shape[2]} input channels, "
                             f"got {input_shape[-1]}")
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_value.shape,
                                      initializer=keras.initializers.Constant(self.kernel_value), trainable=False)

    def call(self, x):
        y = ops.conv(x, ops.cast(self.kernel, x.dtype), strides=1, padding=self.padding)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        kh, kw, _, cout = self.kernel_value.shape
        if self.padding == "same":
            return tuple(input_shape[:-1]) + (cout,)
        h = None if input_shape[1] is None else input_shape[1] - kh + 1
        w = None if input_shape[2] is None else input_shape[2] - kw + 1
        return (input_shape[0], h, w, cout)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(kernel=self.kernel_value.tolist(), padding=self.padding,
                   activation=keras.activations.serialize(self.activation))
        return cfg


@keras.saving.register_keras_serializable(package="cellrepro")
class StopGradient(keras.layers.Layer):
    """Identity in the forward pass, zero gradient in the backward pass (S-DRDIN skip connections)."""

    def call(self, x):
        return ops.stop_gradient(x)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="cellrepro")
class NearestUpsampling2D(keras.layers.Layer):
    """Nearest-neighbour upsampling of a channels-last map by an integer factor.

    The same output as ``keras.layers.UpSampling2D(size)``, computed by broadcasting: Keras repeats
    with ``tf.tile`` under TensorFlow, and the tile's gradient transposes an int32 shape matrix, for
    which oneDNN writes an error-level log line during training on CPUs without AVX-512. A
    broadcast's gradient is a plain sum, so training stays quiet (and JAX gives the same result).

    Args:
        size: the integer factor for both height and width.
    """

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(size) != size or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.size = int(size)

    def call(self, x):
        s = self.size
        shape = ops.shape(x)
        h, w, c = shape[1], shape[2], shape[3]
        y = ops.expand_dims(ops.expand_dims(x, 2), 4)                  # (B, H, 1, W, 1, C)
        y = ops.broadcast_to(y, (shape[0], h, s, w, s, c))
        return ops.reshape(y, (-1, h * s, w * s, c))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h * self.size, None if w is None else w * self.size, c)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(size=self.size)
        return cfg
