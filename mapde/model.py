"""Micro-Net (Raza et al. 2019) and MapDe = Micro-Net wrapped by the fixed mapping filter (section 2.2).

Layer layout from TIAToolbox's public re-implementation (reference_specs 3b); written from that
description, with a ``width`` factor scaling every filter count for CPU runs.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common.baselines import sccnn  # noqa: F401  (registers SC-CNN for saved runs)
from common.labels import mapping_filter
from common.layers import ConstructorConfig, FixedConv2D
from mapde import losses  # noqa: F401  (registers the loss compiled .keras files name)

__all__ = ["INPUT_SIZE", "MapDe", "MicroNet", "PerImageStandardization", "build_mapde", "build_micronet"]

INPUT_SIZE = 252  # Micro-Net's valid convolutions only line up for 252 x 252 inputs (see MicroNet)

# Filter counts of the full-size network: encoder groups b1-b4, bottleneck b5, decoder b6-b9, heads.
_ENCODER = (64, 128, 256, 512)
_BOTTLENECK = 2048
_DECODER = (1024, 512, 256, 128)
_HEADS = (64, 128, 256)


@keras.saving.register_keras_serializable(package="cellrepro")
class PerImageStandardization(keras.layers.Layer):
    """``x / 255`` then ``(x - mean) / max(std, 1 / sqrt(N))`` per image (Micro-Net pre-processing).

    The same as ``tf.image.per_image_standardization`` applied to ``x / 255``, written with
    ``keras.ops`` so it runs under every backend. Input: RGB in [0, 255].
    """

    def call(self, x):
        x = ops.cast(x, "float32") / 255.0
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = ops.std(x, axis=(1, 2, 3), keepdims=True)
        n = ops.cast(ops.prod(ops.shape(x)[1:]), "float32")
        return (x - mean) / ops.maximum(std, 1.0 / ops.sqrt(n))

    def compute_output_shape(self, input_shape):
        return input_shape


def _filters(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _micronet_graph(inputs, n_outputs: int, width: float, out_activation: str, head_activation: str,
                    aux_outputs: bool, dropout: float):
    """Builds Micro-Net's layers on ``inputs``; returns ``(main, [aux1, aux2, aux3] or [])``."""
    width, dropout = float(width), float(dropout)
    L = keras.layers

    def conv(f, k, name, act="tanh"):
        return L.Conv2D(_filters(f, width), k, padding="valid", activation=act, name=name)

    def bn(name):
        return L.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)

    x0 = PerImageStandardization(name="standardize")(inputs)
    x, skips, size = x0, [], INPUT_SIZE
    for i, f in enumerate(_ENCODER, start=1):
        a = bn(f"b{i}_a_bn")(conv(f, 3, f"b{i}_a_conv1")(x))
        a = L.MaxPooling2D(2, name=f"b{i}_a_pool")(conv(f, 3, f"b{i}_a_conv2")(a))
        size = (size - 4) // 2
        r = L.Resizing(size + 4, size + 4, interpolation="bicubic", name=f"b{i}_resize")(x0)
        b = bn(f"b{i}_b_bn")(conv(f, 3, f"b{i}_b_conv1")(r))
        b = conv(f, 3, f"b{i}_b_conv2")(b)
        x = L.Concatenate(name=f"b{i}")([a, b])
        skips.append(x)
    x = conv(_BOTTLENECK, 3, "b5_conv2")(conv(_BOTTLENECK, 3, "b5_conv1")(x))
    ups = []
    for i, (f, skip) in enumerate(zip(_DECODER, reversed(skips)), start=6):
        n = _filters(f, width)
        a = L.Conv2DTranspose(n, 2, strides=2, padding="valid", name=f"b{i}_up")(x)
        a = conv(f, 3, f"b{i}_conv2")(conv(f, 3, f"b{i}_conv1")(a))
        a = L.Conv2DTranspose(n, 5, strides=1, padding="valid", name=f"b{i}_a_convt")(a)
        s = L.Conv2DTranspose(n, 5, strides=1, padding="valid", name=f"b{i}_skip_convt")(skip)
        x = conv(f, 1, f"b{i}", act="tanh")(L.Concatenate(name=f"b{i}_concat")([a, s]))
        ups.append(x)
    # fm1 from b9 (x2), fm2 from b8 (x4), fm3 from b7 (x8).
    fms = []
    for j, (f, src, k) in enumerate(zip(_HEADS, (ups[3], ups[2], ups[1]), (2, 4, 8)), start=1):
        n = _filters(f, width)
        m = L.Conv2DTranspose(n, k, strides=k, padding="valid", name=f"fm{j}_up")(src)
        fms.append(conv(f, 3, f"fm{j}", act=head_activation)(m))
    aux_act = "softmax" if out_activation == "softmax" else out_activation

    def head(src, name, act):
        d = L.SpatialDropout2D(dropout, name=f"{name}_dropout")(src)
        return L.Conv2D(n_outputs, 3, padding="valid", activation=act, dtype="float32", name=name)(d)

    main = head(L.Concatenate(name="fm_concat")(fms), "main", out_activation)
    aux = [head(fm, f"aux{j}", aux_act) for j, fm in enumerate(fms, start=1)] if aux_outputs else []
    return main, aux


