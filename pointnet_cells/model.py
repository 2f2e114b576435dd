"""The point-proposal network of Shui et al. (section 2, Fig. 1), its P2PNet baseline, and Table 1's
density-regression competitors (:class:`DensityNet`, after the module's point-model code).

* **Backbone**: VGG16 (``keras.applications.VGG16``, no top; ImageNet weights from a file the user
  gives, else random initialisation, said so). At ``width < 1`` (the quick preset) a VGG16-shaped
  network with the same layer names and fewer channels, built here.
* **Features** (the paper says only that the features of every level are "aggregated with a unified
  shape"; the layout is ours): ``pfa=True`` - pyramidal feature aggregation: the last convolution of
  every VGG16 block (strides 1, 2, 4, 8, 16) is reduced by a 1x1 convolution and brought to the
  stride-32 grid by a convolution whose kernel and stride are the 32 x 32 region (so the position
  of a detail inside its region is kept, which pooling would lose), the block-5 pooling (stride 32)
  by a 1x1 convolution; the six are concatenated and fused by a 1x1 convolution. ``pfa=False`` (the
  baseline, P2PNet) - P2PNet's decoder: ``block5_conv3`` (stride 16) and ``block4_conv3`` (stride 8)
  fused as its FPN-lite does at ``head_channels`` wide, P4 (stride 8, the level P2PNet's heads read)
  brought to the stride-32 grid of the anchors by a 4x4 stride-4 convolution of the same width.
  ``aggregation="pool"`` brings the PFA levels to the grid by average pooling instead of the region
  convolution (how the default was chosen: ``results/pointnet_cells/selection``).
* **Anchors**: 5 per 32 x 32 region, the region centre and the centre shifted by (-8,-8), (-8,8),
  (8,8), (8,-8) (section 3.1); refined point = anchor + offset (eq. 1), the offset being the
  regression output times ``offset_scale`` (P2PNet: 100). The regression output convolution starts
  at zero, so the proposals start on the anchors (ours; with random weights times 100 they start
  tens of pixels away and the first epochs are spent pulling them back).
* **Heads**: ``heads="independent"`` (the paper's): regression (2 per anchor), detection (background /
  cell) and classification (C), each two residual blocks (3x3 conv-ReLU-3x3 conv + identity, ReLU) then
  a 1x1 convolution; ``heads="single"`` (P2PNet): regression and one (1 + C)-way head, each of P2PNet's
  form (two 3x3 convolutions with ReLU, a 3x3 output).

Output: one tensor (B, M, 2 + K), M = 5 (H/32)(W/32) proposals in row-major region order, five per
region in the order above; columns x, y (refined, input pixels), then K logits: background, cell,
class 1..C (independent) or background, class 1..C (single).

Training: the loss (:class:`pointnet_cells.losses.PointLoss`) takes the annotations, matches the
batch's proposals to them on the host (Hungarian, eq. 2) and scores the matched targets.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common.layers import ConstructorConfig, NearestUpsampling2D

__all__ = ["ANCHOR_OFFSETS", "BroadcastLike", "DENSITY_CLASSES", "DensityNet", "PointNet", "ProposalPoints",
           "VGGPreprocess", "anchor_points", "build_density_model", "build_point_model", "logit_columns",
           "proposal_scores"]

# (dx, dy) of the five anchors of a region, in units of ``anchor_shift`` (section 3.1).
ANCHOR_OFFSETS = ((0, 0), (-1, -1), (-1, 1), (1, 1), (1, -1))
_VGG_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
RANDOM_INIT_INPUT_SCALE = 1.0 / 58.0   # one ImageNet pixel standard deviation (0-255 scale)


def anchor_points(height: int, width: int, stride: int = 32, shift: float = 8.0) -> np.ndarray:
    """The (M, 2) anchor points (x, y) of an image, M = 5 (height/stride)(width/stride); the order of
    the network's proposals (row-major regions, five anchors per region as ``ANCHOR_OFFSETS``)."""
    if height % stride or width % stride or height < stride or width < stride:
        raise ValueError(f"image sides must be positive multiples of {stride}, got {height} x {width}")
    ys, xs = np.meshgrid(np.arange(height // stride), np.arange(width // stride), indexing="ij")
    centres = np.stack([xs.ravel(), ys.ravel()], axis=1) * stride + stride / 2.0
    off = np.asarray(ANCHOR_OFFSETS, dtype=np.float64) * shift
    return (centres[:, None, :] + off[None, :, :]).reshape(-1, 2)


@keras.saving.register_keras_serializable(package="cellrepro")
class VGGPreprocess(keras.layers.Layer):
    """RGB 0-255 -> the Caffe input of Keras' ImageNet VGG16 weights (BGR, ImageNet mean subtracted),
    times ``scale`` (1 for ImageNet weights; a randomly initialised network trains better on inputs
    of unit scale, ``1 / 58`` = one ImageNet standard deviation, ours).
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, x):
        x = ops.cast(x, "float32")
        bgr = ops.flip(x, axis=-1)
        return (bgr - ops.convert_to_tensor(np.asarray(_CAFFE_MEAN_BGR, "float32"))) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="cellrepro")
class ProposalPoints(keras.layers.Layer):
    """Regression map (B, h, w, 2A) -> refined proposal points (B, h w A, 2): anchor + offset (eq. 1).

    Args:
        stride: pixels per feature-map cell (32).
        shift: the anchors' shift from the region centre (8 px).
        scale: factor on the regression output (P2PNet: 100).
    """

    def __init__(self, stride: int = 32, shift: float = 8.0, scale: float = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.stride, self.shift, self.scale = int(stride), float(shift), float(scale)

    def call(self, reg):
        shape = ops.shape(reg)
        b, h, w = shape[0], shape[1], shape[2]
        a = len(ANCHOR_OFFSETS)
        ys = (ops.cast(ops.arange(h), "float32") + 0.5) * self.stride
        xs = (ops.cast(ops.arange(w), "float32") + 0.5) * self.stride
        gx = ops.broadcast_to(xs[None, :, None], (h, w, a))
        gy = ops.broadcast_to(ys[:, None, None], (h, w, a))
        off = ops.convert_to_tensor(np.asarray(ANCHOR_OFFSETS, "float32") * self.shift)
        anchors = ops.stack([gx + off[:, 0], gy + off[:, 1]], axis=-1)          # (h, w, A, 2)
        delta = ops.reshape(reg, (b, h, w, a, 2)) * self.scale
        return ops.reshape(anchors[None] + delta, (b, -1, 2))

    def compute_output_shape(self, input_shape):
        b, h, w = input_shape[0], input_shape[1], input_shape[2]
        m = None if h is None or w is None else h * w * len(ANCHOR_OFFSETS)
        return (b, m, 2)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "shift": self.shift, "scale": self.scale}


def _vgg16(width: float, name: str = "vgg16"):
    """VGG16's convolutional part as a functional model (Keras' own at width 1)."""
    if width == 1.0:
        return keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3), name=name)
    L = keras.layers
    inp = keras.Input((None, None, 3), name="input")
    x = inp
    for b, (n, f) in enumerate(_VGG_BLOCKS, start=1):
        for k in range(1, n + 1):
            x = L.Conv2D(max(4, int(round(f * width))), 3, padding="same", activation="relu",
                         name=f"block{b}_conv{k}")(x)
        x = L.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    return keras.Model(inp, x, name=name)


def _taps(vgg) -> list:
    """The last convolution of each block (strides 1-16) and block5_pool (stride 32)."""
    names = [f"block{b}_conv{n}" for b, (n, _) in enumerate(_VGG_BLOCKS, start=1)] + ["block5_pool"]
    return [vgg.get_layer(n).output for n in names]


_SINGLE_LEVEL = 3   # index in _taps of the baseline's one level: block4_conv3 (stride 8, the level P2PNet's heads read)


def _p2pnet_features(levels, channels: int):
    """P2PNet's decoder (an FPN-lite of ``channels``): P5 = 1x1(C16), P4 = 3x3(1x1(C8) + up2(P5)); only P4
    (stride 8) feeds its heads. Here P4 is then brought to the stride-32 grid of the anchors by a 4x4 stride-4
    convolution of the same width (P2PNet places its anchors on the stride-8 grid itself)."""
    L = keras.layers
    c8, c16 = levels
    p5 = L.Conv2D(channels, 1, name="p2p_p5")(c16)
    p4 = L.Add(name="p2p_p4_sum")([L.Conv2D(channels, 1, name="p2p_p4_lateral")(c8),
                                   NearestUpsampling2D(2, name="p2p_p5_up")(p5)])
    p4 = L.Conv2D(channels, 3, padding="same", name="p2p_p4")(p4)
    return L.Conv2D(channels, 4, strides=4, activation="relu", name="p2p_grid")(p4)


def _p2pnet_head(x, channels: int, outputs: int, name: str, zero: bool = False):
    """P2PNet's head: two 3x3 convolutions of ``channels`` with ReLU, then a 3x3 convolution to ``outputs``."""
    L = keras.layers
    for k in (1, 2):
        x = L.Conv2D(channels, 3, padding="same", activation="relu", name=f"{name}_conv{k}")(x)
    init = "zeros" if zero else "glorot_uniform"
    return L.Conv2D(outputs, 3, padding="same", kernel_initializer=init, name=f"{name}_out")(x)


def _head(x, channels: int, outputs: int, name: str, zero: bool = False):
    L = keras.layers
    for k in (1, 2):
        y = L.Conv2D(channels, 3, padding="same", activation="relu", name=f"{name}_res{k}_conv1")(x)
        y = L.Conv2D(channels, 3, padding="same", name=f"{name}_res{k}_conv2")(y)
        x = L.ReLU(name=f"{name}_res{k}_relu")(L.Add(name=f"{name}_res{k}_add")([x, y]))
    init = "zeros" if zero else "glorot_uniform"
    return L.Conv2D(outputs, 1, kernel_initializer=init, name=f"{name}_out")(x)


def logit_columns(heads: str, n_classes: int) -> dict:
    """Where the logits of each head sit in the output's last axis (after x, y)."""
    if heads == "independent":
        return {"det": slice(2, 4), "cls": slice(4, 4 + n_classes)}
    return {"all": slice(2, 3 + n_classes)}


@keras.saving.register_keras_serializable(package="cellrepro")
class PointNet(ConstructorConfig, keras.Model):
    """Point proposals with regression, detection and classification heads (see the module docstring).

    Args:
        n_classes: cell classes C.
        width: VGG16 channel factor (1.0: ``keras.applications.VGG16``).
        head_channels: channels of the aggregated features and of every head block.
        pfa: pyramidal feature aggregation (False: one feature level, the baseline).
        heads: ``"independent"`` (detection + classification) or ``"single"`` (P2PNet's 1 + C-way).
        p2pnet: the baseline is P2PNet's: without ``pfa`` its FPN-lite fusion of the stride-8 and stride-16
            features (:func:`_p2pnet_features`), and a single head of P2PNet's form (two 3x3 convolutions
            of ``head_channels``, then a 3x3 output). False: the layout of runs made before it (one level,
            ``block4_conv3``, squeezed to ``head_channels // 8`` channels; residual heads everywhere).
        aggregation: how PFA brings a level of stride < 32 to the anchors' grid: ``"region"`` (a
            convolution whose kernel and stride are the 32 px region, ours) or ``"pool"`` (average pooling).
        anchor_shift: the anchors' shift from the region centre (8 px).
        offset_scale: factor on the regression output (100).
        input_scale: factor on the Caffe-preprocessed input (1 for ImageNet weights, see :class:`VGGPreprocess`).
    """

    stride = 32

    def __init__(self, n_classes: int = 4, width: float = 1.0, head_channels: int = 256, pfa: bool = True,
                 heads: str = "independent", anchor_shift: float = 8.0, offset_scale: float = 100.0,
                 input_scale: float = 1.0, p2pnet: bool = False, aggregation: str = "region", **kwargs):
        n_classes, head_channels = int(n_classes), int(head_channels)
        if n_classes < 1 or head_channels < 1:
            raise ValueError(f"n_classes and head_channels must be >= 1, got {n_classes}, {head_channels}")
        if heads not in ("independent", "single"):
            raise ValueError(f"heads must be 'independent' or 'single', got {heads!r}")
        if aggregation not in ("region", "pool"):
            raise ValueError(f"aggregation must be 'region' or 'pool', got {aggregation!r}")
        if not 0 < float(width) <= 2:
            raise ValueError(f"width must be in (0, 2], got {width}")
        L = keras.layers
        vgg = _vgg16(float(width))
        taps = _taps(vgg)
        fpn = p2pnet and not pfa
        outs = taps if pfa else ([taps[_SINGLE_LEVEL], taps[_SINGLE_LEVEL + 1]] if fpn else [taps[_SINGLE_LEVEL]])
        features = keras.Model(vgg.input, outs, name="backbone")
        image = keras.Input((None, None, 3), name="image")
        levels = features(VGGPreprocess(input_scale, name="preprocess")(image))
        levels = levels if isinstance(levels, (list, tuple)) else [levels]
        if fpn:
            x = _p2pnet_features(levels, head_channels)
        else:
            strides = (1, 2, 4, 8, 16, 32) if pfa else ((1, 2, 4, 8, 16, 32)[_SINGLE_LEVEL],)
            reduce = max(4, head_channels // 8)
            parts = []
            for s, f in zip(strides, levels):
                if s < 32 and aggregation == "pool":   # the region's mean, then its channels projected
                    f = L.AveragePooling2D(32 // s, name=f"pfa_pool_s{s}")(f)
                    f = L.Conv2D(head_channels, 1, activation="relu", name=f"pfa_proj_s{s}")(f)
                elif s < 32:   # each 32 x 32 region's patch of this level -> one vector, position kept (ours)
                    f = L.Conv2D(reduce, 1, activation="relu", name=f"pfa_reduce_s{s}")(f)
                    f = L.Conv2D(head_channels, 32 // s, strides=32 // s, activation="relu",
                                 name=f"pfa_patch_s{s}")(f)
                else:
                    f = L.Conv2D(head_channels, 1, activation="relu", name=f"pfa_proj_s{s}")(f)
                parts.append(f)
            x = L.Concatenate(name="pfa_concat")(parts) if len(parts) > 1 else parts[0]
            x = L.Conv2D(head_channels, 1, activation="relu", name="pfa_fuse")(x)
        a = len(ANCHOR_OFFSETS)
        head = _p2pnet_head if p2pnet and heads == "single" else _head
        reg = head(x, head_channels, 2 * a, "reg", zero=True)   # proposals start at the anchors (ours)
        points = ProposalPoints(self.stride, anchor_shift, offset_scale, name="points")(reg)
        if heads == "independent":
            det = L.Reshape((-1, 2), name="det_logits")(head(x, head_channels, 2 * a, "det"))
            cls = L.Reshape((-1, n_classes), name="cls_logits")(head(x, head_channels, n_classes * a, "cls"))
            logits = [det, cls]
        else:
            logits = [L.Reshape((-1, 1 + n_classes), name="logits")(head(x, head_channels, (1 + n_classes) * a,
                                                                          "cls"))]
        out = L.Concatenate(axis=-1, name="proposals", dtype="float32")([points, *logits])
        super().__init__(inputs=image, outputs=out, **kwargs)
        self.n_classes, self.width, self.head_channels, self.pfa = n_classes, float(width), head_channels, bool(pfa)
        self.heads, self.anchor_shift, self.offset_scale = heads, float(anchor_shift), float(offset_scale)
        self.input_scale, self.p2pnet, self.aggregation = float(input_scale), bool(p2pnet), aggregation

    CONFIG = {"n_classes": "n_classes", "width": "width", "head_channels": "head_channels", "pfa": "pfa",
              "heads": "heads", "anchor_shift": "anchor_shift", "offset_scale": "offset_scale",
              "input_scale": "input_scale", "p2pnet": "p2pnet", "aggregation": "aggregation"}

    @property
    def backbone(self) -> keras.Model:
        return self.get_layer("backbone")


def proposal_scores(raw: np.ndarray, heads: str, n_classes: int):
    """Raw proposals (..., M, 2 + K) -> ``(points (..., M, 2), p_obj (..., M), p_cls (..., M, C))``
    (softmax probabilities; for the single head p_obj = 1 - p_background and p_cls the class
    probabilities renormalised over the C classes)."""
    raw = np.asarray(raw, dtype=np.float64)
    cols = logit_columns(heads, n_classes)

    def softmax(z):
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    if heads == "independent":
        p_obj = softmax(raw[..., cols["det"]])[..., 1]
        p_cls = softmax(raw[..., cols["cls"]])
    else:
        p = softmax(raw[..., cols["all"]])
        p_obj = 1.0 - p[..., 0]
        p_cls = p[..., 1:] / np.maximum(p[..., 1:].sum(axis=-1, keepdims=True), 1e-12)
    return raw[..., :2], p_obj, p_cls


def build_point_model(config, n_classes: int, verbose: bool = True) -> PointNet:
    """The row's :class:`PointNet`; ImageNet VGG16 weights from ``config.vgg_weights`` when given
    (Keras' ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``), else random init with a notice."""
    import os
    import sys

    model = PointNet(n_classes, width=config.width, head_channels=config.head_channels, pfa=config.pfa,
                     heads=config.heads, anchor_shift=config.anchor_shift, offset_scale=config.offset_scale,
                     input_scale=1.0 if config.vgg_weights else RANDOM_INIT_INPUT_SCALE, p2pnet=config.p2pnet,
                     aggregation=config.aggregation, name="pointnet")
    if config.vgg_weights:
        if config.width != 1.0:
            raise ValueError(f"ImageNet VGG16 weights fit width 1.0 only, got width {config.width}")
        if not os.path.isfile(config.vgg_weights):
            raise FileNotFoundError(f"no VGG16 weights file at {config.vgg_weights}")
        vgg = model.backbone
        try:
            vgg.load_weights(config.vgg_weights, skip_mismatch=False)
        except Exception as exc:  # noqa: BLE001 - any reader error: say what the file should be
            raise ValueError(f"{config.vgg_weights}: not Keras' VGG16 no-top weights ({exc})") from exc
    elif verbose:
        print("pointnet_cells: VGG16 starts from random weights (no vgg_weights file given; the paper uses "
              "ImageNet weights)", file=sys.stderr)
    return model


# ------------------------------------------------------------------------------------------------
# Table 1's density-regression competitors
#
# Table 1's density-regression competitors: FCRN-A, FCRN-B, U-Net, ResUNet, DeepLab v3+ and the
# multi-task model of Zhang et al. (ISBI 2022).
#
# Section 3.1 of Shui et al.: reference density maps (RDMs) from a 7 x 7 Gaussian (sigma 6) on the
# points; BCE (weight 0.8) + IoU (0.2) loss; cells are local maxima of the predicted map. The paper
# scores detection *and* classification for these models without saying how they classify; ours:
# every network outputs 1 + C sigmoid maps - the RDM of all cells (detection) and one RDM per class -
# and a detected cell takes the class whose map is largest at its peak.
#
# Architectures (ours, after the cited papers; none ships with Keras):
#
# * FCRN-A / FCRN-B (Xie, Noble, Zisserman 2018): 3x3 conv-ReLU blocks with three (A) or two (B,
#   with 5x5 convolutions) 2x2 poolings, a wide "fully-connected" convolution, and upsampling +
#   convolution back to full size (nearest-neighbour upsampling: Keras' bilinear one needs static
#   shapes in a TensorFlow graph, and the convolution after it smooths).
# * UNet: ``common.baselines.unet.UNet`` (4 levels).
# * ResUNet (Zhang, Liu, Wang 2018): residual units (BN-ReLU-conv x 2 + projected shortcut), three
#   encoder levels, a bridge and three decoder levels with skip concatenation.
# * DeepLab v3+ (Chen et al. 2018): a ResNet-style encoder at output stride 16 (dilated last
#   stage), ASPP (1x1, 3x3 at rates 6 / 12 / 18, image pooling), and the v3+ decoder (4x upsample,
#   48-channel stride-4 skip, two 3x3 convolutions, 4x upsample, here nearest-neighbour followed by a
#   3x3 convolution). keras-hub's DeepLabV3 is not a
#   dependency of ours (it pins its own Keras), so this is our own compact version.
# * Zhang (ISBI 2022; its code is not public): our reading of "multi-task" - a shared U-Net encoder
#   with two decoders, one for the all-cells RDM and one for the C class RDMs, both trained with the
#   same BCE + IoU loss.


@keras.saving.register_keras_serializable(package="cellrepro")
class BroadcastLike(keras.layers.Layer):
    """A (B, 1, 1, C) tensor repeated over the height and width of ``like`` (DeepLab's image-pooling branch)."""

    def call(self, x, like):
        return x + ops.zeros_like(like[..., :1])

    def compute_output_shape(self, x_shape, like_shape):
        return (x_shape[0], like_shape[1], like_shape[2], x_shape[3])


def _c(f, width):
    return max(4, int(round(f * width)))


def _conv(x, f, k, name, rate=1, act=True, bn=False):
    L = keras.layers
    x = L.Conv2D(f, k, padding="same", dilation_rate=rate, use_bias=not bn, name=name)(x)
    if bn:
        x = L.BatchNormalization(name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x) if act else x


def _up(x, f, k, name):
    x = NearestUpsampling2D(2, name=f"{name}_up")(x)
    return _conv(x, f, k, name)


def _fcrn_a(x, w):
    x = _conv(x, _c(32, w), 3, "c1")
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = _conv(x, _c(64, w), 3, "c2")
    x = keras.layers.MaxPooling2D(2, name="p2")(x)
    x = _conv(x, _c(128, w), 3, "c3")
    x = keras.layers.MaxPooling2D(2, name="p3")(x)
    x = _conv(x, _c(512, w), 3, "fc")
    x = _up(x, _c(128, w), 3, "u1")
    x = _up(x, _c(64, w), 3, "u2")
    return _up(x, _c(32, w), 3, "u3")


def _fcrn_b(x, w):
    x = _conv(x, _c(32, w), 3, "c1")
    x = _conv(x, _c(64, w), 3, "c2")
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = _conv(x, _c(128, w), 3, "c3")
    x = _conv(x, _c(256, w), 5, "c4")
    x = keras.layers.MaxPooling2D(2, name="p2")(x)
    x = _conv(x, _c(256, w), 3, "fc")
    x = _up(x, _c(256, w), 5, "u1")
    return _up(x, _c(256, w), 5, "u2")


def _res_unit(x, f, name, first=False, stride=1):
    L = keras.layers
    y = x if first else L.ReLU(name=f"{name}_r0")(L.BatchNormalization(name=f"{name}_bn0")(x))
    y = L.Conv2D(f, 3, strides=stride, padding="same", name=f"{name}_c1")(y)
    y = L.ReLU(name=f"{name}_r1")(L.BatchNormalization(name=f"{name}_bn1")(y))
    y = L.Conv2D(f, 3, padding="same", name=f"{name}_c2")(y)
    s = L.BatchNormalization(name=f"{name}_sbn")(L.Conv2D(f, 1, strides=stride, name=f"{name}_sc")(x))
    return L.Add(name=f"{name}_add")([y, s])


def _resunet(x, w):
    L = keras.layers
    e1 = _res_unit(x, _c(64, w), "e1", first=True)
    e2 = _res_unit(e1, _c(128, w), "e2", stride=2)
    e3 = _res_unit(e2, _c(256, w), "e3", stride=2)
    b = _res_unit(e3, _c(512, w), "bridge", stride=2)
    for name, skip, f in (("d3", e3, 256), ("d2", e2, 128), ("d1", e1, 64)):
        b = L.Concatenate(name=f"{name}_cat")([NearestUpsampling2D(2, name=f"{name}_up")(b), skip])
        b = _res_unit(b, _c(f, w), name)
    return b


def _deeplabv3plus(x, w):
    L = keras.layers
    x = _conv(x, _c(32, w), 3, "stem1", bn=True)
    x = L.Conv2D(_c(64, w), 3, strides=2, padding="same", name="stem2")(x)             # /2
    x = _res_unit(x, _c(64, w), "s1", stride=2)                                        # /4
    low = x
    x = _res_unit(x, _c(128, w), "s2", stride=2)                                       # /8
    x = _res_unit(x, _c(256, w), "s3", stride=2)                                       # /16
    x = _res_unit(x, _c(256, w), "s4")
    x = L.ReLU(name="enc_relu")(L.BatchNormalization(name="enc_bn")(x))
    f = _c(256, w)
    branches = [_conv(x, f, 1, "aspp0", bn=True)] + [_conv(x, f, 3, f"aspp{r}", rate=r, bn=True) for r in (6, 12, 18)]
    pooled = L.GlobalAveragePooling2D(keepdims=True, name="aspp_gap")(x)
    pooled = _conv(pooled, f, 1, "aspp_pool", bn=False)
    branches.append(BroadcastLike(name="aspp_pool_up")(pooled, x))
    x = _conv(L.Concatenate(name="aspp_cat")(branches), f, 1, "aspp_proj", bn=True)
    x = NearestUpsampling2D(4, name="dec_up1")(x)
    x = L.Concatenate(name="dec_cat")([x, _conv(low, _c(48, w), 1, "dec_low", bn=True)])
    x = _conv(x, f, 3, "dec1", bn=True)
    x = _conv(x, f, 3, "dec2", bn=True)
    return _conv(NearestUpsampling2D(4, name="dec_up2")(x), f, 3, "dec3", bn=True)


def _unet_encoder(x, w, depth=4):
    L = keras.layers
    skips = []
    for level in range(depth - 1):
        f = _c(32 * 2 ** level, w)
        x = _conv(_conv(x, f, 3, f"enc{level + 1}_1"), f, 3, f"enc{level + 1}_2")
        skips.append(x)
        x = L.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    f = _c(32 * 2 ** (depth - 1), w)
    return _conv(_conv(x, f, 3, "bottleneck_1"), f, 3, "bottleneck_2"), skips


def _unet_decoder(x, skips, w, prefix):
    L = keras.layers
    for level in reversed(range(len(skips))):
        f = _c(32 * 2 ** level, w)
        x = L.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"{prefix}_up{level + 1}")(x)
        x = L.Concatenate(name=f"{prefix}_skip{level + 1}")([x, skips[level]])
        x = _conv(_conv(x, f, 3, f"{prefix}_dec{level + 1}_1"), f, 3, f"{prefix}_dec{level + 1}_2")
    return x


_ALIGN = {"fcrn_a": 8, "fcrn_b": 4, "unet": 8, "resunet": 8, "deeplabv3plus": 16, "zhang": 8}


@keras.saving.register_keras_serializable(package="cellrepro")
class DensityNet(ConstructorConfig, keras.Model):
    """A density-regression network with 1 + C sigmoid outputs (all cells, then one map per class).

    Args:
        arch: ``fcrn_a``, ``fcrn_b``, ``unet``, ``resunet``, ``deeplabv3plus`` or ``zhang``.
        n_classes: cell classes C.
        width: channel factor (1.0: the published widths).
    """

    def __init__(self, arch: str = "unet", n_classes: int = 4, width: float = 1.0, **kwargs):
        if arch not in _ALIGN:
            raise ValueError(f"arch must be one of {sorted(_ALIGN)}, got {arch!r}")
        n_classes = int(n_classes)
        if n_classes < 1 or not 0 < float(width) <= 2:
            raise ValueError(f"n_classes must be >= 1 and width in (0, 2], got {n_classes}, {width}")
        L = keras.layers
        w = float(width)
        image = keras.Input((None, None, 3), name="image")
        x = L.Rescaling(1.0 / 255.0, name="scale")(image)
        if arch == "zhang":
            bottom, skips = _unet_encoder(x, w)
            det = L.Conv2D(1, 1, activation="sigmoid", name="det_map")(_unet_decoder(bottom, skips, w, "det"))
            cls = L.Conv2D(n_classes, 1, activation="sigmoid", name="cls_maps")(_unet_decoder(bottom, skips, w, "cls"))
            out = L.Concatenate(name="maps", dtype="float32")([det, cls])
        else:
            if arch == "unet":
                bottom, skips = _unet_encoder(x, w)
                feats = _unet_decoder(bottom, skips, w, "u")
            else:
                feats = {"fcrn_a": _fcrn_a, "fcrn_b": _fcrn_b, "resunet": _resunet,
                         "deeplabv3plus": _deeplabv3plus}[arch](x, w)
            out = L.Conv2D(1 + n_classes, 1, activation="sigmoid", dtype="float32", name="maps")(feats)
        super().__init__(inputs=image, outputs=out, **kwargs)
        self.arch, self.n_classes, self.width = arch, n_classes, w

    CONFIG = {"arch": "arch", "n_classes": "n_classes", "width": "width"}

    @property
    def alignment(self) -> int:
        """Input sides must be multiples of this (the network's pooling)."""
        return _ALIGN[self.arch]


DENSITY_CLASSES = ("DensityNet",)


def build_density_model(config, n_classes: int) -> DensityNet:
    """The untrained density network of a Table 1 row (``zhang``, or ``config.density_net``)."""
    arch = "zhang" if config.model == "zhang" else config.density_net
    return DensityNet(arch, n_classes, config.density_width, name=arch)
