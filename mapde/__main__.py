"""``python -m mapde reproduce|train|predict|evaluate``."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mapde.config import TABLE1_ROWS  # noqa: E402  (after the log-level default)

_MODEL_FILE = "model.keras"
_PARAMS_FILE = "locate.json"


def _load_run(path):
    """(model, config, tuned location params, folder) of a run folder or a ``.keras`` file."""
    import keras

    import mapde.losses  # noqa: F401  (registers the loss for compiled files)
    from common.baselines import sccnn  # noqa: F401
    from mapde.config import MapDeConfig

    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    file = os.path.join(path, _MODEL_FILE) if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise FileNotFoundError(f"no model at {file}; train one with `python -m mapde train`")
    cfg, params = MapDeConfig(), {}
    if os.path.isfile(os.path.join(folder, "config.json")):
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            cfg = MapDeConfig.from_dict(json.load(f))
    if os.path.isfile(os.path.join(folder, _PARAMS_FILE)):
        with open(os.path.join(folder, _PARAMS_FILE), encoding="utf-8") as f:
            params = json.load(f)
    return keras.saving.load_model(file), cfg, params, folder


def _method_params(a, cfg, params):
    """Location method and its (threshold, min_distance): the flags, else the run's tuned values."""
    method = a.method or ("peak" if cfg.model != "mapde" else "deconv")
    tuned = params.get(method, {})
    thr = a.threshold if a.threshold is not None else tuned.get("threshold")
    if thr is None:
        raise ValueError(f"no threshold for method {method!r}: pass --threshold or use a run folder whose "
                         f"{_PARAMS_FILE} has it (written by `python -m mapde train`)")
    dist = a.min_distance if a.min_distance is not None else (tuned.get("min_distance") or 4)
    return method, float(thr), int(dist)


def _data_name(data):
    return "synthetic:he" if data == "synthetic" else data


def _parse_overrides(items) -> dict:
    """``["width=0.125", "epochs=100", "min_distances=[3,5]"]`` -> a dict (values read as JSON,
    else kept as text)."""
    out = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[key.strip()] = value
    return out


def _cmd_reproduce(a) -> int:
    from mapde.reproduce import main

    command = " ".join(["python -m mapde"] + (a.argv if a.argv is not None else sys.argv[1:]))
    main(quick=a.quick, out=a.out, data=a.data, rows=a.rows or list(TABLE1_ROWS), resume=a.resume,
         verbose=a.verbose, command=command, epochs=a.epochs, overrides=_parse_overrides(a.set))
    return 0


def _cmd_train(a) -> int:
    import dataclasses

    from common.io import atomic_write_text
    from mapde.config import MapDeConfig
    from mapde.evaluate import location_map, predict_samples, tune
    from mapde.reproduce import load_splits
    from mapde.train import train_model, train_sccnn

    cfg = MapDeConfig.quick() if a.quick else MapDeConfig()
    over = {k: v for k, v in (("epochs", a.epochs), ("seed", a.seed), ("width", a.width)) if v is not None}
    cfg = dataclasses.replace(cfg, data=_data_name(a.data), model=a.model, per_class=a.per_class,
                              locate="deconv" if a.model == "mapde" else "peak", **over)
    if a.model == "sccnn":
        cfg = dataclasses.replace(cfg, sccnn_epochs=a.epochs or cfg.sccnn_epochs)
    train, val, _ = load_splits(a.data, cfg.seed, a.data_root)
    print(f"data: {train.description}; train {len(train)} / val {len(val)} images")
    trainer = train_sccnn if a.model == "sccnn" else train_model
    model, hist = trainer(cfg, train, val, a.out, resume=not a.restart, verbose=a.verbose)
    maps = predict_samples(model, val, cfg.tile_margin, progress=True)
    tuned = {}
    for method in (("deconv", "peak", "feat") if a.model == "mapde" else ("peak",)):
        lm = [location_map(m, s.image, method, cfg) for m, s in zip(maps, val)]
        params, sweep = tune(lm, val, method, cfg)
        best = sweep.loc[sweep["F1Score"].idxmax()]
        tuned[method] = {**params, "val_F1": float(best["F1Score"]), "match_radius": cfg.match_radius}
        print(f"{method}: threshold {params['threshold']:.4g}"
              + (f", min_distance {params['min_distance']}" if params["min_distance"] else "")
              + f"; val F1 {best['F1Score']:.3f}")
    atomic_write_text(os.path.join(a.out, _PARAMS_FILE), json.dumps(tuned, indent=2) + "\n")
    print(f"model: {os.path.join(a.out, _MODEL_FILE)} ({len(hist)} epochs); tuned on val -> {_PARAMS_FILE}")
    return 0


def _cmd_predict(a) -> int:
    from common.io import read_image, write_geojson, write_points_csv
    from mapde.evaluate import locate, location_map, predict_maps

    model, cfg, params, folder = _load_run(a.model)
    method, thr, dist = _method_params(a, cfg, params)
    names = None
    if cfg.per_class and os.path.isfile(os.path.join(folder, "data.json")):
        with open(os.path.join(folder, "data.json"), encoding="utf-8") as f:
            names = json.load(f).get("class_names")
    os.makedirs(a.out, exist_ok=True)
    for path in a.images:
        image = read_image(path)
        maps = predict_maps(model, image, tile=not a.no_tiling, margin=a.margin, progress=True)
        lm = location_map(maps, image, method, cfg)
        pts, cls = locate(lm, method, thr, dist, cfg.min_area, return_classes=True)
        classes = cls if names else None
        stem = os.path.join(a.out, os.path.splitext(os.path.basename(path))[0])
        write_points_csv(stem + ".csv", pts, image=os.path.basename(path), classes=classes, class_names=names)
        write_geojson(stem + ".geojson", pts, classes=classes, class_names=names)
        print(f"{path}: {len(pts)} cells ({method}) -> {stem}.csv, {stem}.geojson")
    return 0