@keras.saving.register_keras_serializable(package="cellrepro")
class MicroNet(ConstructorConfig, keras.Model):
    """Micro-Net for 252 x 252 RGB input (valid convolutions throughout; output 252 x 252).

    * Group 1 (b1-b4): two paths concatenated. Path a: conv3x3 -> tanh -> BatchNorm -> conv3x3 ->
      tanh -> max-pool 2. Path b: the input resized (bicubic) to the pooled size + 4 (128, 64, 32,
      16) -> conv3x3 -> tanh -> BatchNorm -> conv3x3 -> tanh. 124, 60, 28, 12 px.
    * Group 2 (b5): two conv3x3 + tanh -> 8 px.
    * Group 3 (b6-b9): transposed conv 2x2 stride 2 -> two conv3x3 tanh -> transposed conv 5x5
      stride 1 (+4 px); the skip (b4..b1) through its own 5x5 transposed conv; concatenated, then
      conv1x1 tanh. 16, 32, 64, 128 px.
    * Group 4 heads: fm1-fm3 = transposed conv (2, 4, 8, stride = kernel) of b9, b8, b7 -> conv3x3
      -> ``head_activation`` (tanh in Micro-Net, ReLU in MapDe) -> 254 px.
    * Outputs: dropout (spatial, 0.5) -> conv3x3 -> 252 px. Main output from concat(fm1, fm2, fm3)
      with ``out_activation``; auxiliary outputs aux1-aux3 from fm1-fm3 (softmax for a softmax
      main output, else the main output's activation).

    The input is raw RGB in [0, 255]; the model standardises each image itself.

    Args:
        n_outputs: channels of each output (2 for Micro-Net segmentation; 1 per mapped channel for
            MapDe and the Micro-Net-Peak regression).
        width: factor on every filter count (1.0 = the paper's network; 0.0625 for quick CPU runs).
        out_activation: ``"softmax"`` (segmentation), ``"relu"`` (MapDe / regression) or ``"tanh"``.
        head_activation: activation of the group-4 feature maps (``"tanh"`` or ``"relu"``).
        aux_outputs: return ``{"main", "aux1", "aux2", "aux3"}`` instead of the main map alone.
        dropout: spatial dropout rate before each output convolution.
    """

    def __init__(self, n_outputs: int = 2, width: float = 1.0, out_activation: str = "softmax",
                 head_activation: str = "tanh", aux_outputs: bool = True, dropout: float = 0.5, **kwargs):
        n_outputs = int(n_outputs)
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
        if not 0 < float(width) <= 4:
            raise ValueError(f"width must be in (0, 4], got {width}")
        if out_activation not in ("softmax", "relu", "tanh", "sigmoid", "linear"):
            raise ValueError(f"out_activation must be softmax, relu, tanh, sigmoid or linear, got {out_activation!r}")
        if head_activation not in ("tanh", "relu"):
            raise ValueError(f"head_activation must be 'tanh' or 'relu', got {head_activation!r}")
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        width, dropout = float(width), float(dropout)
        inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
        main, aux = _micronet_graph(inputs, n_outputs, width, out_activation, head_activation, aux_outputs, dropout)
        outputs = {"main": main, **{f"aux{j}": a for j, a in enumerate(aux, start=1)}} if aux_outputs else main
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.n_outputs, self.width, self.dropout = n_outputs, width, dropout
        self.out_activation, self.head_activation, self.aux_outputs = out_activation, head_activation, bool(aux_outputs)

    CONFIG = {k: k for k in ("n_outputs", "width", "out_activation", "head_activation", "aux_outputs", "dropout")}


