"""Scoring Shui et al.'s columns: detection P / R / F1 (class-agnostic one-to-one matching within 12 px)
and classification P / R / F1 (matched within 12 px *within each class*, so a TP needs the right
class; per-class scores averaged over the classes, as the authors' later code does), plus the
micro-averaged classification figures and the time per image."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from common.matching import match_points

__all__ = ["class_scores", "scores", "timed_predict"]


def class_scores(dets, samples, radius: float, class_names) -> pd.DataFrame:
    """Classification P / R / F1 with a TP only for a cell found within ``radius`` *with its class*:
    per class (predictions of that class matched one-to-one to annotations of that class), their mean
    over the classes (``macro``) and the pooled counts (``micro``). Unclassified annotations (-1) are
    left out, and so are the predictions matched to them class-agnostically."""
    n = len(class_names)
    tp, npred, ngt = np.zeros(n), np.zeros(n), np.zeros(n)
    for d, s in zip(dets, samples):
        pts, pc = np.asarray(d.points), np.asarray(d.classes)
        gc = np.asarray(s.classes)
        if (gc < 0).any():   # drop predictions that belong to unclassified cells
            r = match_points(pts, s.points, radius)
            drop = r.pairs[gc[r.pairs[:, 1]] < 0, 0] if len(r.pairs) else np.zeros(0, int)
            keep = np.ones(len(pts), bool)
            keep[drop] = False
            pts, pc = pts[keep], pc[keep]
        for c in range(n):
            p, g = pts[pc == c], s.points[gc == c]
            tp[c] += match_points(p, g, radius).tp
            npred[c] += len(p)
            ngt[c] += len(g)
    prec = np.divide(tp, npred, out=np.zeros(n), where=npred > 0)
    rec = np.divide(tp, ngt, out=np.zeros(n), where=ngt > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(n), where=(prec + rec) > 0)
    df = pd.DataFrame({"Precision": prec, "Recall": rec, "F1": f1, "TP": tp.astype(int), "Predicted": npred.astype(int),
                       "Support": ngt.astype(int)}, index=pd.Index(list(class_names), name="class"))
    present = ngt > 0
    df.loc["macro"] = [prec[present].mean() if present.any() else 0.0, rec[present].mean() if present.any() else 0.0,
                       f1[present].mean() if present.any() else 0.0, int(tp.sum()), int(npred.sum()), int(ngt.sum())]
    P = tp.sum() / npred.sum() if npred.sum() else 0.0
    R = tp.sum() / ngt.sum() if ngt.sum() else 0.0
    df.loc["micro"] = [P, R, 2 * P * R / (P + R) if P + R else 0.0, int(tp.sum()), int(npred.sum()), int(ngt.sum())]
    return df


def scores(dets, samples, radius: float, class_names) -> dict:
    """The paper's columns: detection P / R / F1 and classification P / R / F1 (macro over classes)."""
    from common.matching import detection_scores

    d = detection_scores([x.points for x in dets], [s.points for s in samples], radius)
    c = class_scores(dets, samples, radius, class_names)
    return {"Det P": d.precision, "Det R": d.recall, "Det F1": d.f1, "Cls P": float(c.loc["macro", "Precision"]),
            "Cls R": float(c.loc["macro", "Recall"]), "Cls F1": float(c.loc["macro", "F1"]),
            "Cls F1 (micro)": float(c.loc["micro", "F1"]), "TP": d.tp, "FP": d.fp, "FN": d.fn}


def timed_predict(pred, samples) -> tuple[list, float]:
    """Detections of every sample and the mean seconds per image (after one warm-up image)."""
    if samples:
        pred.predict(samples[0].image)
    t0 = time.perf_counter()
    dets = [pred.predict(s.image) for s in samples]
    return dets, (time.perf_counter() - t0) / max(1, len(samples))
