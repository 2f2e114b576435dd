"""Reproduce MapDe's Table 1: Proposed, MapDe-Peak, MapDe-feat(L-1), Micro-Net-Peak and SC-CNN.

``table1`` trains the three networks the rows need (MapDe once for its rows, Micro-Net, SC-CNN) on
the training split, calibrates each row's threshold (and peak distance) on the validation split by
F1 at 6 px, as the paper tuned its tolerances, and scores the test split with one-to-one matching
within 6 px; 5 px and 8 px are reported beside it. "Proposed" deconvolves the raw output as the
paper does; "Proposed (label estimate)", ours, deconvolves ``sigmoid(y - log w)``. On CRCHisto the
8 px figures are also set beside TIAToolbox's published MapDe and SC-CNN numbers.
"""

from __future__ import annotations

import os
import time

import pandas as pd

from common.evaluation import score
from common.reporting import paper_vs_ours, write_table
from common.reproduce import Reproduction, TableSetup, provenance, tuned_columns
from mapde import paper
from mapde.config import TABLE1_ROWS
from mapde.inference import calibrate, locate, location_map, method_key
from mapde.paper import PAPER

__all__ = ["deconv_iterations", "main", "table1", "tiatoolbox_comparison", "train_for_rows"]


def train_for_rows(base, rows, train, val, out: str, resume: bool = False, verbose="auto") -> dict:
    """Trains (and calibrates) each network the rows need once: ``{model kind: (predictor, seconds)}``."""
    from common.training import TrainingClock
    from mapde.train import train as train_run

    models = {}
    for row in rows:
        cfg = base.variant(row)
        if cfg.model in models:
            continue
        folder = os.path.join(out, "models", cfg.model)
        with TrainingClock(folder, resume) as clock:
            pred = train_run(cfg, train, val, folder, resume=resume, verbose=verbose)
        models[cfg.model] = (pred, clock.seconds)
    return models


def _protocol(base) -> str:
    return (f"one-to-one matching (max pairs, then min distance) within {base.match_radius:g} px (paper), also "
            f"{', '.join(f'{r:g}' for r in base.extra_radii)} px; Proposed = Lucy-Richardson "
            f"({base.deconv_iterations} it., PSF = eq. 1 filter r={base.radius:g}) of the raw output (paper) -> "
            f"threshold -> centroids; Proposed (label estimate) = the same on sigmoid(y - log {base.pos_weight:g}) "
            f"(ours); peaks = peak_local_max; feat = guided filter (r={base.guided_radius}, eps={base.guided_eps:g}) "
            "of layer L-1 -> threshold -> centroids")


