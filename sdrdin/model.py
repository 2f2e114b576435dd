"""S-DRDIN (section 2.3, Fig. 1) and its single-task DRDIN variants.

Layer layout from the paper and the DRDIN code family (reference_specs 2b): Add-merged Inception
blocks (:class:`common.layers.InceptionBlock`) in a U-Net with 2x2 average pooling; two decoders
from one encoder.
"""

from __future__ import annotations

import keras

from common.baselines import concordenet, sccnn, unet  # noqa: F401  (baselines of saved runs)
from common.baselines.inception_unet import InceptionUNet
from common.baselines.sccnn import SCCNNClassifier
from common.baselines.unet import UNet
from common.layers import ConstructorConfig, InceptionBlock, StopGradient
from sdrdin import losses  # noqa: F401  (registers the losses compiled .keras files name)

__all__ = ["BRANCHES", "SDRDIN", "STOP_SCOPES", "build_network", "build_sdrdin", "tasks_of"]

BRANCHES = ("both", "detection", "classification")
STOP_SCOPES = ("skips", "all")


@keras.saving.register_keras_serializable(package="cellrepro")
class SDRDIN(ConstructorConfig, keras.Model):
    """S-DRDIN: one Inception encoder, a classification decoder and a detection decoder.

    * Encoder: ``depth`` Add-merged Inception blocks of ``base_filters * 2**i`` channels (16, 32,
      64, 128), joined by 2x2 average pooling; the last one (``enc_last``) is Fig. A.2's layer.
    * Classification decoder: per level a 2x2 stride-2 transposed convolution, concatenation with
      the encoder block of that level, an Inception block; then a 1x1 convolution with softmax over
      ``n_classes + 1`` channels (cell types, then background): output ``"class"``.
    * Detection decoder: the same levels, but every skip from the encoder passes through
      :class:`common.layers.StopGradient` when ``stop_gradient`` (S-DRDIN; not in S-DRDIN-gradient);
      its last Inception output is concatenated with the classification decoder's last Inception
      output, then two 3x3 convolutions (ReLU) and a 1x1 convolution with sigmoid: output ``"det"``.
      With the skips stopped (``stop_scope="skips"``, section 2.3's "all the skip connections"), the
      detection loss still reaches the encoder through the bottleneck that feeds the detection decoder
      and through the classification decoder's features that feed the detection head.
      ``stop_scope="all"`` stops those two as well, so no detection gradient reaches the encoder (or
      the classification decoder) at all - the strict reading of "prohibited the direct gradient
      transfer from the detection branch to the encoder".
    * ``branches="detection"`` (DRDIN-detection) keeps only the detection decoder (plain skips, no
      concatenation); ``"classification"`` (DRDIN-classification) only the classification decoder.

    ReLU everywhere except the two outputs; Glorot-uniform initialisation (the Keras default).

    Args:
        n_classes: cell types C (the classification output has C + 1 channels).
        input_size: side of the square RGB input (224 in the paper; a multiple of 2**(depth-1)).
        base_filters: channels of the first encoder block (16).
        depth: encoder blocks (4).
        branches: ``"both"`` (S-DRDIN), ``"detection"`` or ``"classification"``.
        stop_gradient: stop the gradient on the detection decoder's skips (``branches="both"`` only).
        stop_scope: what ``stop_gradient`` stops: ``"skips"`` (the encoder skips) or ``"all"`` (also the
            bottleneck into the detection decoder and the classification features into its head).
        batch_norm: BatchNorm inside the Inception blocks (a DRDIN code variant; off in the paper).
        output: ``"probability"`` (softmax / sigmoid heads, the paper) or ``"logit"`` (the same heads
            without the activation; used for inference and for numerically stable losses).
    """

    def __init__(self, n_classes: int = 6, input_size: int | None = 224, base_filters: int = 16, depth: int = 4,
                 branches: str = "both", stop_gradient: bool = True, batch_norm: bool = False,
                 output: str = "probability", stop_scope: str = "skips", **kwargs):
        n_classes, base_filters, depth = int(n_classes), int(base_filters), int(depth)
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        if branches not in BRANCHES:
            raise ValueError(f"branches must be one of {BRANCHES}, got {branches!r}")
        if output not in ("probability", "logit"):
            raise ValueError(f"output must be 'probability' or 'logit', got {output!r}")
        if stop_scope not in STOP_SCOPES:
            raise ValueError(f"stop_scope must be one of {STOP_SCOPES}, got {stop_scope!r}")
        if depth < 2 or base_filters < 1:
            raise ValueError(f"depth must be >= 2 and base_filters >= 1, got {depth}, {base_filters}")
        if input_size is not None and input_size % (2 ** (depth - 1)):
            raise ValueError(f"input_size {input_size} must be divisible by 2**(depth-1) = {2 ** (depth - 1)}")
        L = keras.layers
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = L.Rescaling(1.0 / 255.0, name="scale")(inputs)
        skips = []
        for level in range(depth - 1):
            x = InceptionBlock(base_filters * 2 ** level, batch_norm=batch_norm, name=f"enc{level + 1}")(x)
            skips.append(x)
            x = L.AveragePooling2D(2, name=f"pool{level + 1}")(x)
        bottom = InceptionBlock(base_filters * 2 ** (depth - 1), batch_norm=batch_norm, name="enc_last")(x)

        stopping = bool(stop_gradient) and branches == "both"
        strict = stopping and stop_scope == "all"

        def decoder(prefix, stop):
            y = StopGradient(name=f"{prefix}_stop_bottom")(bottom) if stop and strict else bottom
            for level in reversed(range(depth - 1)):
                f = base_filters * 2 ** level
                y = L.Conv2DTranspose(f, 2, strides=2, padding="same", activation="relu",
                                      name=f"{prefix}_up{level + 1}")(y)
                skip = StopGradient(name=f"{prefix}_stop{level + 1}")(skips[level]) if stop else skips[level]
                y = L.Concatenate(name=f"{prefix}_skip{level + 1}")([y, skip])
                y = InceptionBlock(f, batch_norm=batch_norm, name=f"{prefix}_dec{level + 1}")(y)
            return y

        outputs = {}
        cls_last = None
        if branches in ("both", "classification"):
            cls_last = decoder("cls", False)
            outputs["class"] = L.Conv2D(n_classes + 1, 1, activation="softmax" if output == "probability" else None,
                                        dtype="float32", name="class")(cls_last)
        if branches in ("both", "detection"):
            d = decoder("det", stopping)
            if cls_last is not None:
                from_cls = StopGradient(name="det_stop_class")(cls_last) if strict else cls_last
                d = L.Concatenate(name="det_with_class")([d, from_cls])
            d = L.Conv2D(base_filters, 3, padding="same", activation="relu", name="det_conv1")(d)
            d = L.Conv2D(base_filters, 3, padding="same", activation="relu", name="det_conv2")(d)
            outputs["det"] = L.Conv2D(1, 1, activation="sigmoid" if output == "probability" else None,
                                      dtype="float32", name="det")(d)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.n_classes, self.input_size, self.base_filters, self.depth_ = n_classes, input_size, base_filters, depth
        self.branches, self.stop_gradient, self.stop_scope = branches, stopping, stop_scope
        self.batch_norm, self.output_kind = bool(batch_norm), output

    CONFIG = {"n_classes": "n_classes", "input_size": "input_size", "base_filters": "base_filters", "depth": "depth_",
              "branches": "branches", "stop_gradient": "stop_gradient", "batch_norm": "batch_norm",
              "output": "output_kind", "stop_scope": "stop_scope"}

    @property
    def tasks(self) -> tuple:
        """The outputs this network has: ``("class", "det")`` or one of them."""
        return {"both": ("class", "det"), "detection": ("det",), "classification": ("class",)}[self.branches]

    def encoder_model(self) -> keras.Model:
        """``image -> last encoder block`` (the feature maps of Fig. A.2), sharing this model's weights."""
        return keras.Model(self.input, self.get_layer("enc_last").output, name=f"{self.name}_encoder")


