"""``python -m awarenet reproduce|train|predict|evaluate``."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from awarenet.config import TABLE2_ROWS  # noqa: E402  (after the log-level default)


def _load_detector(path):
    """A detector from a run folder (``detector.keras``) or a ``.keras`` file, and the run's threshold."""
    import keras

    import awarenet.losses  # noqa: F401  (registers the loss for compiled files)
    from common.baselines import concordenet  # noqa: F401

    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    file = os.path.join(path, "detector.keras") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise FileNotFoundError(f"no detector at {file}; train one with `python -m awarenet train`")
    thr = None
    tf = os.path.join(folder, "threshold.json")
    if os.path.isfile(tf):
        with open(tf, encoding="utf-8") as f:
            thr = float(json.load(f)["threshold"])
    return keras.saving.load_model(file), thr, folder


def _detector_and_threshold(a):
    """The detector of ``--model`` and the threshold: ``--threshold`` or the run's val-optimal one."""
    det, thr, folder = _load_detector(a.model)
    thr = a.threshold if a.threshold is not None else thr
    if thr is None:
        raise ValueError("no threshold: pass --threshold or use a run folder with threshold.json")
    return det, thr, folder


def _cmd_reproduce(a) -> int:
    from awarenet.reproduce import main

    rows = a.rows or list(TABLE2_ROWS)
    main(quick=a.quick, out=a.out, data=a.data, rows=rows, resume=a.resume, verbose=a.verbose,
         command=" ".join(["python -m awarenet"] + sys.argv[1:]), epochs=a.epochs)
    return 0


def _cmd_train(a) -> int:
    import dataclasses

    from awarenet.config import AwareNetConfig
    from awarenet.evaluate import probability_maps, threshold_sweep
    from awarenet.reproduce import load_splits
    from awarenet.train import train_classifier, train_detector
    from common.io import atomic_write_text

    cfg = (AwareNetConfig.quick() if a.quick else AwareNetConfig()).variant(a.row)
    over = {k: v for k, v in (("epochs", a.epochs), ("seed", a.seed), ("input_size", a.input_size)) if v is not None}
    cfg = dataclasses.replace(cfg, data=a.data, **over)
    train, val, _ = load_splits(a.data, cfg.seed, a.data_root)
    print(f"data: {train.description}; train {len(train)} / val {len(val)} images")
    det, hist = train_detector(cfg, train, val, a.out, resume=not a.restart, verbose=a.verbose)
    sweep = threshold_sweep(probability_maps(det, val, progress=True), val, cfg.thresholds, cfg.match_radius,
                            cfg.min_area)
    thr = float(sweep["F1-score"].idxmax())
    atomic_write_text(os.path.join(a.out, "threshold.json"), json.dumps(
        {"threshold": thr, "chosen_on": "val", "F1": float(sweep.loc[thr, "F1-score"]),
         "match_radius": cfg.match_radius}, indent=2) + "\n")
    print(sweep.to_string())
    print(f"detector: {os.path.join(a.out, 'detector.keras')} ({len(hist)} epochs); val-optimal threshold {thr}")
    if a.classifier:
        cfg = dataclasses.replace(cfg, n_classes=len(train.class_names))
        clf, h = train_classifier(cfg, train, val, os.path.join(a.out, "classifier"), resume=not a.restart,
                                  verbose=a.verbose)
        print(f"classifier: {os.path.join(a.out, 'classifier', 'classifier.keras')} ({len(h)} epochs)")
    return 0


def _cmd_predict(a) -> int:
    import keras

    from awarenet.evaluate import classify_cells, detect, probability_map
    from common.io import read_image, write_geojson, write_points_csv

    det, thr, folder = _detector_and_threshold(a)
    clf_path = a.classifier or os.path.join(folder, "classifier", "classifier.keras")
    clf = keras.saving.load_model(clf_path) if os.path.isfile(clf_path) else None
    if a.classifier and clf is None:
        raise FileNotFoundError(f"no classifier at {a.classifier}")
    names = None
    if clf is not None:
        names = a.class_names
        data_file = os.path.join(folder, "data.json")
        if names is None and os.path.isfile(data_file):
            with open(data_file, encoding="utf-8") as f:
                names = json.load(f).get("class_names")
        names = names or [f"class{k}" for k in range(clf.n_classes)]
        if len(names) != clf.n_classes:
            raise ValueError(f"{len(names)} class names {names} for a classifier of {clf.n_classes} classes")
    os.makedirs(a.out, exist_ok=True)
    for path in a.images:
        image = read_image(path)
        prob = probability_map(det, image, tile_size=a.tile_size, margin=a.margin, progress=True)
        pts = detect(prob, thr, a.min_area)
        classes = scores = None
        if clf is not None:
            p = classify_cells(clf, image, pts)
            classes, scores = p.argmax(1), p.max(1)
        stem = os.path.join(a.out, os.path.splitext(os.path.basename(path))[0])
        write_points_csv(stem + ".csv", pts, image=os.path.basename(path), classes=classes, class_names=names)
        write_geojson(stem + ".geojson", pts, classes=classes, class_names=names, scores=scores)
        print(f"{path}: {len(pts)} cells -> {stem}.csv, {stem}.geojson")
    return 0


