"""The template's network: a small fully convolutional net with one sigmoid density map."""

from __future__ import annotations

import keras

from common.layers import ConstructorConfig

__all__ = ["TemplateNet", "build_network"]


@keras.saving.register_keras_serializable(package="cellrepro")
class TemplateNet(ConstructorConfig, keras.Model):
    """Four 3x3 convolutions (one 2x2 pooling and upsampling) to one sigmoid map of cell centres.

    Args:
        width: channels of every convolution.
    """

    CONFIG = {"width": "width"}

    def __init__(self, width: int = 16, **kwargs):
        L = keras.layers
        image = keras.Input((None, None, 3), name="image")
        x = L.Rescaling(1.0 / 255.0, name="scale")(image)
        x = L.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(x)
        x = L.MaxPooling2D(2, name="pool")(x)
        x = L.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv2")(x)
        x = L.UpSampling2D(2, name="up")(x)
        x = L.Conv2D(width, 3, padding="same", activation="relu", name="conv3")(x)
        out = L.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="map")(x)
        super().__init__(inputs=image, outputs=out, **kwargs)
        self.width = int(width)


def build_network(config) -> TemplateNet:
    """The untrained network of a config."""
    return TemplateNet(config.width, name="template")
