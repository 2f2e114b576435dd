"""Reproduce S-DRDIN's Tables 2, 3, A.4 and A.5.

Every pipeline (U-Net pair, CONCORDe-Net + SC-CNN, DRDIN pair, S-DRDIN-gradient, S-DRDIN) is trained on ``n_splits``
training / validation splits: the training and validation images are pooled and split 7:3 at a
different seed each time (the paper: 3 random states), the detection threshold is tuned on that
split's validation images for F1 at 10 px, and the fixed test split is scored. Tables report the
mean and standard deviation over the splits, beside the paper's. Table 2's "DRDIN-detection" and
Table 3's "DRDIN-classification" are the two halves of one trained DRDIN pipeline.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from common.datasets import SampleList
from common.evaluation import score
from common.matching import classification_scores, detection_recall_by_class
from common.reproduce import Reproduction, TableSetup, provenance, tuned_columns
from common.training import TrainingClock
from sdrdin import paper
from sdrdin.config import TABLE2_ROWS, TABLE3_ROWS, SDRDINConfig
from sdrdin.paper import PAPER
from sdrdin.train import train

__all__ = ["PIPELINES", "main", "resplit", "run_pipelines", "table2", "table3", "table_a4", "table_a5"]

# Pipeline -> (config row, Table 2 row, Table 3 row).
PIPELINES = {
    "U-Net": ("U-Net", "U-Net", "U-Net"),
    "CONCORDe-Net": ("CONCORDe-Net", "CONCORDe-Net", "CONCORDe-Net"),
    "DRDIN": ("DRDIN-detection", "DRDIN-detection", "DRDIN-classification"),
    "S-DRDIN-gradient": ("S-DRDIN-gradient", "S-DRDIN-gradient", "S-DRDIN-gradient"),
    "S-DRDIN": ("S-DRDIN", "S-DRDIN", "S-DRDIN"),
    "S-DRDIN (all stopped)": ("S-DRDIN (all stopped)", "S-DRDIN (all stopped)", "S-DRDIN (all stopped)"),
}

def resplit(train, val, seed: int, val_fraction: float = 0.3) -> tuple:
    """The training and validation images pooled and split ``1 - val_fraction : val_fraction`` at ``seed``
    (section 2.5: 3 splits at different random states; 7:3 as section 2.1)."""
    pool = list(train) + list(val)
    if len(pool) < 2:
        raise ValueError(f"need at least 2 training + validation images to split, got {len(pool)}")
    order = np.random.default_rng(seed).permutation(len(pool))
    n_val = min(len(pool) - 1, max(1, int(round(val_fraction * len(pool)))))
    desc = getattr(train, "description", "")
    tr = SampleList([pool[i] for i in sorted(order[n_val:])], f"{desc}; re-split seed {seed}")
    va = SampleList([pool[i] for i in sorted(order[:n_val])], f"{desc}; re-split seed {seed}")
    return tr, va


def _pipelines_for(rows) -> list:
    """The pipelines that the Table 2 / Table 3 ``rows`` asked for come from."""
    want = set(rows)
    return [p for p, (_, r2, r3) in PIPELINES.items() if r2 in want or r3 in want]


def run_pipelines(base: SDRDINConfig, tr, va, te, out, pipelines, resume: bool = False, verbose="auto") -> pd.DataFrame:
    """Trains each pipeline on ``base.n_splits`` re-splits and scores the test split.

    Returns:
        One row per (pipeline, split): detection Precision / Recall / F1 / TP / FP / FN, weighted class
        Precision / Recall / F1, per-class classification and detection recall (``<class> ...``
        columns), the tuned threshold and ``on edge`` (the tuned values on an edge of their search, "-" when
        none), epochs and training seconds.
    """
    from sdrdin.train import check_trainable

    names = list(tr.class_names)
    check_trainable(base, tr, va)   # every pipeline classifies: refuse data without classes before any training
    rows = []
    for k in range(base.n_splits):
        seed = base.seed + k
        trk, vak = resplit(tr, va, seed, base.val_fraction)
        for pipe in pipelines:
            cfg = base.variant(PIPELINES[pipe][0]).with_overrides(seed=seed)
            folder = os.path.join(out, "runs", f"split{k}", pipe)
            with TrainingClock(folder, resume) as clock:
                pred = train(cfg, trk, vak, folder, resume=resume, verbose=verbose)
            seconds = clock.seconds
            history = pred.history()
            dets = [pred.predict(s.image) for s in te]
            sc = score(dets, te, [cfg.match_radius]).iloc[0]
            rec = {"pipeline": pipe, "split": k, **{c: float(sc[c]) for c in ("Precision", "Recall", "F1")},
                   **{c: int(sc[c]) for c in ("TP", "FP", "FN")},
                   "Weighted Precision": float(sc["Class Precision"]), "Weighted Recall": float(sc["Class Recall"]),
                   "Weighted F1": float(sc["Class F1"]), **tuned_columns(pred.tuned()[1]),
                   "epochs": len(history) if history else np.nan, "train s": round(seconds, 1)}
            cs = classification_scores([d.points for d in dets], [d.classes for d in dets], [s.points for s in te],
                                       [s.classes for s in te], cfg.match_radius, names)
            rd = detection_recall_by_class([d.points for d in dets], [s.points for s in te], [s.classes for s in te],
                                           cfg.match_radius, names)
            for c in names:
                rec.update({f"{c} Precision": float(cs.loc[c, "Precision"]), f"{c} Recall": float(cs.loc[c, "Recall"]),
                            f"{c} F1": float(cs.loc[c, "F1"]), f"{c} Detection Recall": float(rd.loc[c, "Recall"])})
            rows.append(rec)
    return pd.DataFrame(rows)


def _mean_std(results: pd.DataFrame, rows: dict, columns) -> pd.DataFrame:
    """Mean and std over splits of ``columns`` for ``{table row: pipeline}``."""
    out = []
    for row, pipe in rows.items():
        r = results[results["pipeline"] == pipe]
        rec = {"Method": row}
        for c in columns:
            rec[f"{c} (ours)"] = float(r[c].mean())
            rec[f"{c} std (ours)"] = float(r[c].std(ddof=0)) if len(r) > 1 else np.nan
        out.append(rec)
    return pd.DataFrame(out).set_index("Method")


def _beside_paper(ours: pd.DataFrame, paper_rows: dict, columns) -> pd.DataFrame:
    ref = paper.table(paper_rows, columns)
    df = pd.DataFrame(index=ours.index)
    for c in columns:
        df[f"{c} (paper)"] = ref[c].reindex(ours.index)
        df[f"{c} std (paper)"] = ref[f"{c} std"].reindex(ours.index)
        df[f"{c} (ours)"] = ours[f"{c} (ours)"]
        df[f"{c} std (ours)"] = ours[f"{c} std (ours)"]
    return df


def _protocol(cfg) -> str:
    return (f"TP within {cfg.match_radius:g} px, one-to-one matching; classification over the matched annotated "
            f"cells, weighted by class support; threshold -> components >= {cfg.min_area} px -> distance transform "
            f"-> maxima in {cfg.peak_window}x{cfg.peak_window} -> dilate disk {cfg.dilate_radius} -> centroids; "
            f"class = argmax of the mean probability in {cfg.vote_box}x{cfg.vote_box} (eq. 3); CONCORDe-Net row: "
            f"threshold -> centre of each component (its own method), class by SC-CNN with NEP (d = "
            f"{cfg.sccnn_radius:g} px)")


def _split_note(cfg) -> str:
    n = cfg.n_splits
    return (f"train + val pooled and re-split {round((1 - cfg.val_fraction) * 10)}:{round(cfg.val_fraction * 10)} at "
            f"seeds {cfg.seed}..{cfg.seed + n - 1} ({n} split{'s' if n > 1 else ''}; the paper: 3"
            f"{', so no std' if n == 1 else ''}); threshold tuned on each split's val by F1, scored on the fixed test "
            "split; mean (and std) over splits")


def table2(results: pd.DataFrame, rows=TABLE2_ROWS) -> pd.DataFrame:
    """Table 2 (detection) from :func:`run_pipelines` results, beside the paper's."""
    pipe = {r2: p for p, (_, r2, _) in PIPELINES.items()}
    rows = [r for r in rows if r in pipe and pipe[r] in set(results["pipeline"])]
    df = _beside_paper(_mean_std(results, {r: pipe[r] for r in rows}, paper.TABLE2_COLUMNS), paper.TABLE2,
                       paper.TABLE2_COLUMNS)
    return df.join(_tuning(results, {r: pipe[r] for r in rows}))


