"""Table 1's density-regression competitors: FCRN-A, FCRN-B, U-Net, ResUNet, DeepLab v3+ and the
multi-task model of Zhang et al. (ISBI 2022).

Section 3.1 of Shui et al.: reference density maps (RDMs) from a 7 x 7 Gaussian (sigma 6) on the
points; BCE (weight 0.8) + IoU (0.2) loss; cells are local maxima of the predicted map. The paper
scores detection *and* classification for these models without saying how they classify; ours:
every network outputs 1 + C sigmoid maps - the RDM of all cells (detection) and one RDM per class -
and a detected cell takes the class whose map is largest at its peak.

Architectures (ours, after the cited papers; none ships with Keras):

* FCRN-A / FCRN-B (Xie, Noble, Zisserman 2018): 3x3 conv-ReLU blocks with three (A) or two (B,
  with 5x5 convolutions) 2x2 poolings, a wide "fully-connected" convolution, and upsampling +
  convolution back to full size (nearest-neighbour upsampling: Keras' bilinear one needs static
  shapes in a TensorFlow graph, and the convolution after it smooths).
* UNet: ``common.baselines.unet.UNet`` (4 levels).
* ResUNet (Zhang, Liu, Wang 2018): residual units (BN-ReLU-conv x 2 + projected shortcut), three
  encoder levels, a bridge and three decoder levels with skip concatenation.
* DeepLab v3+ (Chen et al. 2018): a ResNet-style encoder at output stride 16 (dilated last
  stage), ASPP (1x1, 3x3 at rates 6 / 12 / 18, image pooling), and the v3+ decoder (4x upsample,
  48-channel stride-4 skip, two 3x3 convolutions, 4x upsample, here nearest-neighbour followed by a
  3x3 convolution). keras-hub's DeepLabV3 is not a
  dependency of ours (it pins its own Keras), so this is our own compact version.
* Zhang (ISBI 2022; its code is not public): our reading of "multi-task" - a shared U-Net encoder
  with two decoders, one for the all-cells RDM and one for the C class RDMs, both trained with the
  same BCE + IoU loss.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common import _checks
from common.evaluation import calibrate
from common.inference import Detections, Predictor
from common.layers import ConstructorConfig
from common.postprocess import peak_points

__all__ = ["BroadcastLike", "DENSITY_CLASSES", "DensityLoss", "DensityNet", "DensityPredictor", "build_density_model",
           "density_stream", "train_density_model"]


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
    x = keras.layers.UpSampling2D(2, name=f"{name}_up")(x)
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
        b = L.Concatenate(name=f"{name}_cat")([L.UpSampling2D(2, name=f"{name}_up")(b), skip])
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
    x = L.UpSampling2D(4, name="dec_up1")(x)
    x = L.Concatenate(name="dec_cat")([x, _conv(low, _c(48, w), 1, "dec_low", bn=True)])
    x = _conv(x, f, 3, "dec1", bn=True)
    x = _conv(x, f, 3, "dec2", bn=True)
    return _conv(L.UpSampling2D(4, name="dec_up2")(x), f, 3, "dec3", bn=True)


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


@keras.saving.register_keras_serializable(package="cellrepro")
class DensityLoss(keras.losses.Loss):
    """``bce_weight * BCE + iou_weight * (1 - soft IoU)`` on the sigmoid maps (section 3.1: 0.8 / 0.2);
    the soft IoU is computed per image and channel and averaged."""

    def __init__(self, bce_weight: float = 0.8, iou_weight: float = 0.2, name: str = "density_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.bce_weight, self.iou_weight = float(bce_weight), float(iou_weight)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        p = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0 - 1e-7)
        bce = -ops.mean(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=(1, 2, 3))
        inter = ops.sum(y_true * p, axis=(1, 2))
        union = ops.sum(y_true + p - y_true * p, axis=(1, 2))
        iou = ops.mean((inter + 1.0) / (union + 1.0), axis=-1)
        return self.bce_weight * bce + self.iou_weight * (1.0 - iou)

    def get_config(self):
        return {**super().get_config(), "bce_weight": self.bce_weight, "iou_weight": self.iou_weight}


def build_density_model(config, n_classes: int) -> DensityNet:
    arch = "zhang" if config.model == "zhang" else config.density_net
    return DensityNet(arch, n_classes, config.density_width, name=arch)


def density_stream(samples, config, n_classes: int, start_batch: int = 0):
    """Endless augmented batches ``(x float32 (B, S, S, 3), RDMs (B, S, S, 1 + C))`` (crops resized by
    ``crop_scale``; ``image_scale`` is the point model's)."""
    from pointnet_cells.data import crop_batches, density_targets

    size = int(config.crop_size)
    for x, cells in crop_batches(samples, config, config.crop_scale, start_batch):
        yield x, np.stack([density_targets(p, c, (size, size), n_classes, config.density_kernel,
                                           config.density_sigma) for p, c in cells])


def _density_val(samples, config, n_classes):
    from pointnet_cells.data import density_targets, fixed_crops

    size = config.crop_size
    crops = fixed_crops(samples, size)
    ys = [density_targets(p, c, (size, size), n_classes, config.density_kernel, config.density_sigma)
          for _, p, c in crops]
    return np.stack([c[0] for c in crops]).astype(np.float32), np.stack(ys)


def train_density_model(config, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains the row's density network on random resized crops with BCE + IoU and Adam
    (``density_lr``; the paper gives the optimiser of its own model only). Returns ``(model, history)``."""
    from common.training import fit, open_run, set_seed
    from pointnet_cells.data import as_dataset, check_annotated

    train = check_annotated(train, "training", config.crop_size)
    val = check_annotated(val, "validation", config.crop_size)
    run = open_run(run_dir, config, resume, data=(train, val))
    set_seed(config.seed)
    n = len(train[0].class_names)
    model = build_density_model(config, n)
    model.compile(optimizer=keras.optimizers.Adam(config.density_lr),
                  loss=DensityLoss(config.bce_weight, config.iou_weight))
    xv, yv = _density_val(val, config, n)
    steps = -(-len(train) // config.batch_size)

    def stream(skip_batches):
        return as_dataset(density_stream(train, config, n, start_batch=skip_batches), (None, None, 1 + n))

    model, history = fit(model, stream, (xv, yv), run, epochs=config.density_epochs, patience=config.patience,
                         steps_per_epoch=steps, resume=resume, verbose=verbose,
                         dead_output_epochs=config.dead_output_epochs, checkpoint_every=config.checkpoint_every)
    run.save_model(model)
    return model, history


class DensityPredictor(Predictor):
    """A trained :class:`DensityNet`: peaks of the all-cells map, class by the largest class map."""

    fixed_input = False

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None):
        if not isinstance(model, DensityNet):
            raise ValueError(f"model must be a DensityNet, got {type(model).__name__}")
        super().__init__(config, postprocess, class_names or tuple(f"class{k}" for k in range(model.n_classes)),
                         folder)
        self.model = model
        self.alignment = model.alignment
        self.tile_size = int(config.tile_size)
        self.reach = 64.0

    def forward(self, tiles):
        return np.asarray(self.model(tiles.astype(np.float32), training=False))

    def detect(self, maps, image, method=None, threshold=None, min_distance=None) -> Detections:
        m = maps["map"]
        if threshold is None or min_distance is None:
            tuned = self.tuned("peaks")[1]
            threshold = tuned["threshold"] if threshold is None else threshold
            min_distance = tuned["min_distance"] if min_distance is None else min_distance
        pts = peak_points(m[..., 0], int(min_distance), float(threshold))
        r = np.clip(np.rint(pts[:, 1]).astype(int), 0, m.shape[0] - 1)
        c = np.clip(np.rint(pts[:, 0]).astype(int), 0, m.shape[1] - 1)
        probs = m[r, c, 1:]
        cls = probs.argmax(axis=1) if len(pts) else np.zeros(0, np.int64)
        return Detections(pts, cls, m[r, c, 0], class_probabilities=probs, class_names=self.class_names)

    def calibrate(self, val):
        """``("peaks", params, sweep)``: threshold and peak distance by detection F1 on ``val``."""
        maps = [self.maps(_checks.as_rgb_image(s.image, "image"))["map"][..., 0] for s in val]

        def locate(m, threshold, min_distance=3):
            return peak_points(m, int(min_distance), float(threshold))

        cfg = self.config
        params, sweep = calibrate(maps, val, locate, cfg.match_radius, grid={"min_distance": list(cfg.min_distances)},
                                  n_thresholds=cfg.n_thresholds, low=0.0, high=1.0, limits={"min_distance": (1, None)},
                                  what=f"density {self.model.arch}")
        return "peaks", params, sweep.assign(method="peaks")
