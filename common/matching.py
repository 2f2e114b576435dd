"""Point matching and detection / classification scores.

``match_points(..., method="hungarian")`` finds the MAXIMUM NUMBER of prediction-annotation pairs
closer than the radius and, among those, the one with the least total distance. Running Hungarian
on the raw distance matrix and dropping far pairs afterwards (as several peer toolkits do) minimises
total distance instead and can undercount true positives; this module does not do that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

from common import _checks

__all__ = [
    "DetectionScores",
    "MatchResult",
    "candidate_pairs",
    "classification_scores",
    "detection_recall_by_class",
    "detection_scores",
    "match_points",
]


@dataclass(frozen=True)
class MatchResult:
    """One-to-one pairing of predicted and ground-truth points.

    Attributes:
        pairs: (K, 2) int array of (prediction index, ground-truth index).
        distances: (K,) distance of each pair.
        unmatched_pred: indices of predictions without a partner (false positives).
        unmatched_gt: indices of annotations without a partner (false negatives).
    """

    pairs: np.ndarray
    distances: np.ndarray
    unmatched_pred: np.ndarray
    unmatched_gt: np.ndarray

    @property
    def tp(self) -> int:
        return int(len(self.pairs))

    @property
    def fp(self) -> int:
        return int(len(self.unmatched_pred))

    @property
    def fn(self) -> int:
        return int(len(self.unmatched_gt))


def candidate_pairs(pred: np.ndarray, gt: np.ndarray, radius: float):
    """All (pred, gt) index pairs with distance <= radius, via a KD-tree. Returns (i, j, d)."""
    if len(pred) == 0 or len(gt) == 0:
        e = np.zeros((0,), dtype=np.int64)
        return e, e, np.zeros((0,), dtype=np.float64)
    # The "ndarray" output keeps exact zero distances (coincident points) as edges.
    rec = cKDTree(pred).sparse_distance_matrix(cKDTree(gt), radius, output_type="ndarray")
    i, j, d = rec["i"].astype(np.int64), rec["j"].astype(np.int64), rec["v"].astype(np.float64)
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


def _full_matching(i, j, d, n_pred, n_gt, radius):
    """Maximum-cardinality, then minimum-distance matching as one sparse min-weight full matching.

    Every prediction p also gets a private dummy partner at cost BIG (left unmatched), every
    annotation g likewise, and each real edge (p, g) gets a zero-cost twin between g's and p's
    dummies so that the leftover dummies of a matched pair can pair up. A perfect matching then
    costs ``BIG * (n_pred + n_gt - 2m) + sum(d)`` for m real pairs; with BIG above any possible
    distance total it maximises m first, then minimises distance. All costs are shifted by +1
    because sparse matrices cannot hold explicit zero-weight edges.
    """
    m = len(i)
    big = float(radius) * (min(n_pred, n_gt) + 1) + 1.0
    n = n_pred + n_gt
    p_idx = np.arange(n_pred)
    g_idx = np.arange(n_gt)
    rows = np.concatenate([i, p_idx, n_pred + g_idx, n_pred + j])
    cols = np.concatenate([j, n_gt + p_idx, g_idx, n_gt + i])
    cost = np.concatenate([d + 1.0, np.full(n_pred, big + 1.0), np.full(n_gt, big + 1.0), np.ones(m)])
    graph = sparse.csr_matrix((cost, (rows, cols)), shape=(n, n))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = (row_ind < n_pred) & (col_ind < n_gt)
    return row_ind[real], col_ind[real]


_DENSE_LIMIT = 250_000  # components up to this many (pred x gt) cells use a dense assignment


def _dense_matching(i, j, d, n_pred, n_gt, radius):
    """The same optimum as :func:`_full_matching` with a dense cost matrix (small components).

    Non-edges cost BIG > any total of real distances, so the assignment first minimises the number
    of non-edge pairs (maximum cardinality) and then the distance.
    """
    big = float(radius) * (min(n_pred, n_gt) + 1) + 1.0
    cost = np.full((n_pred, n_gt), big)
    cost[i, j] = d
    r, c = linear_sum_assignment(cost)
    real = cost[r, c] < big
    return r[real], c[real]


def _hungarian(i, j, d, n_pred, n_gt, radius):
    """Maximum-cardinality, minimum-distance matching, solved per connected component.

    Components with a single prediction or a single annotation (the vast majority in cell images)
    can hold one pair only, so their shortest edge is optimal; each other component is solved on
    its own, densely when small (:func:`_dense_matching`), else sparsely (:func:`_full_matching`).
    """
    graph = sparse.coo_matrix((np.ones(len(i)), (i, n_pred + j)), shape=(n_pred + n_gt,) * 2)
    _, comp = connected_components(graph, directed=False)
    n_p = np.bincount(comp[:n_pred], minlength=comp.max() + 1)
    n_g = np.bincount(comp[n_pred:], minlength=comp.max() + 1)
    edge_comp = comp[i]
    simple = (n_p[edge_comp] == 1) | (n_g[edge_comp] == 1)
    # Simple components: the shortest edge (ties: lowest pred, then gt index).
    si, sj, sd, sc = i[simple], j[simple], d[simple], edge_comp[simple]
    order = np.lexsort((sj, si, sd, sc))
    first = np.ones(len(order), dtype=bool)
    first[1:] = sc[order][1:] != sc[order][:-1]
    out_p, out_g = [si[order][first]], [sj[order][first]]
    hard = ~simple
    if hard.any():
        hi, hj, hd, hc = i[hard], j[hard], d[hard], edge_comp[hard]
        order = np.argsort(hc, kind="stable")
        hi, hj, hd, hc = hi[order], hj[order], hd[order], hc[order]
        starts = np.flatnonzero(np.r_[True, hc[1:] != hc[:-1]])
        for a, b in zip(starts, np.r_[starts[1:], len(hc)]):
            ci, cj, cd = hi[a:b], hj[a:b], hd[a:b]
            up, ip = np.unique(ci, return_inverse=True)
            ug, ig = np.unique(cj, return_inverse=True)
            if len(up) * len(ug) <= _DENSE_LIMIT:
                rp, rg = _dense_matching(ip, ig, cd, len(up), len(ug), radius)
            else:
                rp, rg = _full_matching(ip, ig, cd, len(up), len(ug), radius)
            out_p.append(up[rp])
            out_g.append(ug[rg])
    return np.concatenate(out_p), np.concatenate(out_g)


def _greedy(i, j, d, n_pred, n_gt, scores):
    """Nearest pairs first, or (with scores) predictions in decreasing score order."""
    if scores is None:
        order = np.lexsort((j, i, d))
    else:
        order = np.lexsort((j, d, -scores[i]))
    used_p = np.zeros(n_pred, dtype=bool)
    used_g = np.zeros(n_gt, dtype=bool)
    out_p, out_g = [], []
    for k in order:
        a, b = i[k], j[k]
        if not used_p[a] and not used_g[b]:
            used_p[a] = used_g[b] = True
            out_p.append(a)
            out_g.append(b)
    return np.asarray(out_p, dtype=np.int64), np.asarray(out_g, dtype=np.int64)


def match_points(pred, gt, radius: float, method: str = "hungarian", scores=None) -> MatchResult:
    """One-to-one matching of predicted to annotated points within ``radius``.

    Args:
        pred: (N, 2) predicted (x, y) points; may be empty.
        gt: (M, 2) annotated (x, y) points; may be empty.
        radius: a pair counts when its Euclidean distance is <= radius (pixels).
        method: ``"hungarian"``: maximum number of pairs, ties broken by least total distance;
            ``"greedy"``: nearest pairs first (or, with ``scores``, most confident prediction first,
            each taking its nearest free annotation, as in OCELOT).
        scores: optional (N,) prediction confidences, used by ``"greedy"`` only.

    Returns:
        A :class:`MatchResult`; ``pairs`` sorted by prediction index.
    """
    p = _checks.as_points(pred, name="pred")
    g = _checks.as_points(gt, name="gt")
    radius = _checks.positive(radius, "radius")
    _checks.one_of(method, ("hungarian", "greedy"), "method")
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape[0] != len(p) or not np.all(np.isfinite(scores)):
            raise ValueError(f"scores must be {len(p)} finite numbers, one per prediction")
    i, j, d = candidate_pairs(p, g, radius)
    if len(i) == 0:
        pi = gj = np.zeros((0,), dtype=np.int64)
    elif method == "hungarian":
        pi, gj = _hungarian(i, j, d, len(p), len(g), radius)
    else:
        pi, gj = _greedy(i, j, d, len(p), len(g), scores)
    order = np.argsort(pi, kind="stable")
    pi, gj = pi[order], gj[order]
    dist = np.hypot(*(p[pi] - g[gj]).T) if len(pi) else np.zeros((0,), dtype=np.float64)
    matched_p = np.zeros(len(p), dtype=bool)
    matched_p[pi] = True
    matched_g = np.zeros(len(g), dtype=bool)
    matched_g[gj] = True
    return MatchResult(
        pairs=np.stack([pi, gj], axis=1).astype(np.int64) if len(pi) else np.zeros((0, 2), dtype=np.int64),
        distances=dist,
        unmatched_pred=np.flatnonzero(~matched_p),
        unmatched_gt=np.flatnonzero(~matched_g),
    )


def _ratio(num: float, den: float, zero_division: float) -> float:
    return float(num) / float(den) if den > 0 else float(zero_division)


@dataclass(frozen=True)
class DetectionScores:
    """Dataset-level (micro) detection scores: TP, FP, FN summed over images."""

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    radius: float
    method: str
    per_image: list = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"Precision": self.precision, "Recall": self.recall, "F1": self.f1,
                "TP": self.tp, "FP": self.fp, "FN": self.fn}


def _as_point_list(points, name: str) -> list:
    if isinstance(points, np.ndarray) and points.ndim == 2:
        return [points]
    try:
        return list(points)
    except TypeError as exc:
        raise ValueError(f"{name} must be a list of (N, 2) point arrays, one per image") from exc


def detection_scores(preds, gts, radius: float, method: str = "hungarian",
                     zero_division: float = 0.0) -> DetectionScores:
    """Precision, recall and F1 over a dataset, with TP/FP/FN summed over images (micro).

    Args:
        preds: list of (N_i, 2) predicted points, one per image (a single array means one image).
        gts: list of (M_i, 2) annotated points, same length.
        radius: matching radius in pixels.
        method: see :func:`match_points`.
        zero_division: value of a ratio whose denominator is 0 (e.g. precision with no predictions).
    """
    preds = _as_point_list(preds, "preds")
    gts = _as_point_list(gts, "gts")
    if len(preds) != len(gts):
        raise ValueError(f"preds has {len(preds)} images but gts has {len(gts)}")
    tp = fp = fn = 0
    per_image = []
    for k, (p, g) in enumerate(zip(preds, gts)):
        r = match_points(p, g, radius, method)
        tp, fp, fn = tp + r.tp, fp + r.fp, fn + r.fn
        per_image.append(r)
    precision = _ratio(tp, tp + fp, zero_division)
    recall = _ratio(tp, tp + fn, zero_division)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn, zero_division)
    return DetectionScores(precision, recall, f1, tp, fp, fn, float(radius), method, per_image)


def detection_recall_by_class(preds, gts, gt_classes, radius: float, class_names: Sequence[str],
                              method: str = "hungarian") -> pd.DataFrame:
    """Detection recall of each annotated class (class-agnostic matching), to expose rare classes.

    Returns:
        DataFrame indexed by class name with columns ``Recall``, ``TP``, ``FN``, ``Support``.
        Annotations with class -1 (unclassified) are left out of every row.
    """
    preds = _as_point_list(preds, "preds")
    gts = _as_point_list(gts, "gts")
    gt_classes = list(gt_classes)
    if not (len(preds) == len(gts) == len(gt_classes)):
        raise ValueError("preds, gts and gt_classes must have one entry per image")
    n = len(class_names)
    found = np.zeros(n, dtype=np.int64)
    support = np.zeros(n, dtype=np.int64)
    for p, g, c in zip(preds, gts, gt_classes):
        g = _checks.as_points(g, name="gts")
        c = _checks.as_classes(c, len(g), n, "gt_classes", allow_unlabelled=True)
        r = match_points(p, g, radius, method)
        hit = np.zeros(len(g), dtype=bool)
        hit[r.pairs[:, 1]] = True
        lab = c >= 0
        support += np.bincount(c[lab], minlength=n)
        found += np.bincount(c[lab & hit], minlength=n)
    recall = np.where(support > 0, found / np.maximum(support, 1), np.nan)
    return pd.DataFrame({"Recall": recall, "TP": found, "FN": support - found, "Support": support},
                        index=pd.Index(list(class_names), name="class"))


def classification_scores(preds, pred_classes, gts, gt_classes, radius: float, class_names: Sequence[str],
                          method: str = "hungarian") -> pd.DataFrame:
    """Per-class and support-weighted precision / recall / F1 over matched cells (S-DRDIN 2.5).

    Points are matched class-agnostically; each matched pair whose annotation has a class
    (not -1) contributes (true class, predicted class). Scores are scikit-learn's
    ``precision_recall_fscore_support`` on those pairs.

    Returns:
        DataFrame with one row per class plus ``"weighted"`` (support-weighted average) and
        ``"accuracy"`` rows; columns ``Precision``, ``Recall``, ``F1``, ``Support``.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    preds = _as_point_list(preds, "preds")
    gts = _as_point_list(gts, "gts")
    pred_classes, gt_classes = list(pred_classes), list(gt_classes)
    if not (len(preds) == len(gts) == len(pred_classes) == len(gt_classes)):
        raise ValueError("preds, pred_classes, gts and gt_classes must have one entry per image")
    n = len(class_names)
    y_true, y_pred = [], []
    for p, pc, g, gc in zip(preds, pred_classes, gts, gt_classes):
        p = _checks.as_points(p, name="preds")
        g = _checks.as_points(g, name="gts")
        pc = _checks.as_classes(pc, len(p), n, "pred_classes")
        gc = _checks.as_classes(gc, len(g), n, "gt_classes", allow_unlabelled=True)
        r = match_points(p, g, radius, method)
        t = gc[r.pairs[:, 1]]
        keep = t >= 0
        y_true.append(t[keep])
        y_pred.append(pc[r.pairs[:, 0]][keep])
    yt = np.concatenate(y_true) if y_true else np.zeros(0, dtype=np.int64)
    yp = np.concatenate(y_pred) if y_pred else np.zeros(0, dtype=np.int64)
    labels = list(range(n))
    if len(yt) == 0:
        zeros = np.zeros(n)
        prec, rec, f1, sup = zeros, zeros, zeros, zeros.astype(int)
        w = (0.0, 0.0, 0.0)
        acc = 0.0
    else:
        prec, rec, f1, sup = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
        w = precision_recall_fscore_support(yt, yp, labels=labels, average="weighted", zero_division=0)[:3]
        acc = accuracy_score(yt, yp)
    df = pd.DataFrame({"Precision": prec, "Recall": rec, "F1": f1, "Support": sup},
                      index=pd.Index(list(class_names), name="class"))
    df.loc["weighted"] = [w[0], w[1], w[2], int(np.sum(sup))]
    df.loc["accuracy"] = [acc, acc, acc, int(np.sum(sup))]
    df["Support"] = df["Support"].astype(int)
    return df