def _tuning(results: pd.DataFrame, rows: dict) -> pd.DataFrame:
    """Each row's tuned threshold (mean over splits) and the tuned values on an edge of their search in any
    split ("-" when none; issue 25), so a reader sees that no search capped a row."""
    out = []
    for row, pipe in rows.items():
        r = results[results["pipeline"] == pipe]
        edges = sorted({e.strip() for v in r["on edge"].fillna("-") for e in str(v).split(",")
                        if e.strip() not in ("", "-")})
        out.append({"Method": row, "threshold (ours)": float(r["threshold"].mean()),
                    "on edge (ours)": ", ".join(edges) or "-"})
    return pd.DataFrame(out).set_index("Method")


def table3(results: pd.DataFrame, rows=TABLE3_ROWS) -> pd.DataFrame:
    """Table 3 (classification) from :func:`run_pipelines` results, beside the paper's."""
    pipe = {r3: p for p, (_, _, r3) in PIPELINES.items()}
    rows = [r for r in rows if r in pipe and pipe[r] in set(results["pipeline"])]
    return _beside_paper(_mean_std(results, {r: pipe[r] for r in rows}, paper.TABLE3_COLUMNS), paper.TABLE3,
                         paper.TABLE3_COLUMNS)


def table_a4(results: pd.DataFrame) -> pd.DataFrame:
    """Table A.4: training time of each pipeline (both networks for the separate ones), beside the paper's."""
    paper_rows = {"U-Net": "U-Net", "CONCORDe-Net": "CONCORDe-Net", "DRDIN": "DRDIN-detection+classification",
                  "S-DRDIN": "S-DRDIN"}
    out = []
    for pipe in dict.fromkeys(results["pipeline"]):
        r = results[results["pipeline"] == pipe]
        out.append({"Method": pipe, "hours for 100 epochs (paper)": paper.TABLE_A4.get(paper_rows.get(pipe), np.nan),
                    "train s (ours)": float(r["train s"].mean()), "epochs (ours)": float(r["epochs"].mean())})
    return pd.DataFrame(out).set_index("Method")


