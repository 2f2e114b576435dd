"""A plain U-Net (Ronneberger et al., 2015): the U-Net baseline of S-DRDIN's Tables 2-3.

Two 3x3 convolutions (ReLU) per level, 2x2 max pooling down, 2x2 stride-2 transposed convolution
up, concatenation with the encoder level, two 3x3 convolutions; a 1x1 head. 'same' padding, so the
output has the input's size (the original's valid convolutions and crops are not needed for
patch-wise training).
"""

from __future__ import annotations

import keras

from common.layers import ConstructorConfig

__all__ = ["UNet"]

_HEADS = {"sigmoid": "sigmoid", "softmax": "softmax", "linear": None}


@keras.saving.register_keras_serializable(package="cellrepro")
class UNet(ConstructorConfig, keras.Model):
    """U-Net with ``depth`` levels (counting the bottleneck) of ``base_filters * 2**i`` channels.

    Args:
        n_outputs: channels of the 1x1 head.
        input_size: side of the square RGB input (None: any multiple of 2**(depth-1)).
        base_filters: channels of the first level.
        depth: levels including the bottleneck.
        head: ``"sigmoid"`` (detection), ``"softmax"`` (per-pixel classes) or ``"linear"`` (logits).
        output_name: name of the output layer (e.g. ``"det"`` or ``"class"``).
    """

    def __init__(self, n_outputs: int = 1, input_size: int | None = 224, base_filters: int = 16, depth: int = 4,
                 head: str = "sigmoid", output_name: str = "out", **kwargs):
        n_outputs, base_filters, depth = int(n_outputs), int(base_filters), int(depth)
        if head not in _HEADS:
            raise ValueError(f"head must be one of {sorted(_HEADS)}, got {head!r}")
        if n_outputs < 1 or base_filters < 1 or depth < 2:
            raise ValueError(f"n_outputs and base_filters must be >= 1 and depth >= 2, got "
                             f"{n_outputs}, {base_filters}, {depth}")
        if input_size is not None and input_size % (2 ** (depth - 1)):
            raise ValueError(f"input_size {input_size} must be divisible by 2**(depth-1) = {2 ** (depth - 1)}")
        L = keras.layers

        def block(x, f, name):
            x = L.Conv2D(f, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
            return L.Conv2D(f, 3, padding="same", activation="relu", name=f"{name}_conv2")(x)

        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = L.Rescaling(1.0 / 255.0, name="scale")(inputs)
        skips = []
        for level in range(depth - 1):
            x = block(x, base_filters * 2 ** level, f"enc{level + 1}")
            skips.append(x)
            x = L.MaxPooling2D(2, name=f"pool{level + 1}")(x)
        x = block(x, base_filters * 2 ** (depth - 1), "bottleneck")
        for level in reversed(range(depth - 1)):
            f = base_filters * 2 ** level
            x = L.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"up{level + 1}")(x)
            x = L.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
            x = block(x, f, f"dec{level + 1}")
        out = L.Conv2D(n_outputs, 1, activation=_HEADS[head], dtype="float32", name=output_name)(x)
        super().__init__(inputs=inputs, outputs=out, **kwargs)
        self.n_outputs, self.input_size, self.base_filters, self.depth_ = n_outputs, input_size, base_filters, depth
        self.head, self.output_name = head, output_name

    CONFIG = {"n_outputs": "n_outputs", "input_size": "input_size", "base_filters": "base_filters", "depth": "depth_",
              "head": "head", "output_name": "output_name"}
