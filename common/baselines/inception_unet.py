"""The Inception U-Net of AwareNet and CONCORDe-Net (Hagos et al.; reference_specs 1b).

AwareNet's detector (Fig. 3) and CONCORDe-Net's segmenter are the same network, so it lives in
``common``: AwareNet subclasses it, S-DRDIN's CONCORDe-Net row builds it directly.
"""

from __future__ import annotations

import keras

from common.layers import ConstructorConfig, InceptionBlock

__all__ = ["InceptionUNet"]


@keras.saving.register_keras_serializable(package="cellrepro")
class InceptionUNet(ConstructorConfig, keras.Model):
    """Inception U-Net (layer details from the authors' code, reference_specs 1b).

    Encoder: Add-merged Inception blocks of ``base_filters * 2**i`` channels joined by 2x2 average
    pooling; ``depth`` levels counting the bottleneck. Decoder: 2x2 stride-2 transposed convolution,
    concatenation with the encoder block output of the same level (taken before pooling), Inception
    block. Head: 1x1 convolution to one channel with sigmoid. Glorot-uniform init, ReLU elsewhere.

    Args:
        input_size: side of the square RGB input (any multiple of 2**(depth-1); None: any size).
        base_filters: channels of the first level (16).
        depth: number of levels including the bottleneck (4: 16, 32, 64, 128 channels).
        output: ``"probability"`` (sigmoid head) or ``"logit"`` (the same head without the sigmoid).
        rescale: divide the input by 255 inside the network (for pipelines feeding [0, 255] pixels).
        output_name: name of the head layer (``"prob"`` for AwareNet, ``"det"`` for S-DRDIN's tables).
    """

    def __init__(self, input_size: int | None = 256, base_filters: int = 16, depth: int = 4,
                 output: str = "probability", rescale: bool = False, output_name: str = "prob", **kwargs):
        if output not in ("probability", "logit"):
            raise ValueError(f"output must be 'probability' or 'logit', got {output!r}")
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        if input_size is not None and input_size % (2 ** (depth - 1)):
            raise ValueError(f"input_size {input_size} must be divisible by 2**(depth-1) = {2 ** (depth - 1)}")
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs) if rescale else inputs
        skips = []
        for level in range(depth - 1):
            x = InceptionBlock(base_filters * 2 ** level, name=f"enc{level + 1}")(x)
            skips.append(x)
            x = keras.layers.AveragePooling2D(2, name=f"pool{level + 1}")(x)
        x = InceptionBlock(base_filters * 2 ** (depth - 1), name="bottleneck")(x)
        for level in reversed(range(depth - 1)):
            f = base_filters * 2 ** level
            x = keras.layers.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"up{level + 1}")(x)
            x = keras.layers.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
            x = InceptionBlock(f, name=f"dec{level + 1}")(x)
        act = "sigmoid" if output == "probability" else None
        outputs = keras.layers.Conv2D(1, 1, activation=act, dtype="float32", name=output_name)(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.input_size, self.base_filters, self.depth, self.output_kind = input_size, base_filters, depth, output
        self.depth_, self.rescale, self.output_name = depth, bool(rescale), output_name

    CONFIG = {"input_size": "input_size", "base_filters": "base_filters", "depth": "depth", "output": "output_kind",
              "rescale": "rescale", "output_name": "output_name"}
