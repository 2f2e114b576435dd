"""The YOLOv3 loss of one output scale (keras-yolo3's ``yolo_loss``, reference_specs 4d), in ``keras.ops``.

Target layout (:func:`yolo_transfer.data.encode_targets`): ``y_true`` of one scale is
``(B, H*W*A + M, 5 + C)``. Its first ``H*W*A`` rows are the grid targets in (row, column, anchor)
order - box centre x, y and size w, h as fractions of the network input, objectness 1 where a
ground truth is assigned, then its one-hot class; the last ``M`` rows list every ground-truth box of
the image (x, y, w, h, valid flag), for the ignore mask.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["YoloLoss", "decode_scale"]


def decode_scale(raw, anchors, stride: int):
    """Raw map (B, H, W, A*(5+C)) -> box centres xy, sizes wh (fractions of the input), objectness
    logits and class logits, each (B, H, W, A, .), and the grid; (section 2.3 of YOLOv3:
    b_xy = (sigmoid(t_xy) + c_xy) / grid, b_wh = anchor * exp(t_wh) / input)."""
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    n_anchors = anchors.shape[0]
    shape = ops.shape(raw)
    h, w = shape[1], shape[2]
    pred = ops.reshape(raw, (shape[0], h, w, n_anchors, -1))
    gx = ops.reshape(ops.cast(ops.arange(w), "float32"), (1, 1, w, 1, 1))
    gy = ops.reshape(ops.cast(ops.arange(h), "float32"), (1, h, 1, 1, 1))
    grid = ops.concatenate([ops.broadcast_to(gx, (1, h, w, 1, 1)), ops.broadcast_to(gy, (1, h, w, 1, 1))], -1)
    grid_wh = ops.cast(ops.stack([w, h]), "float32")
    xy = (ops.sigmoid(pred[..., 0:2]) + grid) / grid_wh
    wh = ops.exp(pred[..., 2:4]) * anchors / (grid_wh * stride)
    return xy, wh, pred[..., 4:5], pred[..., 5:], pred, grid, grid_wh


def _corners(xy, wh):
    return ops.concatenate([xy - wh / 2, xy + wh / 2], -1)


def _iou(a, b):
    """IoU of (B, N, 4) with (B, M, 4) corner boxes -> (B, N, M)."""
    lt = ops.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = ops.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    inter = ops.prod(ops.maximum(rb - lt, 0.0), axis=-1)
    area_a = ops.prod(a[..., 2:] - a[..., :2], axis=-1)
    area_b = ops.prod(b[..., 2:] - b[..., :2], axis=-1)
    return inter / (area_a[:, :, None] + area_b[:, None, :] - inter + 1e-9)


@keras.saving.register_keras_serializable(package="cellrepro")
class YoloLoss(keras.losses.Loss):
    """keras-yolo3's loss for one scale, summed over cells and anchors per image (then averaged over
    the batch, as keras-yolo3 divides by the batch size):

    * xy: ``obj * (2 - w*h) * BCE(t_xy, raw_xy)`` with t_xy the centre's offset in its cell;
    * wh: ``obj * (2 - w*h) * 0.5 * (log(w / anchor) - raw_wh)**2``;
    * objectness: ``obj * BCE(1, raw_o) + (1 - obj) * BCE(0, raw_o) * ignore``, where ignore is 0 for
      a prediction whose box overlaps some ground truth of the image by more than ``ignore_thresh``
      (here every ground truth of the image; keras-yolo3 compares with those assigned to this scale);
    * classes: ``obj * sum BCE(onehot, raw_cls)``, independent sigmoids.

    An image without boxes has only the objectness term, and every term has a finite gradient.

    Args:
        anchors: (A, 2) anchors of this scale in input pixels.
        stride: the scale's stride (32, 16 or 8).
        n_classes: C.
        ignore_thresh: 0.5 (keras-yolo3; 0.7 for its tiny model).
    """

    def __init__(self, anchors, stride: int, n_classes: int, ignore_thresh: float = 0.5, name: str | None = None,
                 **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name or f"yolo_loss_{stride}", reduction="sum_over_batch_size", **kwargs)
        self.anchors = [[float(a) for a in pair] for pair in anchors]
        self.stride, self.n_classes, self.ignore_thresh = int(stride), int(n_classes), float(ignore_thresh)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        xy, wh, raw_obj, raw_cls, pred, grid, grid_wh = decode_scale(y_pred, self.anchors, self.stride)
        shape = ops.shape(pred)
        b, h, w, a = shape[0], shape[1], shape[2], shape[3]
        n = h * w * a
        t = ops.reshape(y_true[:, :n], (b, h, w, a, 5 + self.n_classes))
        gt = y_true[:, n:, :5]
        obj = t[..., 4:5]
        anchors = ops.convert_to_tensor(self.anchors, dtype="float32")
        input_wh = grid_wh * self.stride
        true_xy, true_wh = t[..., 0:2], t[..., 2:4]
        raw_true_xy = true_xy * grid_wh - grid
        raw_true_wh = ops.log(ops.where(obj > 0, true_wh * input_wh / anchors, 1.0))
        box_scale = 2.0 - true_wh[..., 0:1] * true_wh[..., 1:2]
        xy_loss = obj * box_scale * ops.binary_crossentropy(raw_true_xy, pred[..., 0:2], from_logits=True)
        wh_loss = obj * box_scale * 0.5 * ops.square(raw_true_wh - pred[..., 2:4])
        boxes = ops.reshape(_corners(xy, wh), (b, n, 4))
        valid = gt[..., 4]
        best = ops.max(_iou(boxes, _corners(gt[..., 0:2], gt[..., 2:4])) * valid[:, None, :], axis=-1)
        ignore = ops.reshape(ops.cast(best < self.ignore_thresh, "float32"), (b, h, w, a, 1))
        bce_obj = ops.binary_crossentropy(obj, raw_obj, from_logits=True)
        obj_loss = obj * bce_obj + (1.0 - obj) * bce_obj * ignore
        cls_loss = obj * ops.binary_crossentropy(t[..., 5:], raw_cls, from_logits=True)
        per_image = (ops.sum(xy_loss, axis=(1, 2, 3, 4)) + ops.sum(wh_loss, axis=(1, 2, 3, 4))
                     + ops.sum(obj_loss, axis=(1, 2, 3, 4)) + ops.sum(cls_loss, axis=(1, 2, 3, 4)))
        return per_image

    def get_config(self):
        return {"anchors": self.anchors, "stride": self.stride, "n_classes": self.n_classes,
                "ignore_thresh": self.ignore_thresh, "name": self.name}
