"""The one command line every paper uses: ``python -m <paper> reproduce|train|predict|evaluate``.

Each paper's ``__main__`` builds a :class:`PaperCLI` with its name, title, config class, table rows
and a few hooks (how to train a run folder, which extra flags its verbs take); everything else -
shared flags, data loading, output naming, predict's CSV / GeoJSON / counts / overlay files,
evaluate's ``metrics.csv``, error handling and quiet logs - lives here.

Importing this module imports neither TensorFlow nor Keras, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["PaperCLI", "check_out_dir", "expand_images", "overlay"]

_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default unless its help already says it or there is none to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS) or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


@dataclass
class PaperCLI:
    """A paper's command line.

    Attributes:
        name: the package (``"awarenet"``).
        title: one line naming the paper.
        rows: the table rows ``reproduce --rows`` accepts.
        synthetic: the synthetic kind ``--data synthetic`` means (``"mihc"``).
        configure: ``(config, args) -> config`` for the train verb's paper flags (a row, a model).
        add_arguments: ``{verb: (parser) -> None}`` paper-specific flags.
        train_kwargs: ``(args) -> dict`` extra arguments of ``<paper>.train.train``.
        load_kwargs: ``(args) -> dict`` extra arguments of ``<paper>.evaluate.load``.
        detect_kwargs: ``(args) -> dict`` passed to ``predictor.predict`` (method, threshold ...).
        default_radius: the paper's matching radius (evaluate's default).
        scorer: the name of a function in ``<paper>.evaluate`` that scores a split for evaluate,
            ``(predictor, samples, radii, progress=, **detect_kwargs) -> DataFrame`` (box detectors:
            AP and mAP); None: point matching at the radii (:func:`common.evaluation.score`).
        split_loader: the name of a function in ``<paper>.reproduce``, ``(name, split, seed, data_root)
            -> SampleList``, that evaluate reads real data and folders with (a paper's own layouts, e.g.
            VOC and Ultralytics folders); None: :func:`common.datasets.load`.
        path_flags: paper flags (added in ``add_arguments``) that name a file and set the config field
            of the same name, recorded as an override with the absolute path (``--weights``).
        reproduce_kwargs: ``(args) -> dict`` extra arguments of ``<paper>.reproduce.main`` (from the
            paper's reproduce flags).

    The paper's code is reached by name, imported only when a verb runs: ``<paper>.config`` (its
    ``PaperConfig`` subclass, ``config_class``), ``<paper>.reproduce.main`` / ``load_splits``,
    ``<paper>.train.train(config, train, val, run_dir, resume=, verbose=, **train_kwargs)`` and
    ``<paper>.evaluate.load(run, **load_kwargs)``.
    """

    name: str
    title: str
    rows: tuple
    synthetic: str
    config_class: str
    configure: Callable = lambda cfg, args: cfg
    add_arguments: dict = field(default_factory=dict)
    train_kwargs: Callable = lambda args: {}
    load_kwargs: Callable = lambda args: {}
    detect_kwargs: Callable = lambda args: {}
    default_radius: float = 10.0
    scorer: str | None = None
    split_loader: str | None = None
    path_flags: tuple = ()
    reproduce_kwargs: Callable = lambda args: {}

    def _get(self, module: str, attr: str):
        import importlib

        return getattr(importlib.import_module(f"{self.name}.{module}"), attr)

    def config(self):
        return self._get("config", self.config_class)

    def reproduce(self):
        return self._get("reproduce", "main")

    def load_splits(self):
        return self._get("reproduce", "load_splits")

    def train(self, cfg, train, val, args):
        return self._get("train", "train")(cfg, train, val, args.out, resume=not args.restart,
                                           verbose=_keras_verbose(args.verbose), **self.train_kwargs(args))

    def load(self, args):
        return self._get("evaluate", "load")(args.model, **self.load_kwargs(args))

    def default_rows(self, quick: bool) -> list:
        """The rows ``reproduce`` runs without ``--rows``: all, or the paper's ``QUICK_ROWS`` with ``--quick``
        when its reproduce module names some."""
        if quick:
            import importlib

            rows = getattr(importlib.import_module(f"{self.name}.reproduce"), "QUICK_ROWS", None)
            if rows:
                return list(rows)
        return list(self.rows)

    # ------------------------------------------------------------------ parser
    def data_name(self, data: str) -> str:
        from common.reproduce import synthetic_alias

        return synthetic_alias(data, self.synthetic)

    def build_parser(self) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog=f"python -m {self.name}", formatter_class=_Formatter,
                                    description=f"{self.title}: reproduce the paper's table, train, predict, evaluate.")
        sub = p.add_subparsers(dest="command", required=True, metavar="{reproduce,train,predict,evaluate}")
        data_help = (f"'synthetic' (the embedded synthetic:{self.synthetic}), 'synthetic:<kind>[:faint_factor=F]', "
                     "'crchisto', 'bccd', 'deepliif', or a folder with images/ and points.csv")

        def shared(q, data=True, quick=True, out_default=None, out_required=False, out_help="output folder"):
            if data:
                q.add_argument("--data", default="synthetic", help=data_help)
                q.add_argument("--data-root", default=None,
                               help="folder holding the real data sets (default: $CELLREPRO_DATA or ../shared/data)")
            q.add_argument("--out", default=out_default, required=out_required, help=out_help)
            if quick:
                q.add_argument("--quick", action="store_true", help="the small CPU preset (minutes, not hours)")
                q.add_argument("--epochs", type=int, default=None, help="cap the epochs of every trained model")
                q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                               help="override a config field, e.g. --set learning_rate=1e-3 (repeatable; recorded)")
            q.add_argument("--seed", type=int, default=None, help="random seed (default: the config's, 0)")
            q.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                           help="0 quiet, 1 progress (one line per epoch off a terminal), "
                                "2 also TensorFlow's logs and full tracebacks")

        def radius(q, text):
            q.add_argument("--radius", type=float, nargs="+", default=None, metavar="R", help=text)

        r = sub.add_parser("reproduce", help="the paper's table(s), paper vs ours", formatter_class=_Formatter)
        shared(r, out_default="runs/reproduce", out_help="results go to OUT/" + self.name)
        r.add_argument("--rows", nargs="+", choices=list(self.rows), default=None, metavar="ROW",
                       help=f"a subset of the table's rows: {', '.join(self.rows)} (default: all)")
        r.add_argument("--resume", action="store_true", help="continue interrupted run folders")
        radius(r, "matching radii in px: the first is the table's (default: the paper's)")
        r.set_defaults(func=self._reproduce)

        t = sub.add_parser("train", help="train one run folder and calibrate it on the validation split",
                           formatter_class=_Formatter)
        shared(t, out_required=True, out_help="the run folder")
        t.add_argument("--restart", action="store_true", help="start afresh instead of resuming an existing run folder")
        radius(t, "matching radius in px for calibration (default: the paper's)")
        t.set_defaults(func=self._train)

        q = sub.add_parser("predict", help="cells in images: points CSV, QuPath GeoJSON, counts, overlays",
                           formatter_class=_Formatter)
        q.add_argument("images", nargs="+", help="image files, folders of images, or glob patterns")
        q.add_argument("--model", required=True, help="a run folder written by train (or its model.keras)")
        shared(q, data=False, quick=False, out_required=True, out_help="folder for the output files")
        q.add_argument("--overlay", action="store_true",
                       help="also write <image>_overlay.png with the detections drawn")
        q.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
        q.set_defaults(func=self._predict)

        e = sub.add_parser("evaluate", help="precision / recall / F1 of a run on a split",
                           formatter_class=_Formatter)
        e.add_argument("--model", required=True, help="a run folder written by train (or its model.keras)")
        shared(e, quick=False, out_help="write OUT/metrics.csv (one row per split and radius)")
        e.add_argument("--split", nargs="+", default=["test"], choices=("train", "val", "test", "all"),
                       help="split(s) to score")
        radius(e, f"matching radii in px (default: the run's, the paper's {self.default_radius:g})")
        e.set_defaults(func=self._evaluate)
        for verb, add in self.add_arguments.items():
            add({"reproduce": r, "train": t, "predict": q, "evaluate": e}[verb])
        return p

    # ------------------------------------------------------------------ verbs
    def _command(self, argv) -> str:
        return " ".join([f"python -m {self.name}"] + list(argv))

    def _overrides(self, args) -> list:
        items = list(args.set or [])
        if getattr(args, "seed", None) is not None:
            items.append(f"seed={args.seed}")
        for flag in self.path_flags:
            if getattr(args, flag, None):
                items.append(f"{flag}={os.path.abspath(getattr(args, flag))}")
        if getattr(args, "radius", None):
            items.append(f"match_radius={args.radius[0]}")
            if len(args.radius) > 1 and "extra_radii" in self.config().field_types():
                items.append(f"extra_radii={list(args.radius[1:])}")
        return items

    def _reproduce(self, args) -> int:
        main = self.reproduce()
        main(quick=args.quick, out=args.out, data=args.data, rows=args.rows or self.default_rows(args.quick),
             resume=args.resume,
             verbose=_keras_verbose(args.verbose), command=self._command(args.argv), epochs=args.epochs,
             overrides=self._overrides(args), data_root=args.data_root, **self.reproduce_kwargs(args))
        return 0

    def _train(self, args) -> int:
        from common.reproduce import resolve_config

        cls = self.config()
        cfg = self.configure(cls.quick() if args.quick else cls(), args)   # the row first, overrides on top
        cfg = resolve_config(cls, cfg, args.quick, self.data_name(args.data), self._overrides(args), args.epochs)
        tr, va, _ = self.load_splits()(args.data, cfg.seed, args.data_root)
        _say(args, f"data: {tr.description}; train {len(tr)} / val {len(va)} images")
        t0 = time.time()
        pred = self.train(cfg, tr, va, args)
        pp = pred.postprocess
        _say(args, f"trained {os.path.join(args.out, 'model.keras')} ({len(pred.history())} epochs, "
                   f"{time.time() - t0:.0f} s); {pp.get('source', '')}")
        for method, params in pp.get("params", {}).items():
            shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items()
                              if k not in ("edge", "radius") and v is not None)
            _say(args, f"  {method}: {shown}" + (f"  (on the edge of the search: {params['edge']})"
                                                 if params.get("edge") else ""))
        return 0

    def _predict(self, args) -> int:
        import numpy as np
        import pandas as pd

        from common.io import atomic_path, read_image, write_image

        images = expand_images(args.images)
        out = args.out
        check_out_dir(out)
        names = {}
        for path in images:
            stem = os.path.splitext(os.path.basename(path))[0]
            if stem in names:
                raise ValueError(f"{path} and {names[stem]} would both write {stem}.csv: predict them into "
                                 "separate --out folders")
            names[stem] = path
        planned = [os.path.join(out, f"{s}{ext}") for s in names for ext in
                   (".csv", ".geojson") + (("_overlay.png",) if args.overlay else ())]
        planned.append(os.path.join(out, "counts.csv"))
        existing = [p for p in planned if os.path.exists(p)]
        if existing and not args.overwrite:
            raise ValueError(f"{len(existing)} output file(s) already exist (e.g. {existing[0]}); pass --overwrite "
                             "to replace them or choose another --out")
        pred = self.load(args)
        kwargs = self.detect_kwargs(args)
        rows = []
        for stem, path in names.items():
            image = read_image(path)
            det = pred.predict(image, progress=args.verbose >= 1, **kwargs)
            det.write_csv(os.path.join(out, stem + ".csv"), image=os.path.basename(path))
            det.write_geojson(os.path.join(out, stem + ".geojson"), id_prefix=os.path.abspath(path))
            if args.overlay:
                write_image(os.path.join(out, stem + "_overlay.png"), overlay(image, det))
            rows.append({"image": os.path.basename(path), "path": os.path.abspath(path), **det.counts()})
            _say(args, f"{path}: {len(det)} cells -> {os.path.join(out, stem)}.csv, .geojson"
                       + (", _overlay.png" if args.overlay else ""))
        with atomic_path(os.path.join(out, "counts.csv")) as tmp:
            pd.DataFrame(rows).fillna(0).to_csv(tmp, index=False)
        _say(args, f"{len(rows)} image(s), {int(np.sum([r['cells'] for r in rows]))} cells; counts in "
                   f"{os.path.join(out, 'counts.csv')}")
        return 0

    def _evaluate(self, args) -> int:
        import pandas as pd

        from common.datasets import SampleList, load
        from common.evaluation import score
        from common.io import atomic_path
        from common.progress import progress_bar
        from common.reporting import to_markdown

        if args.out:
            check_out_dir(args.out)
        pred = self.load(args)
        cfg = pred.config
        seed = args.seed if args.seed is not None else getattr(cfg, "seed", 0)
        radii = args.radius or [getattr(cfg, "match_radius", self.default_radius)]
        name = self.data_name(args.data)
        kwargs = self.detect_kwargs(args)
        frames = []
        synthetic = name.startswith("synthetic")
        parts = dict(zip(("train", "val", "test"), self.load_splits()(args.data, seed, args.data_root))) \
            if synthetic else {}
        for split in args.split:
            if synthetic:
                chosen = ("train", "val", "test") if split == "all" else (split,)
                samples = SampleList([s for p in chosen for s in parts[p]],
                                     parts[split].description if split != "all" else f"{name}, all splits")
            elif self.split_loader:
                samples = self._get("reproduce", self.split_loader)(name, split, seed, args.data_root)
            else:
                samples = load(name, split=split, data_root=args.data_root,
                               **({"seed": seed} if os.path.isdir(name) else {}))
            if self.scorer:
                df = self._get("evaluate", self.scorer)(pred, samples, radii, progress=args.verbose >= 1,
                                                        **kwargs).reset_index()
            else:
                dets = [pred.predict(s.image, **kwargs) for s in progress_bar(
                    samples, desc=f"evaluate {split}", unit="image", enabled=args.verbose >= 1)]
                df = score(dets, samples, radii).reset_index()
            df.insert(0, "split", split)
            df.insert(1, "images", len(samples))
            frames.append(df)
            _say(args, f"{samples.description}; split {split}: {len(samples)} images")
        table = pd.concat(frames, ignore_index=True)
        print(to_markdown(table.set_index("split")))
        if args.out:
            path = os.path.join(args.out, "metrics.csv")
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            _say(args, f"metrics written to {path}")
        return 0

    # ------------------------------------------------------------------ entry point
    def main(self, argv=None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = self.build_parser().parse_args(argv)
        args.argv = argv
        from common.logs import quiet_tensorflow

        quiet_tensorflow(args.verbose)
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print(f"{self.name} {args.command}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:   # one line for the user; the traceback with --verbose 2
            if args.verbose >= 2:
                traceback.print_exc()
            if not _expected(exc):
                print(f"{self.name} {args.command}: unexpected error {type(exc).__name__}: {exc} "
                      "(rerun with --verbose 2 for the traceback)", file=sys.stderr)
                return 1
            print(f"{self.name} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return 2


def _expected(exc) -> bool:
    """Failures a user can fix: bad values, missing or unreadable files, damaged model files."""
    import zipfile

    if isinstance(exc, (ValueError, OSError, zipfile.BadZipFile, KeyError)):
        return True
    return type(exc).__name__ in ("TypeError",) and "Could not locate class" in str(exc)


def _one_line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _keras_verbose(verbose: int):
    return 0 if verbose == 0 else "auto"


def _say(args, text: str) -> None:
    if getattr(args, "verbose", 1) >= 1:
        print(text, flush=True)


def expand_images(items) -> list:
    """Image files from files, folders (their images, sorted) and glob patterns; clear errors."""
    out = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item):
            found = sorted(os.path.join(item, f) for f in os.listdir(item) if f.lower().endswith(_IMAGE_EXT))
            if not found:
                raise FileNotFoundError(f"{item}: a folder without images ({', '.join(_IMAGE_EXT)})")
            out += found
        elif os.path.isfile(item):
            out.append(item)
        elif any(c in item for c in "*?["):
            found = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"no file matches {item!r}")
            out += found
        else:
            raise FileNotFoundError(f"no such image, folder or pattern: {item}")
    seen, unique = set(), []
    for p in out:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def check_out_dir(path) -> str:
    """Creates ``path`` if needed and checks that files can be written there, before any work."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out {path} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {path}: {exc.strerror}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"the output folder {path} is not writable")
    return path


def overlay(image, det, radius: int = 4):
    """The image with each detection drawn as a circle, or as its box with class and score (as the
    YOLO paper's Fig. 2), coloured by class when classified."""
    import cv2
    import numpy as np

    from common.io import default_colours

    out = np.ascontiguousarray(image.copy())
    colours = default_colours(det.class_names) if det.class_names else {}
    for k, (x, y) in enumerate(det.points):
        col = colours[det.class_names[det.classes[k]]] if det.classes is not None else (0, 255, 0)
        if det.boxes is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in det.boxes[k])
            cv2.rectangle(out, (x0, y0), (x1, y1), tuple(int(c) for c in col), 1)
            label = (f"{det.class_names[det.classes[k]]} " if det.classes is not None else "") + f"{det.scores[k]:.2f}"
            cv2.putText(out, label, (x0, max(y0 - 2, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, tuple(int(c) for c in col), 1,
                        cv2.LINE_AA)
            continue
        cv2.circle(out, (int(round(x)), int(round(y))), radius, tuple(int(c) for c in col), 1, lineType=cv2.LINE_AA)
    return out