def table1(data: str = "synthetic", quick: bool = False, out=None, rows=TABLE1_ROWS, config=None,
           resume: bool = False, verbose="auto", splits=None) -> pd.DataFrame:
    """Table 1: precision / recall / F1 of each row at 6 px, beside the paper's.

    Args:
        data: ``"synthetic"`` (the ``he`` kind), ``"crchisto"``, or any name / folder
            ``common.datasets.load`` accepts.
        quick: use ``MapDeConfig.quick()`` (ignored when ``config`` is given).
        out: folder for model runs and tables (a temporary folder when None).
        rows: which Table 1 rows to run.
        config: base config; each row applies its ``VARIANTS`` overrides.
        resume: continue interrupted runs instead of starting them afresh.
        splits: optional preloaded ``(train, val, test)``.

    Returns:
        DataFrame indexed by ``Method`` with ``<metric> (paper)`` / ``<metric> (ours)`` for
        Precision, Recall and F1 at 6 px, then TP, FP, FN, ``F1 @5px``, ``Precision @8px``,
        ``Recall @8px``, ``F1 @8px``, the calibrated ``threshold`` / ``min_distance``, ``on edge``, ``train s``
        and ``epochs``. ``df.attrs["meta"]`` holds the protocol.
    """
    setup = TableSetup(PAPER, rows, config, quick, data, out, splits)
    base, out, t0, train, val, test = setup.base, setup.out, setup.t0, setup.train, setup.val, setup.test
    models = train_for_rows(base, rows, train, val, out, resume=resume, verbose=verbose)
    test_maps = {k: [p.maps(s.image) for s in test] for k, (p, _) in models.items()}
    radii = (base.match_radius, *base.extra_radii)
    ours = []
    for row in rows:
        cfg = base.variant(row)
        pred, seconds = models[cfg.model]
        dets = [pred.detect(m, s.image, cfg.locate, deconv_input=cfg.deconv_input)
                for m, s in zip(test_maps[cfg.model], test)]
        sc = score(dets, test, radii)
        r0 = sc.loc[float(base.match_radius)]
        rec = {"Method": row, **{k: float(r0[k]) for k in ("Precision", "Recall", "F1")},
               **{k: int(r0[k]) for k in ("TP", "FP", "FN")}}
        for r in base.extra_radii:
            if float(r) == 5.0:
                rec["F1 @5px"] = float(sc.loc[5.0, "F1"])
            else:
                rec.update({f"{k} @{r:g}px": float(sc.loc[float(r), k]) for k in ("Precision", "Recall", "F1")})
        params = pred.tuned(method_key(cfg.locate, cfg.deconv_input))[1]
        rec.update({"threshold": params["threshold"], "min_distance": params.get("min_distance"),
                    "on edge": tuned_columns(params)["on edge"], "train s": round(seconds, 1),
                    "epochs": len(pred.history())})
        ours.append(rec)
    ours = pd.DataFrame(ours).set_index("Method")
    paper_rows = [r for r in rows if r in paper.TABLE1]
    df = paper_vs_ours(paper.table1().loc[paper_rows], ours, list(paper.TABLE1_COLUMNS))
    for c in ours.columns:
        if c not in paper.TABLE1_COLUMNS:
            df[c] = ours[c]
    some = next(iter(models.values()))[0]
    df.attrs["meta"] = provenance(
        base, train, val, test, _protocol(base),
        f"thresholds (and peak distances) calibrated on val by F1 at {base.match_radius:g} px, scored on test", t0,
        **{"tiling": some.margin_note if some.kind != "sccnn" else "SC-CNN runs densely",
           "paper protocol": paper.PROTOCOL})
    return df


def tiatoolbox_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """Our 8 px CRCHisto figures beside TIAToolbox's published pretrained-model numbers."""
    rows = [r for r in paper.TIATOOLBOX_CRCHISTO if r in df.index]
    out = pd.DataFrame(index=pd.Index(rows, name="Method"))
    for k, name in enumerate(paper.TABLE1_COLUMNS):
        out[f"{name} (TIAToolbox)"] = [paper.TIATOOLBOX_CRCHISTO[r][k] for r in rows]
        out[f"{name} (ours)"] = [df.loc[r, f"{name} @8px"] for r in rows]
    return out


