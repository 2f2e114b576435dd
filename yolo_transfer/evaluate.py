"""YOLO scoring: the validation threshold's box F1, VOC AP@0.5 per class, counts, and the evaluate
command's row (AP, box F1 and point matching of box centres at the radii)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.boxes import box_scores_at, count_errors, detection_ap, ranked_matches

__all__ = ["calibrate_threshold", "evaluate_split", "map_of", "score_split"]


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


def evaluate_split(pred, samples, progress: bool = False, threshold: float | None = None) -> tuple[list, dict]:
    """Detections of a split at ``eval_score`` and its box scores: AP per class and mAP, and box F1 and
    counts at ``threshold`` (default: the run's calibrated one)."""
    from common.progress import progress_bar

    names = tuple(pred.class_names)
    thr = pred.threshold(threshold)
    dets = []
    batch = 8
    chunks = [samples[i:i + batch] for i in range(0, len(samples), batch)]
    for chunk in progress_bar(chunks, desc="evaluate", unit="batch", enabled=progress):
        dets += pred.predict_many([s.image for s in chunk], threshold=pred.config.eval_score)
    ap = detection_ap(dets, samples, names, pred.config.iou_threshold)
    at = box_scores_at(dets, samples, thr, names, pred.config.iou_threshold)
    counts = count_errors(dets, samples, names, thr)
    return dets, {"ap": ap, "at_threshold": at, "counts": counts, "threshold": thr}


def score_split(pred, samples, radii, progress: bool = False, threshold=None, method=None) -> pd.DataFrame:
    """The evaluate command's rows, one per matching radius: ``mAP@0.5`` and ``AP@0.5 <class>``, the mean
    per-class box Precision / Recall / F1 and count MAE at the score threshold, and the box centres
    matched to the annotated centres within each radius (Precision, Recall, F1, TP, FP, FN)."""
    from common.evaluation import score
    from common.inference import Detections, warn_degenerate

    pred.check_method(method)
    dets, res = evaluate_split(pred, samples, progress, threshold)
    ap, at, counts = res["ap"], res["at_threshold"], res["counts"]
    iou = pred.config.iou_threshold
    row = {f"mAP@{iou:g}": float(ap.loc["mAP", "AP"])}
    for name in pred.class_names:
        row[f"AP@{iou:g} {name}"] = float(ap.loc[name, "AP"])
    row.update({"threshold": res["threshold"], "box Precision": float(at["Precision"].mean()),
                "box Recall": float(at["Recall"].mean()), "box F1": float(at["F1"].mean())})
    for name in pred.class_names:
        row[f"count MAE {name}"] = float(counts.loc[name, "count MAE"])
    kept = [d.scores >= res["threshold"] for d in dets]
    warn_degenerate([(s.name, Detections(d.points[k], None, d.scores[k]), s.image.shape, len(s.points))
                     for s, d, k in zip(samples, dets, kept)], getattr(samples, "description", ""))
    points = score([d.points[k] for d, k in zip(dets, kept)], samples, radii, classes=False)
    return points.assign(**row)


def map_of(model, x, boxes, samples, config, names):
    """Per-class AP table of a model on letterboxed images ``x`` with ground truth ``boxes``."""
    from common.datasets import Sample
    from common.inference import Detections
    from yolo_transfer.inference import drop_empty, suppressed

    dets, truth = [], []
    size = x.shape[1]
    for i in range(0, len(x), 16):
        raw = model.predict_on_batch(x[i:i + 16].astype(np.float32))
        for bb, ss, cc in suppressed(raw, model.scale_anchors(), len(names), size, config, config.eval_score):
            bb, ss, cc = drop_empty(bb, ss, cc)
            dets.append(Detections(np.zeros((len(bb), 2)), cc, ss, class_names=names, boxes=bb))
    for s, b in zip(samples, boxes):
        truth.append(Sample(np.zeros((1, 1, 3), np.uint8), np.zeros((len(b), 2)), s.classes, names, boxes=b,
                            name=s.name))
    return detection_ap(dets, truth, names, config.iou_threshold)
