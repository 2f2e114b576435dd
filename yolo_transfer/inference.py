"""From YOLO maps to boxes: decoding, per-class NMS and the predictor (its score threshold calibrated
on the validation split by box F1, :func:`yolo_transfer.evaluate.calibrate_threshold`).

Decoding follows YOLOv3 (reference_specs 4c): box centre ``(sigmoid(t_xy) + cell) / grid``, size
``anchor * exp(t_wh) / input``, score = objectness x class probability (independent sigmoids), so a
box may be kept for more than one class. Non-maximum suppression is per class
(``tf.image.combined_non_max_suppression``; OpenCV's ``cv2.dnn.NMSBoxesBatched`` where TensorFlow is
absent, as on the JAX machines). AP ranks every detection above ``eval_score`` (0.001); the counts,
the predict command's files and the box F1 use the score threshold calibrated on the validation split.
"""

from __future__ import annotations

import numpy as np

from common.evaluation import Calibration
from common.inference import Detections, Predictor

__all__ = ["YoloPredictor", "decode", "drop_empty", "nms", "suppressed"]


def decode(outputs, anchors, n_classes: int):
    """Raw maps (coarsest first) -> ``(boxes (B, N, 4) corners as fractions of the input, scores (B, N, C))``."""
    from keras import ops

    from yolo_transfer.losses import decode_scale

    boxes, scores = [], []
    for raw, anc, stride in zip(outputs, anchors, (32, 16, 8)):
        xy, wh, obj, cls, *_ = decode_scale(ops.convert_to_tensor(raw), anc, stride)
        b = ops.concatenate([xy - wh / 2, xy + wh / 2], -1)
        s = ops.sigmoid(obj) * ops.sigmoid(cls)
        n = ops.shape(b)[0]
        boxes.append(ops.reshape(b, (n, -1, 4)))
        scores.append(ops.reshape(s, (n, -1, n_classes)))
    return (ops.convert_to_numpy(ops.concatenate(boxes, 1)), ops.convert_to_numpy(ops.concatenate(scores, 1)))


