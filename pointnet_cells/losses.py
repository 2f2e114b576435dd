"""Proposal matching (eq. 2) and the losses of Shui et al. (eq. 3-7), with P2PNet's for the baseline.

:class:`PointLoss` takes the batch's annotations ``(B, N_max, 4)`` - x, y, class (-1: unclassified)
and a valid flag (0 rows are padding) - and the network's proposals. It matches them per image with
``scipy.optimize.linear_sum_assignment`` on NumPy arrays on the host (:func:`host_match`: a
``tf.numpy_function`` under TensorFlow, whose training step must then not be XLA-compiled, a
``jax.pure_callback`` under JAX, a plain call eagerly), on the proposals with their gradient stopped,
as P2PNet's matcher runs under ``no_grad``. The matched per-proposal targets ``(B, M, 4)`` -
positive flag, matched point x, y, matched class (-1: negative or unclassified) - are what the terms
are computed on.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

__all__ = ["DensityLoss", "PointLoss", "gce", "host_match", "match_batch", "match_image", "matching_cost",
           "p2pnet_cost", "pad_annotations"]


def matching_cost(points, p_obj, p_cls, gt_points, gt_classes, alpha: float = 0.05) -> np.ndarray:
    """The (M, N) cost of eq. 2: ``alpha * ||p_i - g_j|| - p_i^obj - p_i^(c_j)``.

    An unclassified annotation (class -1) has no class term.
    """
    points, gt_points = np.asarray(points, np.float64), np.asarray(gt_points, np.float64)
    gt_classes = np.asarray(gt_classes, np.int64)
    cost = alpha * cdist(points, gt_points) - np.asarray(p_obj, np.float64)[:, None]
    known = gt_classes >= 0
    if known.any():
        cost[:, known] -= np.asarray(p_cls, np.float64)[:, gt_classes[known]]
    return cost


def p2pnet_cost(points, probs, gt_points, gt_classes, alpha: float = 0.05) -> np.ndarray:
    """P2PNet's matching cost for its single (1 + C)-way head: ``alpha * ||p_i - g_j|| - softmax(p_i)[label_j]``
    (the softmax over background and the C classes, not renormalised; label = 1 + class). An
    unclassified annotation (class -1) takes the probability of not being background."""
    points, gt_points = np.asarray(points, np.float64), np.asarray(gt_points, np.float64)
    probs, gt_classes = np.asarray(probs, np.float64), np.asarray(gt_classes, np.int64)
    take = np.where(gt_classes >= 0, 1 + gt_classes, 0)
    p = probs[:, take]
    p[:, gt_classes < 0] = 1.0 - probs[:, [0]]
    return alpha * cdist(points, gt_points) - p


def match_image(points, p_obj, p_cls, gt_points, gt_classes, alpha: float = 0.05, probs=None) -> np.ndarray:
    """Hungarian matching of one image: ``delta`` (N,) with the proposal index of each annotation; eq. 2's
    cost, or P2PNet's (:func:`p2pnet_cost`) when the single head's ``probs`` (M, 1 + C) are given.

    Raises:
        ValueError: more annotated cells than proposals (M < N): the paper requires M >= N.
    """
    m, n = len(points), len(gt_points)
    if n == 0:
        return np.zeros(0, np.int64)
    if n > m:
        raise ValueError(f"an image has {n} annotated cells but the network makes only {m} proposals "
                         f"(5 per 32 x 32 region); the paper needs at least as many proposals as cells: "
                         "use larger crops or enlarge the images (image_scale=2 turns 20x into the paper's 40x)")
    cost = (matching_cost(points, p_obj, p_cls, gt_points, gt_classes, alpha) if probs is None
            else p2pnet_cost(points, probs, gt_points, gt_classes, alpha))
    rows, cols = linear_sum_assignment(cost)
    delta = np.empty(n, np.int64)
    delta[cols] = rows
    return delta


def match_batch(raw, gt, n_classes: int, heads: str, alpha: float = 0.05) -> np.ndarray:
    """Matched targets (B, M, 4) float32 - positive flag, target x, y, target class (-1: none) - for raw
    network outputs (B, M, 2 + K) and padded annotations (B, N_max, 4). The independent heads match by
    eq. 2, the single head by P2PNet's cost."""
    from pointnet_cells.model import logit_columns, proposal_scores

    raw, gt = np.asarray(raw), np.asarray(gt)
    if raw.ndim != 3 or gt.ndim != 3 or gt.shape[-1] != 4 or len(raw) != len(gt):
        raise ValueError(f"match_batch takes outputs (B, M, 2 + K) and annotations (B, N, 4); got {raw.shape} "
                         f"and {gt.shape}")
    points, p_obj, p_cls = proposal_scores(raw, heads, n_classes)
    probs = None
    if heads == "single":
        z = raw[..., logit_columns(heads, n_classes)["all"]].astype(np.float64)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        probs = z / z.sum(axis=-1, keepdims=True)
    b, m = raw.shape[:2]
    out = np.zeros((b, m, 4), np.float32)
    out[..., 3] = -1
    for i in range(b):
        g = gt[i][gt[i, :, 3] > 0]
        cls = g[:, 2].astype(np.int64)
        if len(cls) and (cls.max() >= n_classes or cls.min() < -1):
            raise ValueError(f"annotation classes must lie in [-1, {n_classes}), got {cls.min()}..{cls.max()}")
        delta = match_image(points[i], p_obj[i], p_cls[i], g[:, :2], cls, alpha,
                            None if probs is None else probs[i])
        out[i, delta, 0] = 1.0
        out[i, delta, 1:3] = g[:, :2]
        out[i, delta, 3] = cls
    return out