def build_sdrdin(config, n_classes: int, output: str = "probability", input_size="config") -> SDRDIN:
    """The network of an :class:`sdrdin.config.SDRDINConfig` row (``input_size=None`` for any size)."""
    size = config.input_size if input_size == "config" else input_size
    name = {"both": "s_drdin" if config.stop_gradient else "s_drdin_gradient",
            "detection": "drdin_detection", "classification": "drdin_classification"}[config.branches]
    if config.branches == "both" and config.stop_gradient and config.stop_scope == "all":
        name = "s_drdin_stop_all"
    return SDRDIN(n_classes, size, config.base_filters, config.depth, config.branches, config.stop_gradient,
                  config.batch_norm, output=output, stop_scope=config.stop_scope, name=name)


def build_network(config, n_classes: int, input_size="config") -> keras.Model:
    """The untrained network of one pipeline part: S-DRDIN / DRDIN, a single-task U-Net, CONCORDe-Net's
    Inception U-Net (detection) or the SC-CNN classifier (CONCORDe-Net row's classification)."""
    size = config.input_size if input_size == "config" else input_size
    if config.model == "sdrdin":
        return build_sdrdin(config, n_classes, input_size=size)
    if config.model == "concordenet":
        if config.branches == "detection":
            return InceptionUNet(size, config.base_filters, config.depth, rescale=True, output_name="det",
                                 name="concordenet_detection")
        if config.branches == "classification":
            return SCCNNClassifier(n_classes, config.sccnn_patch, config.sccnn_width, name="sccnn_classifier")
    if config.model == "unet":
        if config.branches == "detection":
            return UNet(1, size, config.base_filters, config.depth, head="sigmoid", output_name="det",
                        name="unet_detection")
        if config.branches == "classification":
            return UNet(n_classes + 1, size, config.base_filters, config.depth, head="softmax", output_name="class",
                        name="unet_classification")
    raise ValueError(f"no single network for model={config.model!r}, branches={config.branches!r}")


def tasks_of(model) -> tuple:
    """The outputs a network trains: ``("class", "det")``, ``("det",)`` or ``("class",)`` (a per-pixel
    class map), or ``("cell_class",)`` for a patch classifier (SC-CNN)."""
    if isinstance(model, SCCNNClassifier):
        return ("cell_class",)
    if hasattr(model, "tasks"):
        return model.tasks
    return (model.output_name,) if hasattr(model, "output_name") else tuple(model.output_names)
