"""Reproduce MapDe's Table 1: Proposed, MapDe-Peak, MapDe-feat(L-1), Micro-Net-Peak and SC-CNN.

``table1`` trains the three networks the rows need (MapDe once for the first three rows,
Micro-Net, SC-CNN) on the training split, tunes each row's threshold (and peak distance) on the
validation split by F1 at 6 px, as the paper tuned its tolerances, and scores the test split with
one-to-one matching within 6 px; 5 px and 8 px are reported beside it. On CRCHisto the 8 px figures
are also set beside TIAToolbox's published MapDe and SC-CNN numbers.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time

import pandas as pd

from common.datasets import load
from common.io import atomic_path, atomic_write_text
from common.reporting import hardware_summary, paper_vs_ours, to_markdown, write_table
from mapde import paper
from mapde.config import TABLE1_ROWS, MapDeConfig
from mapde.evaluate import locate, location_map, predict_samples, score_points, tune
from mapde.train import train_model, train_sccnn

__all__ = ["SYNTHETIC_SPLITS", "deconv_iterations", "load_split", "load_splits", "main", "table1", "tiatoolbox_comparison",
           "train_for_rows"]

# Synthetic H&E splits: (images, side). Training images are larger than the 252 input so random
# crops differ; validation and test images are one network input each.
SYNTHETIC_SPLITS = {"train": (16, 320), "val": (6, 252), "test": (12, 252)}


def _data_name(data: str) -> str:
    if not isinstance(data, str) or not data:
        raise ValueError(f"data must be a dataset name or folder, got {data!r}")
    return "synthetic:he" if data == "synthetic" else data


def load_split(data: str = "synthetic", split: str = "test", seed: int = 0, data_root=None):
    """One split (``train``, ``val`` or ``test``) of a dataset name or folder accepted by
    ``common.datasets.load``; synthetic splits have the sizes of ``SYNTHETIC_SPLITS``."""
    name = _data_name(data)
    if name.startswith("synthetic"):
        if split not in SYNTHETIC_SPLITS:
            raise ValueError(f"split must be one of {list(SYNTHETIC_SPLITS)}, got {split!r}")
        n, size = SYNTHETIC_SPLITS[split]
        return load(name, split=split, n_images=n, size=size, seed=seed)
    return load(name, split=split, data_root=data_root)


def load_splits(data: str = "synthetic", seed: int = 0, data_root=None):
    """(train, val, test) SampleLists of a dataset name or folder accepted by ``common.datasets.load``."""
    return tuple(load_split(data, s, seed, data_root) for s in ("train", "val", "test"))


def _config(config, quick: bool, data: str) -> MapDeConfig:
    if config is None:
        config = MapDeConfig.quick() if quick else MapDeConfig()
    if not isinstance(config, MapDeConfig):
        raise ValueError(f"config must be a MapDeConfig, got {type(config).__name__}")
    return dataclasses.replace(config, data=_data_name(data))


def train_for_rows(base: MapDeConfig, rows, train, val, out: str, resume: bool = False, verbose="auto") -> dict:
    """Trains each network the rows need once: ``{model kind: (model, history, seconds)}``."""
    models = {}
    for row in rows:
        cfg = base.variant(row)
        if cfg.model in models:
            continue
        t0 = time.time()
        folder = os.path.join(out, "models", cfg.model)
        if cfg.model == "sccnn":
            model, hist = train_sccnn(cfg, train, val, folder, resume=resume, verbose=verbose)
        else:
            model, hist = train_model(cfg, train, val, folder, resume=resume, verbose=verbose)
        models[cfg.model] = (model, hist, time.time() - t0)
    return models


def table1(data: str = "synthetic", quick: bool = False, out=None, rows=TABLE1_ROWS, config=None,
           resume: bool = False, verbose="auto", splits=None) -> pd.DataFrame:
    """Table 1: precision / recall / F1 of each row at 6 px, beside the paper's.

    Args:
        data: ``"synthetic"`` (the ``he`` kind), ``"crchisto"``, or any name / folder
            ``common.datasets.load`` accepts.
        quick: use ``MapDeConfig.quick()`` (ignored when ``config`` is given).
        out: folder for model runs, sweeps and tables (a temporary folder when None).
        rows: which Table 1 rows to run.
        config: base config; each row applies its ``VARIANTS`` overrides.
        resume: continue interrupted runs instead of starting them afresh.
        splits: optional preloaded ``(train, val, test)``.

    Returns:
        DataFrame indexed by ``Method`` with ``<metric> (paper)`` / ``<metric> (ours)`` for
        Precision, Recall and F1Score at 6 px, then ``F1Score @5px``, ``Precision @8px``,
        ``Recall @8px``, ``F1Score @8px``, the tuned ``threshold`` / ``min_distance``,
        ``train s`` and ``epochs``. ``df.attrs["meta"]`` holds the protocol.
    """
    unknown = [r for r in rows if r not in TABLE1_ROWS]
    if unknown or not len(rows):
        raise ValueError(f"unknown Table 1 row(s) {unknown}; choose from {list(TABLE1_ROWS)}")
    base = _config(config, quick, data)
    out = tempfile.mkdtemp(prefix="mapde_") if out is None else os.fspath(out)
    t0 = time.time()
    train, val, test = splits if splits is not None else load_splits(data, base.seed)
    models = train_for_rows(base, rows, train, val, out, resume=resume, verbose=verbose)
    maps = {k: (predict_samples(m, val, base.tile_margin), predict_samples(m, test, base.tile_margin))
            for k, (m, _, _) in models.items()}
    radii = (base.match_radius, *base.extra_radii)
    ours = []
    for row in rows:
        cfg = base.variant(row)
        val_maps, test_maps = maps[cfg.model]
        lv = [location_map(m, s.image, cfg.locate, cfg) for m, s in zip(val_maps, val)]
        params, sweep = tune(lv, val, cfg.locate, cfg)
        with atomic_path(os.path.join(out, "sweeps", f"{row}.csv")) as tmp:
            sweep.to_csv(tmp, index=False)
        lt = [location_map(m, s.image, cfg.locate, cfg) for m, s in zip(test_maps, test)]
        preds = [locate(m, cfg.locate, params["threshold"], params["min_distance"] or 1, cfg.min_area) for m in lt]
        sc = score_points(preds, test, radii)
        r0 = sc[float(base.match_radius)]
        rec = {"Method": row, "Precision": r0["Precision"], "Recall": r0["Recall"], "F1Score": r0["F1Score"]}
        for r in base.extra_radii:
            if float(r) == 5.0:
                rec["F1Score @5px"] = sc[5.0]["F1Score"]
            else:
                rec.update({f"{k} @{r:g}px": sc[float(r)][k] for k in ("Precision", "Recall", "F1Score")})
        _, hist, seconds = models[cfg.model]
        rec.update({"threshold": params["threshold"], "min_distance": params["min_distance"],
                    "train s": round(seconds, 1), "epochs": len(hist)})
        ours.append(rec)
    ours = pd.DataFrame(ours).set_index("Method")
    df = paper_vs_ours(paper.table1().loc[list(rows)], ours, list(paper.TABLE1_COLUMNS))
    for c in ours.columns:
        if c not in paper.TABLE1_COLUMNS:
            df[c] = ours[c]
    n_cells = sum(len(s.points) for s in test)
    df.attrs["meta"] = {
        "data": f"{train.description or base.data}; {n_cells} test cells",
        "split": f"train {len(train)} / val {len(val)} / test {len(test)} images; thresholds (and peak distances) "
                 f"tuned on val by F1 at {base.match_radius:g} px, scored on test",
        "protocol": f"one-to-one matching (max pairs, then min distance) within {base.match_radius:g} px "
                    f"(paper), also {', '.join(f'{r:g}' for r in base.extra_radii)} px; Proposed = "
                    f"Lucy-Richardson ({base.deconv_iterations} it., PSF = eq. 1 filter r={base.radius:g}) of "
                    f"sigmoid(y - log {base.pos_weight:g}) -> threshold -> centroids; peaks = peak_local_max; "
                    f"feat = guided filter (r={base.guided_radius}, eps={base.guided_eps:g}) of layer L-1 -> "
                    "threshold -> centroids",
        "config": ("MapDeConfig (given)" if config is not None else
                   "MapDeConfig.quick()" if quick else "MapDeConfig() (paper)")
                  + f": Micro-Net width {base.width:g}, batch {base.batch_size}, Adagrad lr {base.learning_rate:g}"
                    f"*exp(-{base.lr_decay:g} epoch), {base.epochs} epochs, pos_weight {base.pos_weight:g}; "
                    f"SC-CNN width {base.sccnn_width:g}, {base.sccnn_epochs} epochs x {base.sccnn_patches} "
                    f"patches; seed {base.seed}",
        "paper protocol": paper.PROTOCOL,
        "hardware": hardware_summary(),
        "wall time": f"{time.time() - t0:.0f} s",
    }
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
                      command: str | None = None) -> pd.DataFrame:
    """Proposed with other Lucy-Richardson iteration counts, on a finished ``reproduce`` run.

    A diagnostic beside Table 1 (the paper fixes 2 iterations): the run's trained MapDe
    (``<folder>/models/mapde``) is applied to its validation and test splits; for each count the
    threshold is tuned on validation by F1 at ``match_radius`` and the test split is scored, so one
    can see whether more iterations separate touching cells.

    Args:
        folder: the ``mapde`` folder of a ``reproduce`` run (holds ``models/mapde``).
        iterations: iteration counts to try.
        splits: optional preloaded ``(train, val, test)``; by default the run's data and seed.
        write: also write ``<folder>/deconv_iterations.{md,csv}`` with provenance.
        command: how this was run, for the provenance.

    Returns:
        DataFrame indexed by ``iterations`` with Precision, Recall, F1Score at the matching
        radius, ``detections`` and the tuned ``threshold``.
    """
    import json

    import keras

    from common.baselines import sccnn  # noqa: F401  (registers layers of saved runs)
    from mapde import losses  # noqa: F401

    folder = os.fspath(folder)
    run = os.path.join(folder, "models", "mapde")
    if not os.path.isfile(os.path.join(run, "model.keras")):
        raise FileNotFoundError(f"no trained MapDe at {run}/model.keras: run `python -m mapde reproduce` first")
    iterations = [int(k) for k in iterations]
    if not iterations or min(iterations) < 1:
        raise ValueError(f"iterations must be a non-empty list of counts >= 1, got {iterations}")
    t0 = time.time()
    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        cfg = MapDeConfig.from_dict(json.load(f))
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    _, val, test = splits if splits is not None else (None, *(load_split(cfg.data, s, cfg.seed) for s in ("val", "test")))
    maps_v, maps_t = predict_samples(model, val, cfg.tile_margin), predict_samples(model, test, cfg.tile_margin)
    rows = []
    for k in iterations:
        c = dataclasses.replace(cfg, deconv_iterations=k, locate="deconv")
        lv = [location_map(m, s.image, "deconv", c) for m, s in zip(maps_v, val)]
        params, _ = tune(lv, val, "deconv", c)
        lt = [location_map(m, s.image, "deconv", c) for m, s in zip(maps_t, test)]
        preds = [locate(m, "deconv", params["threshold"], 1, c.min_area) for m in lt]
        sc = score_points(preds, test, (c.match_radius,))[float(c.match_radius)]
        rows.append({"iterations": k, "Precision": sc["Precision"], "Recall": sc["Recall"], "F1Score": sc["F1Score"],
                     "detections": int(sum(len(p) for p in preds)), "threshold": params["threshold"]})
    df = pd.DataFrame(rows).set_index("iterations")
    df.attrs["meta"] = {
        "data": f"{cfg.data}; val {len(val)} / test {len(test)} images, {sum(len(s.points) for s in test)} test cells",
        "protocol": f"the run's MapDe; Lucy-Richardson of sigmoid(y - log {cfg.pos_weight:g}) with the eq. 1 PSF, "
                    f"threshold tuned on val per iteration count by F1 at {cfg.match_radius:g} px, centroids, "
                    f"one-to-one matching within {cfg.match_radius:g} px on test; the paper uses 2 iterations",
        "run": folder,
        "command": command or f"mapde.reproduce.deconv_iterations({folder!r}, {tuple(iterations)})",
        "hardware": hardware_summary(),
        "wall time": f"{time.time() - t0:.0f} s",
    }
    if write:
        write_table(df, os.path.join(folder, "deconv_iterations"),
                    "Proposed (MapDe + Lucy-Richardson) against the number of iterations", df.attrs["meta"])
    return df


def _print_table(title: str, df: pd.DataFrame) -> None:
    print(f"\n{title}")
    for k, v in df.attrs.get("meta", {}).items():
        print(f"  {k}: {v}")
    print(to_markdown(df))


def main(quick: bool = False, out=None, data: str = "synthetic", rows=TABLE1_ROWS, resume: bool = False,
         verbose="auto", command: str | None = None, epochs: int | None = None, config=None, splits=None,
         overrides: dict | None = None) -> dict:
    """Runs Table 1, prints it and writes ``<out>/mapde/table1.{md,csv}`` (with provenance), the
    model runs and the validation sweeps; on CRCHisto also ``tiatoolbox_crchisto.{md,csv}``.
    ``epochs`` caps the training epochs (a shortened run; the table says so); ``overrides`` sets
    ``MapDeConfig`` fields on top of the preset (the table's config line lists them)."""
    out = os.path.join(tempfile.mkdtemp(prefix="mapde_") if out is None else os.fspath(out), "mapde")
    cmd = command or f"python -m mapde reproduce{' --quick' if quick else ''} --data {data}"
    t0 = time.time()
    cfg = _config(config, quick, data)
    if overrides:
        if not isinstance(overrides, dict):
            raise ValueError(f"overrides must be a dict of MapDeConfig fields, got {type(overrides).__name__}")
        if "data" in overrides:
            raise ValueError("set the dataset with data=..., not an override")
        cfg = MapDeConfig.from_dict({**cfg.to_dict(), **overrides})
    if epochs is not None:
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        cfg = dataclasses.replace(cfg, epochs=min(cfg.epochs, epochs), sccnn_epochs=min(cfg.sccnn_epochs, epochs))
    splits = splits if splits is not None else load_splits(data, cfg.seed)
    given = config is not None or epochs is not None or bool(overrides)
    df = table1(data, quick, out, rows, config=cfg if given else None, resume=resume, verbose=verbose, splits=splits)
    if given and config is None:
        df.attrs["meta"]["config"] = df.attrs["meta"]["config"].replace(
            "MapDeConfig (given)", "MapDeConfig.quick()" if quick else "MapDeConfig() (paper)", 1)
    if overrides:
        df.attrs["meta"]["config"] += "; overrides " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    if epochs is not None:
        df.attrs["meta"]["config"] += f"; epochs capped at {epochs} (a shortened run)"
    df.attrs["meta"]["command"] = cmd
    title = "MapDe Table 1 - cell detection (paper vs ours)"
    write_table(df, os.path.join(out, "table1"), title, df.attrs["meta"], floatfmt=".3f")
    _print_table(title, df)
    result = {"table1": df}
    if _data_name(data) == "crchisto":
        tt = tiatoolbox_comparison(df)
        tt.attrs["meta"] = {k: df.attrs["meta"][k] for k in ("data", "split", "hardware", "command")}
        tt.attrs["meta"]["protocol"] = (f"TP within {paper.TIATOOLBOX_RADIUS_PX:g} px; TIAToolbox: pretrained "
                                        "mapde-crchisto / sccnn-crchisto, peak detection, their own split")
        t2 = "MapDe on CRCHisto at 8 px - TIAToolbox's published numbers vs ours"
        write_table(tt, os.path.join(out, "tiatoolbox_crchisto"), t2, tt.attrs["meta"])
        _print_table(t2, tt)
        result["tiatoolbox"] = tt
    atomic_write_text(os.path.join(out, "command.txt"), cmd + f"\n# total wall time {time.time() - t0:.0f} s\n")
    print(f"\nMapDe results written to {out} ({time.time() - t0:.0f} s)")
    return result