def host_match(y_pred, annotations, n_classes: int, heads: str, alpha: float = 0.05):
    """:func:`match_batch` on the host from inside a training step: the matched targets (B, M, 4) as a
    tensor of the backend (no gradient flows through the matching)."""
    import functools

    fn = functools.partial(_match_f32, n_classes=n_classes, heads=heads, alpha=alpha)
    y_pred = ops.stop_gradient(ops.cast(y_pred, "float32"))
    annotations = ops.cast(annotations, "float32")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly():
            return tf.convert_to_tensor(fn(y_pred.numpy(), annotations.numpy()))
        out = tf.numpy_function(fn, [y_pred, annotations], tf.float32, stateful=False)
        return tf.ensure_shape(out, [y_pred.shape[0], y_pred.shape[1], 4])
    if backend == "jax":
        import jax

        shape = jax.ShapeDtypeStruct((y_pred.shape[0], y_pred.shape[1], 4), np.float32)
        return jax.pure_callback(fn, shape, y_pred, annotations)
    return ops.convert_to_tensor(fn(ops.convert_to_numpy(y_pred), ops.convert_to_numpy(annotations)))


def _match_f32(raw, annotations, n_classes, heads, alpha):
    return match_batch(raw, annotations, n_classes, heads, alpha).astype(np.float32)


def pad_annotations(samples_points, samples_classes, n_max: int | None = None) -> np.ndarray:
    """Per-image points and classes -> the padded (B, N_max, 4) annotation batch."""
    n_max = max([len(p) for p in samples_points] + [1]) if n_max is None else int(n_max)
    out = np.zeros((len(samples_points), n_max, 4), np.float32)
    for i, (p, c) in enumerate(zip(samples_points, samples_classes)):
        k = len(p)
        if k > n_max:
            raise ValueError(f"an image has {k} cells, more than the {n_max} the batch holds")
        if k:
            out[i, :k, :2] = p
            out[i, :k, 2] = c
            out[i, :k, 3] = 1
    return out


def gce(p_true, q: float):
    """Generalised cross-entropy ``(1 - p^q) / q`` (eq. 5, Zhang & Sabuncu 2018): cross-entropy as
    q -> 0, the mean absolute error ``1 - p`` at q = 1."""
    return (1.0 - ops.power(ops.maximum(p_true, 1e-12), q)) / q


