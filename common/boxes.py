"""Boxes: IoU, Pascal VOC average precision, box matching at an IoU and per-class counting error.

Boxes are ``(xmin, ymin, xmax, ymax)`` in continuous pixel coordinates (width = xmax - xmin, as
COCO; the VOC devkit's ``+ 1`` pixel convention is not used). Average precision is the Pascal VOC
2010+ all-point interpolation: the area under the precision envelope (precision made monotone from
the right) over the recall steps. A detection is matched as the VOC devkit does: detections of a
class in decreasing score order; each takes the unmatched ground truth of its class in the same
image with the highest IoU if that IoU is at least the threshold, else it is a false positive.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["as_boxes", "average_precision", "box_area", "box_intersection", "box_iou", "count_errors",
           "detection_ap", "match_boxes", "box_scores_at", "ranked_matches"]


def as_boxes(boxes, name: str = "boxes", shape=None) -> np.ndarray:
    """``boxes`` as an (N, 4) float64 array, checked: finite, ``xmax > xmin`` and ``ymax > ymin`` and,
    given an image ``shape`` (H, W), inside it.

    Raises:
        ValueError: naming the first bad box.
    """
    b = np.asarray(boxes if boxes is not None else np.zeros((0, 4)), dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name} must be (N, 4) = xmin, ymin, xmax, ymax, got shape {b.shape}")
    bad = ~np.all(np.isfinite(b), axis=1)
    if bad.any():
        raise ValueError(f"{name}: box {int(np.argmax(bad))} is not finite: {b[np.argmax(bad)].tolist()}")
    empty = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if empty.any():
        k = int(np.argmax(empty))
        raise ValueError(f"{name}: box {k} {b[k].tolist()} has zero or negative area (needs xmax > xmin, ymax > ymin)")
    if shape is not None:
        h, w = shape[:2]
        out = (b[:, 0] < -0.5) | (b[:, 1] < -0.5) | (b[:, 2] > w + 0.5) | (b[:, 3] > h + 0.5)
        if out.any():
            k = int(np.argmax(out))
            raise ValueError(f"{name}: box {k} {b[k].tolist()} lies outside the {w} x {h} image")
    return b


def box_area(boxes) -> np.ndarray:
    """(N,) areas of boxes."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.prod(b[:, 2:] - b[:, :2], axis=-1)


