"""YOLOv3 (Darknet-53) and YOLOv3-tiny as three named sub-models: ``darknet``, ``multiscale``, ``detection``.

Layer structure from the Darknet cfgs as the Keras ports build them (reference_specs 4b-4c):

* every convolution is Darknet's ``[convolutional]`` section: Conv (no bias, L2 5e-4) -> BatchNorm
  -> LeakyReLU(0.1); stride-2 convolutions pad top-left (``ZeroPadding2D(((1, 0), (1, 0)))``) then
  run 'valid'; the output convolutions are linear with a bias;
* the convolutions are named ``conv_NN`` / ``bn_NN`` by their index among the cfg's convolutional
  sections, which is the order of the Darknet ``.weights`` file (:mod:`yolo_transfer.darknet`);
* ``darknet``: Darknet-53's residual stages 1-2-8-8-4 (tiny: seven conv + max-pool levels); its
  outputs are the stage-3, stage-4 and stage-5 features (strides 8, 16, 32; tiny: 16 and 32), kept
  as tensor references;
* ``multiscale``: per scale the five-convolution block (1x1 F, 3x3 2F, 1x1 F, 3x3 2F, 1x1 F), then a
  1x1 convolution, 2x upsampling and concatenation with the next-finer backbone feature (tiny: one
  1x1 convolution per scale and one upsample);
* ``detection``: per scale a 3x3 convolution (2F) and the 1x1 output convolution with
  ``A * (5 + C)`` channels (x, y, w, h, objectness, C class logits per anchor).

The model takes RGB images of any size divisible by 32 (values 0-255) and returns one raw map per
scale, coarsest first (strides 32, 16[, 8]). Freezing a stage is ``model.get_layer("darknet")
.trainable = False`` (:func:`set_trainable_modules`).
"""

from __future__ import annotations

import keras
import numpy as np

from common.layers import ConstructorConfig, NearestUpsampling2D
from yolo_transfer import losses  # noqa: F401  (registers the loss compiled .keras files name)

__all__ = ["COCO_ANCHORS", "TINY_ANCHORS", "YOLOv3", "build_yolo", "coco_anchors", "conv_layers",
           "set_trainable_modules"]

# COCO anchors in pixels at 416 (reference_specs 4c), smallest first.
COCO_ANCHORS = ((10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326))
TINY_ANCHORS = ((10, 14), (23, 27), (37, 58), (81, 82), (135, 169), (344, 319))
VARIANTS = ("yolov3", "tiny")


class _Builder:
    """Adds Darknet convolutional sections with their cfg index as the layer name."""

    def __init__(self, width: float, weight_decay: float, bn_momentum: float = 0.99):
        self.width, self.index, self.bn_momentum = float(width), 0, float(bn_momentum)
        self.reg = keras.regularizers.L2(weight_decay) if weight_decay else None

    def filters(self, f: int) -> int:
        return max(4, int(round(f * self.width)))

    def conv(self, x, filters: int, size: int, stride: int = 1, scaled: bool = True):
        i = self.index
        self.index += 1
        f = self.filters(filters) if scaled else filters
        if stride == 2:
            x = keras.layers.ZeroPadding2D(((1, 0), (1, 0)), name=f"pad_{i:02d}")(x)
        x = keras.layers.Conv2D(f, size, strides=stride, padding="valid" if stride == 2 else "same", use_bias=False,
                                kernel_regularizer=self.reg, name=f"conv_{i:02d}")(x)
        x = keras.layers.BatchNormalization(momentum=self.bn_momentum, epsilon=1e-5, name=f"bn_{i:02d}")(x)
        return keras.layers.LeakyReLU(negative_slope=0.1, name=f"leaky_{i:02d}")(x)

    def output(self, x, channels: int):
        i = self.index
        self.index += 1
        return keras.layers.Conv2D(channels, 1, use_bias=True, kernel_regularizer=self.reg, name=f"conv_{i:02d}")(x)