def _cmd_evaluate(a) -> int:
    from common.datasets import load
    from mapde.evaluate import locate, location_map, predict_samples, score_points
    from mapde.reproduce import SYNTHETIC_SPLITS

    model, cfg, params, _ = _load_run(a.model)
    method, thr, dist = _method_params(a, cfg, params)
    name = _data_name(a.data)
    opts = {}
    if name.startswith("synthetic") and a.split in SYNTHETIC_SPLITS:
        opts = {"n_images": SYNTHETIC_SPLITS[a.split][0], "size": SYNTHETIC_SPLITS[a.split][1]}
    samples = load(name, split=a.split, data_root=a.data_root, **opts)
    maps = predict_samples(model, samples, cfg.tile_margin, progress=True)
    preds = [locate(location_map(m, s.image, method, cfg), method, thr, dist, cfg.min_area)
             for m, s in zip(maps, samples)]
    radii = a.radius or [cfg.match_radius, *cfg.extra_radii]
    print(f"{samples.description}; split {a.split}: {len(samples)} images; method {method}, threshold {thr:.4g}"
          + (f", min_distance {dist}" if method == "peak" else ""))
    for r, sc in score_points(preds, samples, radii).items():
        print(f"  {r:g} px: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in sc.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mapde",
                                description="MapDe (Raza et al., ISBI 2019): reproduce, train, predict, evaluate.")
    sub = p.add_subparsers(dest="command", required=True)
    data_help = "'synthetic' (H&E kind), 'crchisto', 'bccd', 'synthetic:<kind>' or a folder"
    methods = ("deconv", "peak", "feat")

    r = sub.add_parser("reproduce", help="Table 1, paper vs ours")
    r.add_argument("--quick", action="store_true", help="small CPU preset (minutes)")
    r.add_argument("--data", default="synthetic", help=data_help)
    r.add_argument("--out", default="runs/reproduce", help="output folder (default runs/reproduce)")
    r.add_argument("--rows", nargs="+", choices=list(TABLE1_ROWS), help="subset of Table 1 rows")
    r.add_argument("--resume", action="store_true", help="continue interrupted runs")
    r.add_argument("--epochs", type=int, help="cap the epochs (shortened run; the table says so)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a MapDeConfig field, e.g. --set width=0.125 --set epochs=100 (repeatable; "
                        "the table's config line records it)")
    r.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras verbosity (2: a line per epoch)")
    r.set_defaults(func=_cmd_reproduce)

    t = sub.add_parser("train", help="train MapDe, Micro-Net (regression) or SC-CNN and tune on val")
    t.add_argument("--model", default="mapde", choices=("mapde", "micronet", "sccnn"))
    t.add_argument("--data", default="synthetic", help=data_help)
    t.add_argument("--data-root", default=None, help="root of the shared data (default $CELLREPRO_DATA or ../shared/data)")
    t.add_argument("--quick", action="store_true")
    t.add_argument("--epochs", type=int)
    t.add_argument("--width", type=float, help="Micro-Net width factor (1.0 = paper)")
    t.add_argument("--per-class", action="store_true", help="one mapped channel per cell type")
    t.add_argument("--seed", type=int)
    t.add_argument("--restart", action="store_true", help="ignore an existing run folder instead of resuming")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    t.set_defaults(func=_cmd_train)

    q = sub.add_parser("predict", help="image(s) -> points CSV and QuPath GeoJSON (large images are tiled)")
    q.add_argument("images", nargs="+")
    q.add_argument("--model", required=True, help="run folder or .keras file")
    q.add_argument("--method", choices=methods, help="default: deconv for MapDe, peak otherwise")
    q.add_argument("--threshold", type=float, help="default: the run's validation-tuned threshold")
    q.add_argument("--min-distance", type=int, help="peak distance (default: the run's tuned value)")
    q.add_argument("--margin", type=int, default=32, help="tile overlap dropped at inner tile edges")
    q.add_argument("--no-tiling", action="store_true", help="refuse images that are not 252 x 252")
    q.add_argument("--out", required=True)
    q.set_defaults(func=_cmd_predict)

    e = sub.add_parser("evaluate", help="precision / recall / F1 on a split")
    e.add_argument("--model", required=True, help="run folder or .keras file")
    e.add_argument("--data", default="synthetic", help=data_help)
    e.add_argument("--data-root", default=None)
    e.add_argument("--split", default="test", choices=("train", "val", "test", "trainval", "all"))
    e.add_argument("--method", choices=methods)
    e.add_argument("--threshold", type=float)
    e.add_argument("--min-distance", type=int)
    e.add_argument("--radius", type=float, nargs="+", help="matching radii in px (default 6, 5, 8)")
    e.set_defaults(func=_cmd_evaluate)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else None
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"mapde {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