def box_intersection(a, b) -> np.ndarray:
    """(N, M) intersection areas of two sets of boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return np.prod(np.clip(rb - lt, 0, None), axis=-1)


def box_iou(a, b) -> np.ndarray:
    """(N, M) intersection over union of two sets of boxes."""
    inter = box_intersection(a, b)
    area_a, area_b = box_area(a), box_area(b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def average_precision(recall, precision) -> float:
    """VOC 2010+ all-point interpolated AP: the area under the monotone precision envelope.

    Args:
        recall: cumulative recall after each ranked detection (non-decreasing).
        precision: cumulative precision after each ranked detection.
    """
    r = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    p = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]          # envelope: max precision at any recall >= r
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


MATCHING = ("voc", "coco")


def match_boxes(det_boxes, det_scores, gt_boxes, iou_threshold: float = 0.5, rule: str = "voc") -> np.ndarray:
    """True-positive flags of one image's detections of one class, in the order given.

    Detections are visited by decreasing score. ``rule="voc"`` (the VOC devkit's ``voc_eval``): a
    detection's ground truth is the one it overlaps most, taken or not; it is a TP when that IoU
    exceeds ``iou_threshold`` (``>``) and the ground truth is still free, which it then takes, and a
    false positive otherwise - a detection whose best ground truth is taken does not fall back to the
    next one. ``rule="coco"`` (pycocotools): the free ground truth it overlaps most, when that IoU
    reaches the threshold (``>=``).
    """
    if rule not in MATCHING:
        raise ValueError(f"rule must be one of {MATCHING}, got {rule!r}")
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    tp = np.zeros(len(det_boxes), dtype=bool)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if not len(det_boxes) or not len(gt_boxes):
        return tp
    iou = box_iou(det_boxes, gt_boxes)
    used = np.zeros(len(gt_boxes), dtype=bool)
    for i in np.argsort(-np.asarray(det_scores, dtype=np.float64), kind="stable"):
        if rule == "voc":
            j = int(np.argmax(iou[i]))
            if iou[i, j] > iou_threshold and not used[j]:
                tp[i], used[j] = True, True
            continue
        cand = np.where(used, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            tp[i], used[j] = True, True
    return tp


def _per_class(dets, samples, k):
    """Per image: (boxes, scores) of class-k detections, and class-k ground-truth boxes."""
    out = []
    for det, s in zip(dets, samples):
        if det.boxes is None:
            raise ValueError("detection_ap needs detections with boxes")
        if s.boxes is None:
            raise ValueError(f"sample {s.name!r} has no boxes: box AP needs box annotations")
        m = det.classes == k
        out.append((det.boxes[m], det.scores[m], s.boxes[s.classes == k]))
    return out


def ranked_matches(dets: Sequence, samples: Sequence, class_names: Sequence[str],
                   iou_threshold: float = 0.5, rule: str = "voc") -> list:
    """Per class, ``(scores, tp flags, ground truths)`` of every detection, matched once (VOC rule).

    Matching visits detections in decreasing score order, so the detections scoring at least any
    threshold are matched exactly as they would be alone: one call serves AP (the whole ranking) and
    Precision / Recall / F1 at every threshold. ``class_names`` are the detections' classes; the
    annotations are matched to them by name (:func:`common.datasets.align_classes`).
    """
    from common.datasets import align_classes

    if len(dets) != len(samples):
        raise ValueError(f"{len(dets)} detection sets for {len(samples)} images")
    samples = align_classes(samples, class_names)
    out = []
    for k in range(len(class_names)):
        scores, flags, n_gt = [], [], 0
        for boxes, sc, gt in _per_class(dets, samples, k):
            n_gt += len(gt)
            scores.append(sc)
            flags.append(match_boxes(boxes, sc, gt, iou_threshold, rule))
        out.append((np.concatenate(scores) if scores else np.zeros(0),
                    np.concatenate(flags) if flags else np.zeros(0, bool), n_gt))
    return out


def detection_ap(dets: Sequence, samples: Sequence, class_names: Sequence[str] | None = None,
                 iou_threshold: float = 0.5, rule: str = "voc") -> pd.DataFrame:
    """Per-class VOC AP at an IoU and their mean (mAP) over the classes that have ground truth.

    Args:
        dets: one :class:`common.inference.Detections` with ``boxes`` and ``classes`` per image.
        samples: the images' :class:`common.datasets.Sample` with ``boxes`` and ``classes``.
        class_names: the classes (default: the samples').

    Returns:
        One row per class and a last row ``mAP``: ``AP``, ground truths, detections, TP and FP over
        every detection given (rank them all: AP needs the low-score tail).
    """
    names = tuple(class_names or (samples[0].class_names if len(samples) else ()))
    rows = []
    for name, (scores, flags, n_gt) in zip(names, ranked_matches(dets, samples, names, iou_threshold, rule)):
        order = np.argsort(-scores, kind="stable")
        tp = np.cumsum(flags[order])
        fp = np.cumsum(~flags[order])
        if n_gt:
            ap = average_precision(tp / n_gt, tp / np.maximum(tp + fp, 1e-12)) if len(order) else 0.0
        else:
            ap = np.nan
        rows.append({"class": name, "AP": ap, "ground truth": n_gt, "detections": len(order),
                     "TP": int(tp[-1]) if len(tp) else 0, "FP": int(fp[-1]) if len(fp) else 0})
    df = pd.DataFrame(rows).set_index("class")
    df.loc["mAP"] = {"AP": float(np.nanmean(df["AP"])) if df["AP"].notna().any() else np.nan,
                     "ground truth": int(df["ground truth"].sum()), "detections": int(df["detections"].sum()),
                     "TP": int(df["TP"].sum()), "FP": int(df["FP"].sum())}
    return df


def box_scores_at(dets, samples, threshold: float, class_names=None, iou_threshold: float = 0.5,
                  rule: str = "voc") -> pd.DataFrame:
    """Per-class Precision / Recall / F1 of the detections scoring at least ``threshold`` (VOC matching)."""
    names = tuple(class_names or samples[0].class_names)
    rows = []
    for name, (sc, flags, n_gt) in zip(names, ranked_matches(dets, samples, names, iou_threshold, rule)):
        keep = sc >= threshold
        tp, fp = int(np.sum(flags & keep)), int(np.sum(~flags & keep))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / n_gt if n_gt else 0.0
        rows.append({"class": name, "Precision": p, "Recall": r, "F1": 2 * p * r / (p + r) if p + r else 0.0,
                     "TP": tp, "FP": fp, "FN": n_gt - tp})
    return pd.DataFrame(rows).set_index("class")


def count_errors(dets, samples, class_names=None, threshold: float = 0.0) -> pd.DataFrame:
    """Per class: mean ground-truth and predicted count per image, mean absolute count error and the
    relative error of the total count, for detections scoring at least ``threshold``. Annotations are
    matched to ``class_names`` (the detections' classes) by name."""
    from common.datasets import align_classes

    names = tuple(class_names or samples[0].class_names)
    samples = align_classes(samples, names)
    rows = []
    for k, name in enumerate(names):
        gt = np.array([int(np.sum(s.classes == k)) for s in samples])
        pr = np.array([int(np.sum((d.classes == k) & (d.scores >= threshold))) for d in dets])
        rows.append({"class": name, "count (truth)": float(gt.mean()) if len(gt) else np.nan,
                     "count (ours)": float(pr.mean()) if len(pr) else np.nan,
                     "count MAE": float(np.mean(np.abs(pr - gt))) if len(gt) else np.nan,
                     "total count error": float((pr.sum() - gt.sum()) / gt.sum()) if gt.sum() else np.nan})
    return pd.DataFrame(rows).set_index("class")
