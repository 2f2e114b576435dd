"""Reproduce Shui et al.'s Table 1 (competitors), Table 2 (ablation) and Fig. 3 (classification F1
against the GCE exponent q).

Every row trains on the training split, tunes its detection threshold (and, for density maps, the
peak distance) on the validation split by detection F1 at 12 px, and is scored on the test split:
detection P / R / F1 (one-to-one matching within 12 px, class-agnostic) and classification
P / R / F1 (matched within 12 px within each class, averaged over the classes), with the mean
inference time per test image on this machine. Rows that train the same network share one run
(``P2PNet`` = ``Baseline``, ``ours`` = ``Baseline+PFA+IC``).
"""

from __future__ import annotations

import os

import pandas as pd

from common.reporting import paper_vs_ours
from common.reproduce import Reproduction, TableSetup, provenance, tuned_columns
from pointnet_cells import paper
from pointnet_cells.config import Q_VALUES, TABLE1_ROWS, TABLE2_ROWS, PointNetConfig
from pointnet_cells.paper import PAPER

__all__ = ["main", "q_sweep", "row_scores", "table1", "table2", "train_rows"]

_MODEL_FIELDS = ("model", "pfa", "heads", "cls_loss", "density_net", "q")


def _key(cfg) -> tuple:
    return tuple(getattr(cfg, f) for f in _MODEL_FIELDS) if cfg.model == "point" and cfg.heads == "independent" \
        else tuple(getattr(cfg, f) for f in _MODEL_FIELDS if f != "q")


def _run_name(cfg) -> str:
    if cfg.model == "density":
        return cfg.density_net
    if cfg.model == "zhang":
        return "zhang"
    name = ("pfa" if cfg.pfa else "single_level") + ("_ic_" + cfg.cls_loss if cfg.heads == "independent" else "_p2p")
    return name + (f"_q{cfg.q:g}" if cfg.heads == "independent" and cfg.cls_loss == "gce" else "")


def train_rows(base: PointNetConfig, configs: dict, train, val, out: str, resume: bool = False,
               verbose="auto", trained: dict | None = None) -> dict:
    """Trains each distinct network of ``{row: config}`` once: ``{row: (predictor, train seconds)}``.
    ``trained`` carries the networks already trained by another table of the same run."""
    from common.training import TrainingClock
    from pointnet_cells.train import train as train_run

    done = {} if trained is None else trained
    out_rows = {}
    for row, cfg in configs.items():
        key = _key(cfg)
        if key not in done:
            folder = os.path.join(out, "models", _run_name(cfg))
            with TrainingClock(folder, resume) as clock:
                pred = train_run(cfg, train, val, folder, resume=resume, verbose=verbose)
            done[key] = (pred, clock.seconds)
        out_rows[row] = done[key]
    return out_rows


def row_scores(pred, test, radius: float) -> dict:
    """A row's measured columns on the test split (and the seconds per image)."""
    from pointnet_cells.evaluate import scores, timed_predict

    dets, seconds = timed_predict(pred, test)
    return {**scores(dets, test, radius, test.class_names), "Time (s)": seconds}


def _protocol(base) -> str:
    return (f"detection: one-to-one matching within {base.match_radius:g} px (paper); classification: matched within "
            f"{base.match_radius:g} px within each class (a TP needs the right class), P / R / F1 per class averaged "
            "over the classes; point rows: p_obj threshold tuned on val by detection F1, class = argmax; density rows: "
            f"RDM {base.density_kernel}x{base.density_kernel} sigma {base.density_sigma:g}, 0.8 BCE + 0.2 IoU, local "
            "maxima (threshold and distance tuned on val), class = largest class map at the peak; time = mean seconds "
            "per test image on this machine's CPU (paper: an A100)")


def _table(which: str, data, quick, out, rows, config, resume, verbose, splits, trained=None):
    setup = TableSetup(PAPER, rows, config, quick, data, out, splits)
    base = setup.base
    configs = {row: base.variant(row) for row in setup.rows}
    runs = train_rows(base, configs, setup.train, setup.val, setup.out, resume=resume, verbose=verbose,
                      trained=trained)
    measured, cache = [], {}
    for row in setup.rows:
        pred, seconds = runs[row]
        if id(pred) not in cache:
            cache[id(pred)] = {**row_scores(pred, setup.test, base.match_radius), **tuned_columns(pred.tuned()[1])}
        epochs = len(pred.history())
        measured.append({"Method": row, **cache[id(pred)], "train s": round(seconds, 1), "epochs": epochs})
    ours = pd.DataFrame(measured).set_index("Method")
    ref = paper.table1() if which == "table1" else paper.table2()
    cols = list(paper.COLUMNS) + (["Time (s)"] if which == "table1" else [])
    df = paper_vs_ours(ref.loc[[r for r in setup.rows if r in ref.index]], ours, cols)
    for c in ours.columns:
        if c not in cols:
            df[c] = ours[c]
    split = f"thresholds tuned on val by detection F1 at {base.match_radius:g} px, scored on test"
    df.attrs["meta"] = provenance(base, setup.train, setup.val, setup.test, _protocol(base), split,
                                  setup.t0, **{"paper protocol": paper.PROTOCOL,
                                               "backbone": "VGG16 " + ("ImageNet weights " + base.vgg_weights
                                                                       if base.vgg_weights else "from random weights "
                                                                       "(the paper: ImageNet)")})
    return df


