"""AwareNet models: the Inception U-Net detector (Fig. 3) and the VGG-style cell classifier (3.4)."""

from __future__ import annotations

import keras

from awarenet import losses  # noqa: F401  (registers the losses compiled .keras files name)
from common.baselines import concordenet  # noqa: F401  (CONCORDe-Net parts of saved runs)
from common.baselines.inception_unet import InceptionUNet
from common.layers import ConstructorConfig

__all__ = ["AwareNetDetector", "CellClassifier", "build_classifier", "build_detector"]


@keras.saving.register_keras_serializable(package="cellrepro")
class AwareNetDetector(InceptionUNet):
    """Inception U-Net of Fig. 3 (:class:`common.baselines.inception_unet.InceptionUNet`, input in [0, 1]).

    Args:
        input_size: side of the square RGB input (256 in the paper; any multiple of 2**(depth-1)).
        base_filters: channels of the first level (16).
        depth: number of levels including the bottleneck (4: 16, 32, 64, 128 channels).
        output: ``"probability"`` (sigmoid head, the paper) or ``"logit"`` (the same head without the
            sigmoid: inference reads logits, whose float32 resolution does not run out near p = 1).
    """

    def __init__(self, input_size: int = 256, base_filters: int = 16, depth: int = 4, output: str = "probability",
                 **kwargs):
        super().__init__(input_size, base_filters, depth, output, rescale=False, output_name="prob", **kwargs)

    CONFIG = {"input_size": "input_size", "base_filters": "base_filters", "depth": "depth", "output": "output_kind"}


@keras.saving.register_keras_serializable(package="cellrepro")
class CellClassifier(ConstructorConfig, keras.Model):
    """VGG-style cell classifier of section 3.4 (code: CC/classifiermodels.py).

    Conv(base) then ``depth - 1`` blocks [Conv(f), Conv(f), MaxPool 2] with f doubling, Flatten,
    Dense(``dense_units``, ReLU) named ``features`` (the 200-d UMAP features), Dropout, Dense softmax.
    With base 16 and depth 3 this is the paper's conv 16, 32, 64 and dense 200, n_classes.
    """

    def __init__(self, n_classes: int = 3, patch_size: int = 28, base_filters: int = 16, depth: int = 3,
                 dense_units: int = 200, dropout: float = 0.3, **kwargs):
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        inputs = keras.Input((patch_size, patch_size, 3), name="patch")
        x = keras.layers.Conv2D(base_filters, 3, padding="same", activation="relu", name="conv0")(inputs)
        f = base_filters
        for b in range(depth - 1):
            f *= 2
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"block{b + 1}_conv1")(x)
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"block{b + 1}_conv2")(x)
            x = keras.layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        feats = keras.layers.Dense(dense_units, activation="relu", name="features")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(feats)
        outputs = keras.layers.Dense(n_classes, activation="softmax", dtype="float32", name="probs")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.n_classes, self.patch_size, self.base_filters = n_classes, patch_size, base_filters
        self.depth_, self.dense_units, self.dropout = depth, dense_units, dropout

    def feature_extractor(self) -> keras.Model:
        """A model mapping patches to the ``dense_units``-d features (Fig. 4b UMAP input)."""
        return keras.Model(self.input, self.get_layer("features").output, name="features")

    CONFIG = {"n_classes": "n_classes", "patch_size": "patch_size", "base_filters": "base_filters", "depth": "depth_",
              "dense_units": "dense_units", "dropout": "dropout"}


def build_detector(config) -> AwareNetDetector:
    """The detector for an :class:`awarenet.config.AwareNetConfig`."""
    return AwareNetDetector(config.input_size, config.base_filters, config.depth, name="awarenet_detector")


def build_classifier(config, n_classes: int | None = None) -> CellClassifier:
    """The cell classifier for an :class:`awarenet.config.AwareNetConfig` (``config.n_classes`` by default)."""
    g = config.group("classifier_")
    return CellClassifier(config.n_classes if n_classes is None else n_classes, g["patch"], g["base"], g["depth"],
                          g["dense"], g["dropout"], name="awarenet_classifier")