def deconv_iterations(folder, iterations=(1, 2, 3, 5, 10, 20), splits=None, write: bool = True,
                      command: str | None = None, deconv_input: str | None = None) -> pd.DataFrame:
    """Proposed with other Lucy-Richardson iteration counts, on a finished ``reproduce`` run.

    A diagnostic beside Table 1 (the paper fixes 2 iterations): the run's trained MapDe
    (``<folder>/models/mapde``) is applied to its validation and test splits; for each count the
    threshold is calibrated on validation by F1 at ``match_radius`` and the test split is scored.

    Args:
        folder: the ``mapde`` folder of a ``reproduce`` run (holds ``models/mapde``).
        iterations: iteration counts to try.
        splits: optional preloaded ``(train, val, test)``; by default the run's data and seed.
        write: also write ``<folder>/deconv_iterations.{md,csv}`` (``deconv_iterations_label_estimate``
            for the label estimate) with provenance.
        command: how this was run, for the provenance.
        deconv_input: ``"raw"`` (paper) or ``"label_estimate"`` (default: the run's config).

    Returns:
        DataFrame indexed by ``iterations`` with Precision, Recall, F1 at the matching radius,
        ``detections``, the calibrated ``threshold`` and ``on edge``.
    """
    import dataclasses

    from common.reporting import hardware_summary

    folder = os.fspath(folder)
    run = os.path.join(folder, "models", "mapde")
    if not os.path.isfile(os.path.join(run, "model.keras")):
        raise FileNotFoundError(f"no trained MapDe at {run}/model.keras: run `cellrepro mapde reproduce` first")
    iterations = [int(k) for k in iterations]
    if not iterations or min(iterations) < 1:
        raise ValueError(f"iterations must be a non-empty list of counts >= 1, got {iterations}")
    t0 = time.time()
    pred = PAPER.load(run)
    cfg = pred.config
    di = deconv_input or cfg.deconv_input
    if splits is None:
        splits = (None, *(PAPER.load_split(cfg.data, s, cfg.seed) for s in ("val", "test")))
    _, val, test = splits
    maps_v, maps_t = [pred.maps(s.image) for s in val], [pred.maps(s.image) for s in test]
    rows = []
    for k in iterations:
        c = dataclasses.replace(cfg, deconv_iterations=k)
        lv = [location_map(m, s.image, "deconv", c, di) for m, s in zip(maps_v, val)]
        params, _ = calibrate(lv, val, "deconv", c)
        lt = [location_map(m, s.image, "deconv", c, di) for m, s in zip(maps_t, test)]
        preds = [locate(m, "deconv", params["threshold"], 1, c.min_area) for m in lt]
        sc = score(preds, test, [c.match_radius]).iloc[0]
        rows.append({"iterations": k, "Precision": sc["Precision"], "Recall": sc["Recall"], "F1": sc["F1"],
                     "detections": int(sum(len(p) for p in preds)), "threshold": params["threshold"],
                     "on edge": tuned_columns(params)["on edge"]})
    df = pd.DataFrame(rows).set_index("iterations")
    df.attrs["meta"] = {
        "data": f"{cfg.data}; val {len(val)} / test {len(test)} images, {sum(len(s.points) for s in test)} test cells",
        "protocol": f"the run's MapDe; Lucy-Richardson of the {'raw output' if di == 'raw' else 'label estimate'} "
                    f"with the eq. 1 PSF, threshold calibrated on val per iteration count by F1 at "
                    f"{cfg.match_radius:g} px, centroids, one-to-one matching within {cfg.match_radius:g} px on test; "
                    "the paper uses 2 iterations",
        "run": folder,
        "command": command or f"mapde.reproduce.deconv_iterations({folder!r}, {tuple(iterations)}, "
                              f"deconv_input={di!r})",
        "hardware": hardware_summary(),
        "wall time": f"{time.time() - t0:.0f} s",
    }
    if write:
        name = "deconv_iterations" if di == "raw" else f"deconv_iterations_{di}"
        write_table(df, os.path.join(folder, name),
                    f"Proposed (MapDe + Lucy-Richardson of the {'raw output' if di == 'raw' else 'label estimate'}) "
                    "against the number of iterations", df.attrs["meta"])
    return df


def main(quick: bool = False, out=None, data: str = "synthetic", rows=TABLE1_ROWS, resume: bool = False,
         verbose="auto", command: str | None = None, epochs: int | None = None, config=None, splits=None,
         overrides=None, data_root=None) -> dict:
    """Runs Table 1, prints it and writes ``<out>/mapde/table1.{md,csv}`` (with provenance) and the
    model runs (each with its calibration ``sweep.csv``); on CRCHisto also ``tiatoolbox_crchisto.{md,csv}``.
    ``epochs`` caps the training epochs; ``overrides`` sets ``MapDeConfig`` fields (``{"field": value}``
    or ``["KEY=VALUE"]``); the table's config line lists both."""
    run = Reproduction(PAPER, data, quick=quick, out=out, config=config, overrides=overrides, epochs=epochs,
                       command=command, splits=splits, data_root=data_root)
    df = table1(data, out=run.out, rows=rows, config=run.config, resume=resume, verbose=verbose, splits=run.splits)
    run.publish(df, "table1", "MapDe Table 1 - cell detection (paper vs ours)", rename=paper.RENAME)
    result = {"table1": df}
    if PAPER.data_name(data) == "crchisto" and "F1 @8px" in df.columns:
        tt = tiatoolbox_comparison(df)
        tt.attrs["meta"] = {k: df.attrs["meta"][k] for k in ("data", "split", "config", "hardware")}
        tt.attrs["meta"]["protocol"] = (f"TP within {paper.TIATOOLBOX_RADIUS_PX:g} px; TIAToolbox: pretrained "
                                        "mapde-crchisto / sccnn-crchisto, peak detection, their own split")
        run.publish(tt, "tiatoolbox_crchisto", "MapDe on CRCHisto at 8 px - TIAToolbox's published numbers vs ours",
                    rename=paper.RENAME)
        result["tiatoolbox"] = tt
    run.finish("MapDe")
    return result