@keras.saving.register_keras_serializable(package="cellrepro")
class MapDe(ConstructorConfig, keras.Model):
    """MapDe (Fig. 2b): Micro-Net with ReLU outputs, then the fixed mapping filter, then ReLU.

    The Micro-Net layers (output layer ``main``; ReLU heads and main output, no auxiliary outputs, as
    in TIAToolbox's forward pass) produces the layer L-1 map with ``n_channels`` channels; the
    non-trainable :class:`common.layers.FixedConv2D` ``mapping_filter`` convolves each channel with
    the eq. 1 filter (``mode="diagonal"``: one mapped channel per cell type, the paper's proposed
    extension; with one channel it is the paper's network).

    Args:
        n_channels: mapped output channels (1 = all cells; ``n_classes`` = one per cell type).
        width: Micro-Net width factor.
        radius: mapping-filter radius r in pixels (eq. 1; 5).
        filter_size: mapping-filter side (11).
        dropout: Micro-Net output dropout.
    """

    def __init__(self, n_channels: int = 1, width: float = 1.0, radius: float = 5.0, filter_size: int = 11,
                 dropout: float = 0.5, **kwargs):
        inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
        feat, _ = _micronet_graph(inputs, int(n_channels), float(width), "relu", "relu", False, float(dropout))
        mapped = FixedConv2D.from_filter(mapping_filter(radius, filter_size), n_channels, n_channels, mode="diagonal",
                                         padding="same", activation="relu", dtype="float32",
                                         name="mapping_filter")(feat)
        super().__init__(inputs=inputs, outputs=mapped, **kwargs)
        self.n_channels, self.width, self.radius = int(n_channels), float(width), float(radius)
        self.filter_size, self.dropout = int(filter_size), float(dropout)

    @property
    def filter(self) -> np.ndarray:
        """The 2-D mapping filter (eq. 1) the fixed layer holds."""
        return mapping_filter(self.radius, self.filter_size)

    def feature_model(self) -> keras.Model:
        """``image -> (mapped output, layer L-1 map)`` sharing this model's weights (Fig. 2c, 2d)."""
        feat = self.get_layer("main").output
        return keras.Model(self.input, [self.output, feat], name=f"{self.name}_with_features")

    CONFIG = {k: k for k in ("n_channels", "width", "radius", "filter_size", "dropout")}


def _n_channels(config, n_classes: int | None) -> int:
    if not config.per_class:
        return 1
    if n_classes is None or int(n_classes) < 1:
        raise ValueError("per_class=True needs n_classes (the number of cell types)")
    return int(n_classes)


def build_micronet(config, n_classes: int | None = None, aux_outputs: bool | None = None) -> MicroNet:
    """The Micro-Net of a :class:`mapde.config.MapDeConfig`: ReLU heads and output regressing the
    artificial labels directly (the Micro-Net-Peak baseline). It has auxiliary outputs when
    ``aux_outputs`` is True, or by default when ``config.aux_weight > 0`` (they are then trained)."""
    aux = config.aux_weight > 0 if aux_outputs is None else bool(aux_outputs)
    return MicroNet(_n_channels(config, n_classes), config.width, out_activation="relu", head_activation="relu",
                    aux_outputs=aux, dropout=config.dropout, name="micronet_peak")


def build_mapde(config, n_classes: int | None = None) -> MapDe:
    """MapDe for a :class:`mapde.config.MapDeConfig` (``n_classes`` is needed when ``per_class``)."""
    return MapDe(_n_channels(config, n_classes), config.width, config.radius, config.filter_size, config.dropout,
                 name="mapde")