def nms(boxes, scores, iou: float = 0.45, score_threshold: float = 0.001, max_detections: int = 300):
    """Per-class non-maximum suppression of one image's boxes.

    Args:
        boxes: (N, 4) xmin, ymin, xmax, ymax.
        scores: (N, C) per-class scores.

    Returns:
        ``(boxes (K, 4), scores (K,), classes (K,))``, highest score first.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32)
    if not len(boxes):
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    scores = scores.reshape(len(boxes), -1)
    try:
        import tensorflow as tf
    except ImportError:
        return _nms_cv2(boxes, scores, iou, score_threshold, max_detections)
    yx = tf.constant(boxes[:, [1, 0, 3, 2]][None, :, None, :])
    out = tf.image.combined_non_max_suppression(yx, tf.constant(scores[None]), max_output_size_per_class=max_detections,
                                                max_total_size=max_detections, iou_threshold=iou,
                                                score_threshold=score_threshold, clip_boxes=False)
    k = int(out.valid_detections[0])
    b = out.nmsed_boxes[0, :k].numpy()[:, [1, 0, 3, 2]]
    return b.astype(np.float64), out.nmsed_scores[0, :k].numpy().astype(np.float64), \
        out.nmsed_classes[0, :k].numpy().astype(np.int64)


def _nms_cv2(boxes, scores, iou, score_threshold, max_detections):
    import cv2

    # every (box, class) pair above the threshold is a candidate, as in the TensorFlow op
    bi, ci = np.nonzero(scores >= score_threshold)
    if not len(bi):
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    cand, sc = boxes[bi], scores[bi, ci]
    xywh = np.stack([cand[:, 0], cand[:, 1], cand[:, 2] - cand[:, 0], cand[:, 3] - cand[:, 1]], 1)
    keep = np.asarray(cv2.dnn.NMSBoxesBatched(xywh.tolist(), sc.tolist(), ci.tolist(), float(score_threshold),
                                              float(iou)), dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-sc[keep], kind="stable")][:max_detections]
    return cand[keep].astype(np.float64), sc[keep].astype(np.float64), ci[keep].astype(np.int64)


def suppressed(raw, anchors, n_classes: int, size: int, config, threshold: float) -> list:
    """Per image of a batch of raw maps at input side ``size``: ``(boxes in input pixels, scores,
    classes)`` after decoding and per-class NMS (``config.nms_iou``, ``config.max_detections``)."""
    boxes, scores = decode(raw, anchors, n_classes)
    return [nms(b * size, s, config.nms_iou, threshold, config.max_detections) for b, s in zip(boxes, scores)]


def drop_empty(boxes, scores, classes) -> tuple:
    """The detections whose boxes have a positive width and height."""
    ok = ((boxes[:, 2] - boxes[:, 0]) > 0) & ((boxes[:, 3] - boxes[:, 1]) > 0)
    return boxes[ok], scores[ok], classes[ok]


class YoloPredictor(Predictor):
    """A trained YOLO network with its decoding: ``predict(image) -> Detections`` with boxes.

    An image is letterboxed to ``config.input_size`` (the whole image in one pass, as the YOLO
    ports do), decoded, suppressed per class and mapped back to image pixels.
    """

    fixed_input = False
    methods = ("boxes",)

    def __init__(self, model, config, postprocess=None, class_names=None, folder=None, *, batch_size: int = 8):
        from common import _checks

        names = class_names or [f"class{k}" for k in range(model.n_classes)]
        if len(names) != model.n_classes:
            raise ValueError(f"{len(names)} class names {list(names)} for a network of {model.n_classes} classes")
        super().__init__(model, config, postprocess, names, folder)
        self.anchors = model.scale_anchors()
        self.batch_size = _checks.positive(batch_size, "batch_size", integer=True)

    def slide_window(self, tile=None):
        """YOLO letterboxes a whole tile to its input: slide tiles are the input's size (so nothing is
        resized), a core with 32 px of context around it; ``tile`` cannot change that."""
        margin = 32
        return self.config.input_size - 2 * margin, margin

    def maps(self, image, progress: bool = False) -> dict:
        """YOLO gives boxes, not maps: this explains itself rather than returning nothing."""
        raise ValueError("a YOLO model has no detection maps: it gives boxes (use predict)")

    def forward_letterboxed(self, batch) -> list:
        """Raw maps of a batch of letterboxed images."""
        out = self.model.predict_on_batch(np.asarray(batch, np.float32))
        return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]

    def detections_from(self, raw, size: int, geometry, threshold: float) -> list:
        """Detections of each image in a batch from its raw maps at input side ``size``; ``geometry``
        per image: (scale, (dx, dy), (h, w)) of its letterbox."""
        out = []
        for (b, s, c), (scale, (dx, dy), (h, w)) in zip(
                suppressed(raw, self.anchors, len(self.class_names), size, self.config, threshold), geometry):
            b = (b - [dx, dy, dx, dy]) / scale
            b, s, c = drop_empty(np.clip(b, 0, [w, h, w, h]), s, c)
            centres = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], 1) if len(b) else np.zeros((0, 2))
            centres = np.minimum(centres, [w - 1e-3, h - 1e-3])
            out.append(Detections(centres, c, s, class_names=self.class_names, boxes=b,
                                  info={"threshold": threshold}))
        return out

    def threshold(self, threshold=None) -> float:
        """``threshold``, or the score threshold calibrated on the validation split (``postprocess.json``)."""
        if threshold is not None:
            return float(threshold)
        return float(super().tuned("boxes")[1]["threshold"])

    def predict(self, image, method=None, progress: bool = False, threshold: float | None = None):
        """Boxes of one RGB image scoring at least ``threshold`` (default: the calibrated one); the
        image is one letterboxed pass, so there is no progress to show."""
        self.check_method(method)
        return self.predict_many([image], threshold=threshold)[0]

    def predict_many(self, images, threshold: float | None = None, batch_size: int | None = None) -> list:
        from common import _checks
        from yolo_transfer.data import letterbox

        batch_size = batch_size or self.batch_size
        thr = self.threshold(threshold)
        _checks.finite_params({"threshold": thr})
        size = self.config.input_size
        out = []
        for i in range(0, len(images), batch_size):
            chunk = [_checks.as_rgb_image(im, "image") for im in images[i:i + batch_size]]
            boxed = [letterbox(im, size) for im in chunk]
            raw = self.forward_letterboxed(np.stack([b[0] for b in boxed]))
            geometry = [(b[1], b[2], im.shape[:2]) for b, im in zip(boxed, chunk)]
            out += self.detections_from(raw, size, geometry, thr)
        return out

    def calibrate(self, val, maps=None) -> Calibration:
        """The score threshold with the best mean per-class box F1 at IoU ``config.iou_threshold`` on ``val``."""
        from yolo_transfer.evaluate import calibrate_threshold

        dets = self.predict_many([s.image for s in val], threshold=self.config.eval_score)
        params, sweep = calibrate_threshold(dets, val, self.class_names, self.config.iou_threshold)
        return Calibration("boxes", {"boxes": params}, sweep.assign(method="boxes"),
                           f"mean per-class box F1 at IoU {self.config.iou_threshold:g}")