def _cmd_evaluate(a) -> int:
    from awarenet.evaluate import detection_report, probability_maps
    from common.datasets import load
    from common.reporting import to_markdown

    det, thr, _ = _detector_and_threshold(a)
    from awarenet.reproduce import SYNTHETIC_SIZES

    name = "synthetic:mihc" if a.data == "synthetic" else a.data
    opts = {"n_images": SYNTHETIC_SIZES[a.split]} if name.startswith("synthetic") and a.split in SYNTHETIC_SIZES else {}
    samples = load(name, split=a.split, data_root=a.data_root, **opts)
    scores, by_class, _ = detection_report(probability_maps(det, samples, progress=True), samples, thr, a.radius,
                                           a.min_area)
    print(f"{samples.description}; split {a.split}: {len(samples)} images; threshold {thr}; radius {a.radius} px")
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()})
    print(to_markdown(by_class))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m awarenet",
                                description="AwareNet (Hagos et al., ISBI 2021): reproduce, train, predict, evaluate.")
    sub = p.add_subparsers(dest="command", required=True)
    data_help = "'synthetic' (mIHC kind, paper abundance), 'crchisto', 'bccd', 'synthetic:<kind>' or a folder"

    r = sub.add_parser("reproduce", help="Table 2 and the classification results, paper vs ours")
    r.add_argument("--quick", action="store_true", help="small CPU preset (minutes)")
    r.add_argument("--data", default="synthetic", help=data_help)
    r.add_argument("--out", default="runs/reproduce", help="output folder (default runs/reproduce)")
    r.add_argument("--rows", nargs="+", choices=list(TABLE2_ROWS), help="subset of Table 2 rows")
    r.add_argument("--resume", action="store_true", help="continue interrupted run folders")
    r.add_argument("--epochs", type=int, help="cap the epochs (shortened run; the tables say so)")
    r.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras verbosity (2: a line per epoch)")
    r.set_defaults(func=_cmd_reproduce)

    t = sub.add_parser("train", help="train one Table 2 row's detector (and optionally the classifier)")
    t.add_argument("--data", default="synthetic", help=data_help)
    t.add_argument("--data-root", default=None, help="root of the shared data (default $CELLREPRO_DATA or ../shared/data)")
    t.add_argument("--row", default="ExpWeightType1", choices=list(TABLE2_ROWS))
    t.add_argument("--quick", action="store_true")
    t.add_argument("--epochs", type=int)
    t.add_argument("--input-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--classifier", action="store_true", help="also train the cell classifier")
    t.add_argument("--restart", action="store_true", help="ignore an existing run folder instead of resuming")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    t.set_defaults(func=_cmd_train)

    q = sub.add_parser("predict", help="image(s) -> points CSV and QuPath GeoJSON (tiled for large images)")
    q.add_argument("images", nargs="+")
    q.add_argument("--model", required=True, help="run folder or detector .keras file")
    q.add_argument("--classifier", help="classifier .keras (default: <run>/classifier/classifier.keras if present)")
    q.add_argument("--class-names", nargs="+", help="names for the classifier's classes")
    q.add_argument("--threshold", type=float, help="default: the run's validation-optimal threshold")
    q.add_argument("--min-area", type=int, default=3)
    q.add_argument("--tile-size", type=int, default=1024, help="images larger than this are tiled")
    q.add_argument("--margin", type=int, default=32, help="tile overlap discarded at inner tile edges")
    q.add_argument("--out", required=True)
    q.set_defaults(func=_cmd_predict)

    e = sub.add_parser("evaluate", help="precision / recall / F1 and per-class recall on a split")
    e.add_argument("--model", required=True, help="run folder or detector .keras file")
    e.add_argument("--data", default="synthetic", help=data_help)
    e.add_argument("--data-root", default=None)
    e.add_argument("--split", default="test", choices=("train", "val", "test", "trainval", "all"))
    e.add_argument("--threshold", type=float)
    e.add_argument("--radius", type=float, default=10.0, help="matching radius in pixels (paper: 10)")
    e.add_argument("--min-area", type=int, default=3)
    e.set_defaults(func=_cmd_evaluate)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"awarenet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