@keras.saving.register_keras_serializable(package="cellrepro")
class PointLoss(keras.losses.Loss):
    """``lambda L_reg + L_det + L_cls`` (eq. 7): ``y_true`` the annotations, matched to the proposals
    ``y_pred`` by eq. 2 with distance weight ``alpha`` (see the module docstring).

    * ``L_reg`` (eq. 3): squared distance of each matched proposal to its cell, summed over the batch
      and divided by the number of cells (P2PNet's and the authors' later code's MSE normalisation).
    * ``L_det`` (eq. 4): ``-(1/M) (sum_P log p_obj + beta sum_N log p_bkg)`` per image.
    * ``L_cls`` (eq. 5-6, ``cls_loss="gce"``): ``(1 - p^q)/q + gamma ||p||_2`` over the matched,
      classified cells of an image, summed as eq. 6 prints it (``cls_reduction="sum"``) or averaged
      over them (``"mean"``, as the authors' later code reduces its classification loss);
      ``"ce"``: cross-entropy instead of the GCE term.
    * ``heads="single"`` (P2PNet): one (1 + C)-way cross-entropy per proposal (background for the
      negatives, weighted ``beta``; an unclassified cell counts as ``1 - p_background``), averaged over
      the M proposals as eq. 4, plus ``L_reg``.

    Images are averaged over the batch.
    """

    def __init__(self, n_classes: int = 4, heads: str = "independent", cls_loss: str = "gce", alpha: float = 0.05,
                 beta: float = 0.6, gamma: float = 0.1, q: float = 0.4, lam: float = 2e-3, cls_reduction: str = "mean",
                 name: str = "point_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if heads not in ("independent", "single"):
            raise ValueError(f"heads must be 'independent' or 'single', got {heads!r}")
        if cls_loss not in ("gce", "ce"):
            raise ValueError(f"cls_loss must be 'gce' or 'ce', got {cls_loss!r}")
        if not 0 < float(q) <= 1:
            raise ValueError(f"q must be in (0, 1], got {q}")
        if cls_reduction not in ("mean", "sum"):
            raise ValueError(f"cls_reduction must be 'mean' or 'sum', got {cls_reduction!r}")
        self.cls_reduction = cls_reduction
        self.n_classes, self.heads, self.cls_loss = int(n_classes), heads, cls_loss
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.q, self.lam = float(q), float(lam)

    def match(self, annotations, y_pred):
        """The matched targets (B, M, 4) of a batch (eq. 2, on the host)."""
        return host_match(y_pred, annotations, self.n_classes, self.heads, self.alpha)

    def terms(self, y_true, y_pred) -> dict:
        """The three terms as scalars ``{"reg", "det", "cls"}`` (weights not applied) for matched
        targets ``y_true`` (B, M, 4) (:meth:`match`)."""
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        pos = y_true[..., 0]
        cls = ops.cast(y_true[..., 3], "int32")
        known = pos * ops.cast(cls >= 0, "float32")
        onehot = ops.one_hot(ops.maximum(cls, 0), self.n_classes) * known[..., None]
        d2 = ops.sum(ops.square(y_pred[..., :2] - y_true[..., 1:3]), axis=-1)
        reg = ops.sum(d2 * pos) / ops.maximum(ops.sum(pos), 1.0)
        if self.heads == "independent":
            logp_det = ops.log_softmax(y_pred[..., 2:4], axis=-1)
            det = -ops.mean(pos * logp_det[..., 1] + self.beta * (1.0 - pos) * logp_det[..., 0], axis=-1)
            if self.n_classes == 1:   # a detection-only model: a softmax over one class is 1, nothing to learn
                return {"reg": reg, "det": ops.mean(det), "cls": ops.zeros_like(reg)}
            logits = y_pred[..., 4:4 + self.n_classes]
            p = ops.softmax(logits, axis=-1)
            if self.cls_loss == "gce":
                per = gce(ops.sum(p * onehot, axis=-1), self.q)
            else:
                per = -ops.sum(ops.log_softmax(logits, axis=-1) * onehot, axis=-1)
            per = per + self.gamma * ops.sqrt(ops.sum(ops.square(p), axis=-1) + 1e-12)
            cls_term = ops.sum(per * known, axis=-1)
            if self.cls_reduction == "mean":
                cls_term = cls_term / ops.maximum(ops.sum(known, axis=-1), 1.0)
            return {"reg": reg, "det": ops.mean(det), "cls": ops.mean(cls_term)}
        logp = ops.log_softmax(y_pred[..., 2:3 + self.n_classes], axis=-1)
        p_bkg = ops.exp(logp[..., 0])
        cell = -ops.sum(logp[..., 1:] * onehot, axis=-1)
        unclassified = -ops.log(ops.maximum(1.0 - p_bkg, 1e-12)) * (pos - known)
        neg = -self.beta * (1.0 - pos) * logp[..., 0]
        det = ops.mean(cell + unclassified + neg, axis=-1)
        return {"reg": reg, "det": ops.mean(det), "cls": ops.zeros_like(reg)}

    def call(self, y_true, y_pred):
        t = self.terms(self.match(y_true, y_pred), y_pred)
        return self.lam * t["reg"] + t["det"] + t["cls"]

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "heads": self.heads, "cls_loss": self.cls_loss,
                "cls_reduction": self.cls_reduction, "alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
                "q": self.q, "lam": self.lam}


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