def _darknet53(b: _Builder, name: str):
    inp = keras.Input((None, None, 3), name="image01")
    x = b.conv(inp, 32, 3)
    taps = []
    for filters, blocks in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        x = b.conv(x, filters, 3, stride=2)
        for k in range(blocks):
            y = b.conv(x, filters // 2, 1)
            y = b.conv(y, filters, 3)
            x = keras.layers.Add(name=f"res_{b.index - 1:02d}")([x, y])
        taps.append(x)
    # stage outputs: stride 8 (256), 16 (512), 32 (1024)
    return keras.Model(inp, taps[2:], name=name)


def _darknet_tiny(b: _Builder, name: str):
    inp = keras.Input((None, None, 3), name="image01")
    x, tap = inp, None
    for k, filters in enumerate((16, 32, 64, 128, 256, 512)):
        x = b.conv(x, filters, 3)
        if k == 4:
            tap = x                          # stride 16, 256 channels
        if k < 5:
            x = keras.layers.MaxPooling2D(2, 2, name=f"pool_{k}")(x)
        else:                                 # Darknet's size-2 stride-1 max-pool (pads right/bottom)
            x = keras.layers.MaxPooling2D(2, 1, padding="same", name=f"pool_{k}")(x)
    x = b.conv(x, 1024, 3)
    return keras.Model(inp, [tap, x], name=name)


def _specs(model):
    return [keras.Input(t.shape[1:], name=f"in_{k}") for k, t in enumerate(model.outputs)]


def _yolov3_head(b: _Builder, darknet, n_out: int):
    """(multiscale, detection) sub-models of YOLOv3, adding convolutions in Darknet cfg order."""
    f8, f16, f32 = _specs(darknet)
    branches, det_in, det_out = [], [], []
    # The cfg interleaves the two modules, so both are built in one pass and split afterwards.
    x = f32
    for filters, skip in ((512, f16), (256, f8), (128, None)):
        for k, (f, s) in enumerate(((filters, 1), (filters * 2, 3), (filters, 1), (filters * 2, 3), (filters, 1))):
            x = b.conv(x, f, s)
        branches.append(x)
        d_in = keras.Input(x.shape[1:], name=f"branch_{len(branches) - 1}")
        det_in.append(d_in)
        y = b.conv(d_in, filters * 2, 3)
        det_out.append(b.output(y, n_out))
        if skip is not None:
            x = b.conv(x, filters // 2, 1)
            x = NearestUpsampling2D(2, name=f"up_{b.index - 1:02d}")(x)
            x = keras.layers.Concatenate(name=f"cat_{b.index - 1:02d}")([x, skip])
    multiscale = keras.Model([f8, f16, f32], branches, name="multiscale")
    detection = keras.Model(det_in, det_out, name="detection")
    return multiscale, detection


def _tiny_head(b: _Builder, darknet, n_out: int):
    f16, f32 = _specs(darknet)
    x = b.conv(f32, 256, 1)                                          # 7: branch of the stride-32 scale
    d0 = keras.Input(x.shape[1:], name="branch_0")
    y0 = b.output(b.conv(d0, 512, 3), n_out)                          # 8, 9
    z = b.conv(x, 128, 1)                                            # 10
    z = NearestUpsampling2D(2, name="up_10")(z)
    z = keras.layers.Concatenate(name="cat_10")([z, f16])
    d1 = keras.Input(z.shape[1:], name="branch_1")
    y1 = b.output(b.conv(d1, 256, 3), n_out)                          # 11, 12
    # The cfg order is 7, 8, 9, 10, 11, 12: built in that order above.
    return keras.Model([f16, f32], [x, z], name="multiscale"), keras.Model([d0, d1], [y0, y1], name="detection")


@keras.saving.register_keras_serializable(package="cellrepro")
class YOLOv3(ConstructorConfig, keras.Model):
    """YOLOv3 or YOLOv3-tiny with named sub-models ``darknet``, ``multiscale`` and ``detection``.

    Args:
        n_classes: C, the number of object classes.
        anchors: (A * S) anchor (width, height) pairs in network-input pixels, smallest first; scale
            s (0 = stride 32) uses the s-th group of A from the largest (YOLOv3 masks 6-8, 3-5, 0-2).
        variant: ``"yolov3"`` (Darknet-53, S = 3 scales) or ``"tiny"`` (S = 2).
        width: filter multiplier (1.0: the published networks).
        input_size: the nominal square input side (the model accepts any multiple of 32).
        weight_decay: L2 factor on every kernel (5e-4, as Darknet and keras-yolo3).
        objectness_prior: start the output convolutions' objectness biases at ``logit(prior)`` (as
            YOLOv5 does; ours, for short CPU runs); None keeps Darknet's zero bias.
        bn_momentum: the BatchNorm moving-average momentum (0.99: Darknet's and Keras' default).
        trainable_modules: the sub-models that train (default: all); the others are frozen, and
            the choice is kept in the model's config, so a saved stage reloads frozen as it was.

    Call: RGB images (B, H, W, 3) with values 0-255, H and W divisible by 32 -> a list of S raw maps
    (B, H/stride, W/stride, A * (5 + C)), coarsest first.
    """

    def __init__(self, n_classes: int = 80, anchors=COCO_ANCHORS, variant: str = "yolov3", width: float = 1.0,
                 input_size: int = 416, weight_decay: float = 5e-4, trainable_modules=None,
                 objectness_prior: float | None = None, bn_momentum: float = 0.99, **kwargs):
        n_classes = int(n_classes)
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        n_scales = 3 if variant == "yolov3" else 2
        anchors = np.asarray(anchors, dtype=np.float64)
        if anchors.ndim != 2 or anchors.shape[1] != 2 or len(anchors) % n_scales or not np.all(anchors > 0):
            raise ValueError(f"anchors must be positive (w, h) pairs, a multiple of {n_scales} of them for "
                             f"{variant}; got {anchors.tolist()}")
        order = np.argsort(anchors.prod(1), kind="stable")
        anchors = anchors[order]
        n_anchors = len(anchors) // n_scales
        if not 0 <= float(bn_momentum) < 1:
            raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
        b = _Builder(width, weight_decay, bn_momentum)
        darknet = _darknet53(b, "darknet") if variant == "yolov3" else _darknet_tiny(b, "darknet")
        n_out = n_anchors * (5 + n_classes)
        multiscale, detection = (_yolov3_head if variant == "yolov3" else _tiny_head)(b, darknet, n_out)
        image = keras.Input((None, None, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 255, name="scale01")(image)
        outputs = detection(multiscale(darknet(x)))
        outputs = [keras.layers.Identity(name=f"stride{s}")(o) for s, o in zip((32, 16, 8), outputs)]
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.n_classes, self.variant, self.width, self.input_size = n_classes, variant, float(width), int(input_size)
        self.weight_decay = float(weight_decay)
        self.anchors = [[float(w), float(h)] for w, h in anchors]
        self.n_anchors, self.n_scales = n_anchors, n_scales
        self.strides = (32, 16, 8)[:n_scales]
        self.bn_momentum = float(bn_momentum)
        self.objectness_prior = None if objectness_prior is None else float(objectness_prior)
        if self.objectness_prior is not None:
            if not 0 < self.objectness_prior < 1:
                raise ValueError(f"objectness_prior must be in (0, 1), got {objectness_prior}")
            logit = float(np.log(self.objectness_prior / (1 - self.objectness_prior)))
            for layer in detection.layers:
                if isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
                    bias = np.zeros(layer.bias.shape, "float32")
                    bias[4::5 + n_classes] = logit
                    layer.bias.assign(bias)
        self.trainable_modules = ("darknet", "multiscale", "detection")
        if trainable_modules is not None:
            set_trainable_modules(self, trainable_modules)

    CONFIG = {"n_classes": "n_classes", "anchors": "anchors", "variant": "variant", "width": "width",
              "input_size": "input_size", "weight_decay": "weight_decay", "trainable_modules": "trainable_modules",
              "objectness_prior": "objectness_prior", "bn_momentum": "bn_momentum"}

    def scale_anchors(self) -> list:
        """Per output (coarsest first), its A anchors as an (A, 2) array in input pixels."""
        a = np.asarray(self.anchors)
        n = self.n_anchors
        return [a[(self.n_scales - 1 - s) * n:(self.n_scales - s) * n] for s in range(self.n_scales)]


def conv_layers(model) -> list:
    """``[(index, conv, batchnorm or None), ...]`` of a YOLO model or one of its sub-models, in Darknet
    cfg order (the order of a ``.weights`` file)."""
    found = {}

    def walk(m):
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                walk(layer)
            elif layer.name.startswith("conv_") and isinstance(layer, keras.layers.Conv2D):
                found[int(layer.name[5:])] = [layer, None]
    walk(model)

    def walk_bn(m):
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                walk_bn(layer)
            elif layer.name.startswith("bn_") and int(layer.name[3:]) in found:
                found[int(layer.name[3:])][1] = layer
    walk_bn(model)
    return [(i, *found[i]) for i in sorted(found)]


def set_trainable_modules(model: YOLOv3, modules) -> dict:
    """Makes the named sub-models trainable and freezes the others (a frozen BatchNorm also runs in
    inference mode). Recompile the model afterwards. Returns ``{module: trainable}``."""
    from yolo_transfer.config import MODULES

    modules = set(modules)
    unknown = modules - set(MODULES)
    if unknown:
        raise ValueError(f"unknown module(s) {sorted(unknown)}; the modules are {MODULES}")
    out = {}
    for name in MODULES:
        model.get_layer(name).trainable = name in modules
        out[name] = name in modules
    model.trainable_modules = tuple(m for m in MODULES if m in modules)
    return out


def coco_anchors(variant: str, input_size: int) -> np.ndarray:
    """The published COCO anchors of ``variant`` (YOLOv3: 9, tiny: 6), scaled from 416 px to ``input_size``."""
    return np.asarray(COCO_ANCHORS if variant == "yolov3" else TINY_ANCHORS, dtype=np.float64) * input_size / 416.0


def build_yolo(config, n_classes: int | None = None, anchors=None) -> YOLOv3:
    """The YOLO network of a :class:`yolo_transfer.YoloConfig` (``model``, ``width``, ``input_size``).

    Args:
        n_classes: C (default: 3, BCCD's RBC / WBC / platelets).
        anchors: anchor pairs in input pixels (default: the COCO anchors of the variant, scaled
            from 416 to ``config.input_size``).
    """
    variant = config.model
    if anchors is None:
        anchors = coco_anchors(variant, config.input_size)
    return YOLOv3(3 if n_classes is None else n_classes, anchors, variant, config.width, config.input_size,
                  objectness_prior=config.objectness_prior, bn_momentum=config.bn_momentum, name=f"{variant}")