def table1(data: str = "synthetic", quick: bool = False, out=None, rows=TABLE1_ROWS, config=None, resume: bool = False,
           verbose="auto", splits=None, trained: dict | None = None) -> pd.DataFrame:
    """Table 1: detection / classification P, R, F1 and seconds per image of each competitor, beside
    the paper's. Returns a DataFrame indexed by ``Method`` with ``<metric> (paper)`` / ``(ours)`` columns
    for Det P, Det R, Det F1, Cls P, Cls R, Cls F1 and Time (s), then TP, FP, FN, ``Cls F1 (micro)``,
    ``train s`` and ``epochs``."""
    bad = [r for r in rows if r not in TABLE1_ROWS]
    if bad:
        raise ValueError(f"unknown Table 1 row(s) {bad}; Table 1 has {list(TABLE1_ROWS)}")
    return _table("table1", data, quick, out, rows, config, resume, verbose, splits, trained)


def table2(data: str = "synthetic", quick: bool = False, out=None, rows=TABLE2_ROWS, config=None, resume: bool = False,
           verbose="auto", splits=None, trained: dict | None = None) -> pd.DataFrame:
    """Table 2 (ablation: Baseline, Baseline+PFA, Baseline+PFA+IC) beside the paper's; columns as
    :func:`table1` without the time."""
    bad = [r for r in rows if r not in TABLE2_ROWS]
    if bad:
        raise ValueError(f"unknown Table 2 row(s) {bad}; Table 2 has {list(TABLE2_ROWS)}")
    return _table("table2", data, quick, out, rows, config, resume, verbose, splits, trained)


def q_sweep(data: str = "synthetic", quick: bool = False, out=None, q_values=Q_VALUES, config=None,
            resume: bool = False, verbose="auto", splits=None, trained: dict | None = None) -> pd.DataFrame:
    """Fig. 3: our model (``ours``) trained once per GCE exponent q; classification F1 on the test split.

    The paper plots these without printing them; its text gives the shape (lowest at q = 0.1, highest
    at q = 0.4, where it is Table 1's 0.6909), shown in ``Cls F1 (paper)`` for q = 0.4 only. Each row
    also records its validation-tuned threshold and whether it lies on an edge of the search.
    Returns a DataFrame indexed by ``q``.
    """
    q_values = [float(q) for q in q_values]
    if not q_values or min(q_values) <= 0 or max(q_values) > 1:
        raise ValueError(f"q values must lie in (0, 1], got {q_values}")
    setup = TableSetup(PAPER, ["ours"], config, quick, data, out, splits)
    base = setup.base.variant("ours")
    configs = {q: base.with_overrides(q=q) for q in q_values}
    runs = train_rows(base, configs, setup.train, setup.val, setup.out, resume=resume, verbose=verbose,
                      trained=trained)
    rows = []
    for q in q_values:
        pred, seconds = runs[q]
        s = row_scores(pred, setup.test, base.match_radius)
        published = paper.TABLE1_PERCENT["ours"][5] / 100 if q == paper.FIG3_BEST_Q else None
        rows.append({"q": q, "Cls F1 (paper)": published,
                     "Cls F1 (ours)": s["Cls F1"], "Cls P (ours)": s["Cls P"], "Cls R (ours)": s["Cls R"],
                     "Det F1 (ours)": s["Det F1"], **tuned_columns(pred.tuned()[1]), "train s": round(seconds, 1)})
    df = pd.DataFrame(rows).set_index("q").astype({"Cls F1 (paper)": float})
    df.attrs["meta"] = provenance(base, setup.train, setup.val, setup.test, _protocol(base),
                                  "one run per q; thresholds tuned on val, scored on test", setup.t0,
                                  **{"paper": "Fig. 3 prints no values; the text: lowest at q = 0.1, best at q = 0.4"})
    return df


def main(quick: bool = False, out=None, data: str = "synthetic", rows=None, resume: bool = False, verbose="auto",
         command: str | None = None, epochs: int | None = None, config=None, splits=None, overrides=None,
         data_root=None, q_values=None) -> dict:
    """Runs the tables the rows belong to, prints them and writes ``<out>/pointnet_cells/table1|table2.{md,csv}``
    (and ``q_sweep`` when ``q_values`` are given). Default rows: all, or the paper's ``quick_rows`` with ``quick``."""
    run = Reproduction(PAPER, data, quick=quick, out=out, config=config, overrides=overrides, epochs=epochs,
                       command=command, splits=splits, data_root=data_root)
    rows = list(rows) if rows else list(PAPER.quick_rows if quick else (*TABLE2_ROWS, *TABLE1_ROWS))
    unknown = [r for r in rows if r not in PointNetConfig.VARIANTS]
    if unknown:
        raise ValueError(f"unknown row(s) {unknown}; choose from {list(PointNetConfig.VARIANTS)}")
    result = {}
    kw = dict(out=run.out, config=run.config, resume=resume, verbose=verbose, splits=run.splits, trained={})
    t2 = [r for r in rows if r in TABLE2_ROWS]
    t1 = [r for r in TABLE1_ROWS if r in rows or (r == "P2PNet" and "Baseline" in rows)
          or (r == "ours" and "Baseline+PFA+IC" in rows)]
    if t2:
        result["table2"] = df = table2(data, rows=t2, **kw)
        run.publish(df, "table2", "Shui et al. Table 2 - ablation (paper vs ours)")
    if t1:
        result["table1"] = df = table1(data, rows=t1, **kw)
        run.publish(df, "table1", "Shui et al. Table 1 - cell recognition by method (paper vs ours)")
    if q_values:
        result["q_sweep"] = df = q_sweep(data, q_values=q_values, **kw)
        run.publish(df, "q_sweep", "Shui et al. Fig. 3 - classification F1 against the GCE exponent q")
    run.finish("pointnet_cells")
    return result