def table_a5(results: pd.DataFrame, class_names, pipeline: str = "S-DRDIN") -> pd.DataFrame:
    """Table A.5: S-DRDIN per cell type (classification P / R / F1, detection recall), beside the paper's."""
    r = results[results["pipeline"] == pipeline]
    if r.empty:
        raise ValueError(f"no {pipeline} results to make Table A.5 from")
    cols = paper.TABLE_A5_COLUMNS
    ours = pd.DataFrame({f"{c} (ours)": [float(r[f"{n} {c}"].mean()) for n in class_names] for c in cols},
                        index=pd.Index(list(class_names), name="Cell type"))
    for c in cols:
        ours[f"{c} std (ours)"] = [float(r[f"{n} {c}"].std(ddof=0)) if len(r) > 1 else np.nan for n in class_names]
    if tuple(class_names) == paper.CLASS_NAMES:
        return _beside_paper(ours, paper.TABLE_A5, cols)
    return ours[[f"{c}{s} (ours)" for c in cols for s in ("", " std")]]


def main(quick: bool = False, out=None, data: str = "synthetic", rows=None, resume: bool = False, verbose="auto",
         command: str | None = None, epochs: int | None = None, config=None, splits=None, overrides=None,
         data_root=None) -> dict:
    """Trains every pipeline, prints Tables 2, 3, A.4 and A.5 and writes them under ``<out>/sdrdin``.

    ``rows`` limits the Table 2 / Table 3 rows (default: all);
    ``epochs`` caps every network's epochs; ``overrides`` sets ``SDRDINConfig`` fields.
    """
    run = Reproduction(PAPER, data, quick=quick, out=out, config=config, overrides=overrides, epochs=epochs,
                       command=command, splits=splits, data_root=data_root)
    rows = list(rows or dict.fromkeys(list(TABLE2_ROWS) + list(TABLE3_ROWS)))
    setup = TableSetup(PAPER, rows, run.config, quick, data, run.out, run.splits)
    base, tr, va, te = setup.base, setup.train, setup.val, setup.test
    results = run_pipelines(base, tr, va, te, run.out, _pipelines_for(rows), resume=resume, verbose=verbose)
    os.makedirs(run.out, exist_ok=True)
    from common.io import atomic_path

    with atomic_path(os.path.join(run.out, "results_per_split.csv")) as tmp:
        results.to_csv(tmp, index=False)
    meta = provenance(base, tr, va, te, _protocol(base), _split_note(base), setup.t0)
    tables = {"table2": (table2(results, [r for r in TABLE2_ROWS if r in rows]), "S-DRDIN Table 2 - cell detection"),
              "table3": (table3(results, [r for r in TABLE3_ROWS if r in rows]),
                         "S-DRDIN Table 3 - cell classification"),
              "table_a4": (table_a4(results), "S-DRDIN Table A.4 - training time"),
              }
    if "S-DRDIN" in set(results["pipeline"]):
        tables["table_a5"] = (table_a5(results, tr.class_names), "S-DRDIN Table A.5 - per cell type")
    for name, (df, title) in tables.items():
        df.attrs["meta"] = dict(meta)
        run.publish(df, name, f"{title} (paper vs ours)")
    run.finish("S-DRDIN")
    return {k: v[0] for k, v in tables.items()}
