"""From YOLO maps to boxes: decoding, per-class NMS, the predictor, calibration and the box scores.

Decoding follows YOLOv3 (reference_specs 4c): box centre ``(sigmoid(t_xy) + cell) / grid``, size
``anchor * exp(t_wh) / input``, score = objectness x class probability (independent sigmoids), so a
box may be kept for more than one class. Non-maximum suppression is per class
(``tf.image.combined_non_max_suppression``; OpenCV's ``cv2.dnn.NMSBoxesBatched`` where TensorFlow is
absent, as on the JAX machines). AP ranks every detection above ``eval_score`` (0.001); the counts,
the predict command's files and the box F1 use the score threshold calibrated on the validation split.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from common.boxes import box_scores_at, count_errors, detection_ap, ranked_matches
from common.inference import Detections, Predictor, load_keras, resolve_run

__all__ = ["YoloPredictor", "calibrate_threshold", "decode", "drop_empty", "evaluate_split", "load", "nms",
           "score_split", "suppressed"]


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

    def __init__(self, model, config, class_names, postprocess=None, folder=None):
        super().__init__(config, postprocess, class_names, folder)
        self.model = model
        self.anchors = model.scale_anchors()

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
        if threshold is not None:
            return float(threshold)
        return float(self.postprocess.get("params", {}).get("boxes", {}).get("threshold", self.config.eval_score))

    def predict(self, image, method=None, progress: bool = False, threshold: float | None = None, **params):
        """Boxes of one RGB image scoring at least ``threshold`` (default: the calibrated one)."""
        return self.predict_many([image], threshold=threshold)[0]

    def predict_many(self, images, threshold: float | None = None, batch_size: int = 8) -> list:
        from common import _checks
        from yolo_transfer.data import letterbox

        thr = self.threshold(threshold)
        size = self.config.input_size
        out = []
        for i in range(0, len(images), batch_size):
            chunk = [_checks.as_rgb_image(im, "image") for im in images[i:i + batch_size]]
            boxed = [letterbox(im, size) for im in chunk]
            raw = self.forward_letterboxed(np.stack([b[0] for b in boxed]))
            geometry = [(b[1], b[2], im.shape[:2]) for b, im in zip(boxed, chunk)]
            out += self.detections_from(raw, size, geometry, thr)
        return out

    def tuned(self, method=None):
        return "boxes", {"threshold": self.threshold()}


def load(run, **_) -> YoloPredictor:
    """The predictor of a run folder written by :func:`yolo_transfer.train.train` (or its ``model.keras``)."""
    from common.training import RunDir
    from yolo_transfer.config import YoloConfig
    from yolo_transfer.model import YOLOv3

    folder, file = resolve_run(run)
    model = load_keras(file, (YOLOv3.__name__,), "yolo_transfer")
    cfg = YoloConfig.load(folder)
    data = RunDir(folder, create=False).read_json("data.json") or {}
    names = data.get("class_names") or [f"class{k}" for k in range(model.n_classes)]
    return YoloPredictor(model, cfg, names, RunDir(folder, create=False).postprocess(), folder)


def calibrate_threshold(dets, samples, class_names, iou: float = 0.5) -> tuple[dict, pd.DataFrame]:
    """The score threshold with the best mean per-class box F1 (IoU ``iou``) on validation detections.

    Detections are matched once (:func:`common.boxes.ranked_matches`); a threshold keeps a prefix of
    the score order without changing the matches above it, so every candidate is scored exactly.
    Candidates are the distinct detection scores (at most 400 quantiles of them), so no grid caps the
    answer. Returns ``({"threshold", "F1", "edge"}, sweep)``.
    """
    scores = np.concatenate([d.scores for d in dets]) if dets else np.zeros(0)
    if not len(scores):
        return {"threshold": 0.5, "F1": 0.0, "edge": "no detections"}, pd.DataFrame()
    cand = np.unique(np.quantile(scores, np.linspace(0, 1, 400)))
    per_class = []
    for sc, fl, n_gt in ranked_matches(dets, samples, class_names, iou):
        tp = np.array([np.sum(fl & (sc >= t)) for t in cand])
        n = np.array([np.sum(sc >= t) for t in cand])
        p = np.where(n > 0, tp / np.maximum(n, 1), 0.0)
        r = tp / n_gt if n_gt else np.zeros(len(cand))
        per_class.append((p, r, np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)))
    sweep = pd.DataFrame({"threshold": cand, "F1": np.mean([c[2] for c in per_class], 0),
                          "Precision": np.mean([c[0] for c in per_class], 0),
                          "Recall": np.mean([c[1] for c in per_class], 0)})
    best = int(sweep["F1"].idxmax())
    edge = "lowest" if best == 0 else ("highest" if best == len(sweep) - 1 else None)
    return {"threshold": float(sweep["threshold"][best]), "F1": float(sweep["F1"][best]), "edge": edge}, sweep


def evaluate_split(pred: YoloPredictor, samples, progress: bool = False) -> tuple[list, dict]:
    """Detections of a split at ``eval_score`` and its box scores (AP per class, mAP, box F1 and counts
    at the calibrated threshold)."""
    from common.progress import progress_bar

    names = tuple(pred.class_names)
    dets = []
    batch = 8
    chunks = [samples[i:i + batch] for i in range(0, len(samples), batch)]
    for chunk in progress_bar(chunks, desc="evaluate", unit="batch", enabled=progress):
        dets += pred.predict_many([s.image for s in chunk], threshold=pred.config.eval_score)
    ap = detection_ap(dets, samples, names, pred.config.iou_threshold)
    thr = pred.threshold()
    at = box_scores_at(dets, samples, thr, names, pred.config.iou_threshold)
    counts = count_errors(dets, samples, names, thr)
    return dets, {"ap": ap, "at_threshold": at, "counts": counts, "threshold": thr}


def score_split(pred: YoloPredictor, samples, radii=None, progress: bool = False, threshold=None) -> pd.DataFrame:
    """One row of box metrics for the evaluate command: ``mAP@0.5``, ``AP@0.5 <class>``, mean box
    Precision / Recall / F1 and per-class count MAE at the calibrated threshold."""
    if threshold is not None:
        pred.postprocess.setdefault("params", {})["boxes"] = {"threshold": float(threshold)}
    _, res = evaluate_split(pred, samples, progress)
    ap, at, counts = res["ap"], res["at_threshold"], res["counts"]
    iou = pred.config.iou_threshold
    row = {f"mAP@{iou:g}": float(ap.loc["mAP", "AP"])}
    for name in pred.class_names:
        row[f"AP@{iou:g} {name}"] = float(ap.loc[name, "AP"])
    row.update({"threshold": res["threshold"], "Precision": float(at["Precision"].mean()),
                "Recall": float(at["Recall"].mean()), "F1": float(at["F1"].mean())})
    for name in pred.class_names:
        row[f"count MAE {name}"] = float(counts.loc[name, "count MAE"])
    return pd.DataFrame([row], index=pd.Index([os.path.basename(str(pred.folder or ""))], name="run"))
