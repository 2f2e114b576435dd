"""The one command line every paper uses: ``cellrepro <paper> reproduce|train|predict|evaluate``
(``python -m <paper>`` is the same parser).

:class:`PaperCLI` builds a paper's parser from its :class:`common.contract.Paper` - the facts (rows,
synthetic kind, matching radius) and the command-line hooks (its own flags) - and runs the verbs:
shared flags, data loading, output naming, predict's CSV / GeoJSON / counts / overlay files,
evaluate's ``metrics.csv``, error handling and quiet logs. Every path, data name, output folder and
override is checked before TensorFlow is imported, and a refused command creates no folder.

Importing this module imports neither TensorFlow nor Keras, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import math
import os
import sys
import time
import traceback

__all__ = ["PaperCLI", "VERBS", "check_out_dir", "check_out_path", "expand_images", "finite_float", "overlay",
           "output_names", "read_truth"]

VERBS = ("reproduce", "train", "predict", "evaluate", "export-preset")
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu",
              ".bif", ".svslide")
# per-image output suffixes; the per-call files (counts.csv) end in none of them, so no input name collides
CELLS_SUFFIX, GEOJSON_SUFFIX, OVERLAY_SUFFIX = "_cells.csv", ".geojson", "_overlay.jpg"
COUNTS_FILE = "counts.csv"
SLIDES_FILE = "slides.csv"    # the summary of the slides of a call (one row per slide)
MODEL_HELP = "a run folder written by train (or its model.keras), or a preset's name (cellrepro presets)"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default unless its help already says it or there is none to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS) or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def finite_float(text: str) -> float:
    """An argparse type: a finite number (``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


class PaperCLI:
    """A paper's command line, built from its :class:`common.contract.Paper`.

    Args:
        paper: the paper (or its registered name).
        prog: the program name shown in help and errors (``cellrepro mapde`` or ``python -m mapde``).
    """

    def __init__(self, paper, prog: str | None = None):
        from common.contract import get

        self.paper = get(paper)
        self.prog = prog or f"cellrepro {self.paper.name}"

    @property
    def name(self) -> str:
        return self.paper.name

    # ------------------------------------------------------------------ parser
    def build_parser(self) -> argparse.ArgumentParser:
        paper = self.paper
        rows = list(paper.rows)
        p = argparse.ArgumentParser(
            prog=self.prog, formatter_class=_Formatter,
            description=f"{paper.title}: reproduce the paper's table, train, predict, evaluate.")
        sub = p.add_subparsers(dest="command", required=True, metavar="{" + ",".join(VERBS) + "}")
        data_help = (f"'synthetic' (the embedded synthetic:{paper.synthetic}), 'synthetic:<kind>[:option=value]', "
                     "'crchisto', 'bccd', 'deepliif', or a folder with images/ and points.csv (or a QuPath export: "
                     "points.tsv or geojson/)")

        def common(q, seed=True):
            if seed:
                q.add_argument("--seed", type=int, default=None, help="random seed (default: the config's, 0)")
            q.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                           help="0 quiet, 1 progress (one line per epoch off a terminal), "
                                "2 also TensorFlow's logs and full tracebacks")

        def data(q):
            q.add_argument("--data", default="synthetic", help=data_help)
            q.add_argument("--data-root", default=None,
                           help="folder holding the real data sets (default: $CELLREPRO_DATA or ../shared/data)")

        def training(q):
            q.add_argument("--quick", action="store_true", help="the small CPU preset (minutes, not hours)")
            q.add_argument("--epochs", type=int, default=None, help="cap the epochs of every trained model")
            q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="override a config field, e.g. --set learning_rate=1e-3 (repeatable; recorded)")

        def radius(q, text):
            q.add_argument("--radius", type=_positive_float, nargs="+", default=None, metavar="R", help=text)

        def detection(q):
            if len(paper.methods) > 1:
                q.add_argument("--method", choices=paper.methods, default=None,
                               help="cell location method (default: the run's calibrated one)")
            q.add_argument("--threshold", type=finite_float, default=None,
                           help="detection threshold (default: the run's calibrated one)")

        r = sub.add_parser("reproduce", help="the paper's table(s), paper vs ours", formatter_class=_Formatter)
        data(r)
        r.add_argument("--out", default="runs/reproduce", help="results go to OUT/" + paper.name)
        training(r)
        common(r)
        r.add_argument("--rows", nargs="+", choices=rows, default=None, metavar="ROW",
                       help=f"a subset of the table's rows: {', '.join(rows)} (default: all"
                            + (f"; with --quick: {', '.join(paper.quick_rows)}" if paper.quick_rows else "") + ")")
        r.add_argument("--resume", action="store_true", help="continue interrupted run folders")
        radius(r, "matching radii in px: the first is the table's (default: the paper's)")
        r.set_defaults(func=self._reproduce)

        t = sub.add_parser("train", help="train one run folder and calibrate it on the validation split",
                           formatter_class=_Formatter)
        data(t)
        t.add_argument("--out", required=True, help="the run folder")
        t.add_argument("--row", default=paper.default_row, choices=rows, metavar="ROW",
                       help=f"the table row whose network to train: {', '.join(rows)}")
        training(t)
        common(t)
        t.add_argument("--restart", action="store_true", help="start afresh instead of resuming an existing run folder")
        t.add_argument("--from", dest="init_from", default=None, metavar="PRESET",
                       help="start from a preset's (or a run folder's) weights and train its row on --data; "
                            "layers sized for other classes start afresh (init.json says which)")
        radius(t, f"matching radius in px for calibration (default: the paper's, {paper.match_radius:g})")
        t.set_defaults(func=self._train)

        q = sub.add_parser("predict", help="cells in images and whole slides: points CSV, QuPath GeoJSON, counts, "
                                          "overlays", formatter_class=_Formatter)
        q.add_argument("images", nargs="+", help="image or slide files (SVS, NDPI, MRXS, pyramidal TIFF ...), "
                                                 "folders of them, or glob patterns")
        q.add_argument("--model", required=True, help=MODEL_HELP)
        q.add_argument("--out", required=True, help="folder for the output files")
        detection(q)
        q.add_argument("--overlay", action="store_true",
                       help=f"also write <image>{OVERLAY_SUFFIX}: the detections drawn with a legend, downsampled to "
                            f"{OVERLAY_MAX_SIDE} px when larger (slides always get a thumbnail overlay)")
        q.add_argument("--truth", default=None, metavar="PATH",
                       help="annotated cells to draw in the overlay as white crosses (implies --overlay): a points "
                            "table (points.csv, a QuPath export) or a data folder, rows matched to the images by "
                            "file name or stem")
        q.add_argument("--overwrite", action="store_true", help="replace output files that already exist (and redo "
                                                                "finished slides)")
        s = q.add_argument_group("whole slides (a slide, or any image given --mpp, is read at the model's mpp)")
        s.add_argument("--mpp", type=_positive_float, default=None,
                       help="microns per pixel of the inputs, where their metadata lacks it or is wrong")
        s.add_argument("--model-mpp", type=_positive_float, default=None,
                       help="microns per pixel the model was trained at (default: the run's data, else the paper's)")
        s.add_argument("--tile", type=int, default=None, help="tile core in model pixels (default: 1024)")
        s.add_argument("--no-tissue-mask", action="store_true", help="predict every tile, background included")
        s.add_argument("--tissue-mask", default=None, metavar="FILE",
                       help="a mask image (non-zero = tissue) instead of the Otsu tissue detection")
        s.add_argument("--workers", type=int, default=None,
                       help="run the slides in parallel on a dask LocalCluster of this many worker processes")
        s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="send the slides to an existing Dask cluster (tcp://host:8786)")
        common(q, seed=False)
        q.set_defaults(func=self._predict)

        e = sub.add_parser("evaluate", help="precision / recall / F1 of a run on a split",
                           formatter_class=_Formatter)
        e.add_argument("--model", required=True, help=MODEL_HELP)
        data(e)
        e.add_argument("--out", default=None, help="write OUT/metrics.csv (one row per split and radius)")
        e.add_argument("--split", nargs="+", default=["test"], choices=("train", "val", "test", "all"),
                       help="split(s) to score")
        radius(e, f"matching radii in px (default: the run's, the paper's {paper.match_radius:g})")
        detection(e)
        common(e)
        e.set_defaults(func=self._evaluate)
        x = sub.add_parser("export-preset", help="turn a trained run folder into a preset, loadable by name",
                           formatter_class=_Formatter)
        x.add_argument("run", help="the run folder (trained and calibrated)")
        x.add_argument("name", help="the preset's name (letters, digits, '.', '_', '-')")
        x.add_argument("--out", default=None,
                       help="folder of presets (default: the first folder in $CELLREPRO_PRESETS)")
        x.add_argument("--description", default="", help="one line on what the preset is for")
        x.add_argument("--licence", default="", help="the licence of its training data (e.g. 'research use only')")
        x.add_argument("--metrics", default=None, metavar="CSV",
                       help="metrics.csv written by `evaluate --out`, recorded in the manifest")
        x.add_argument("--overwrite", action="store_true", help="replace a preset of that name in --out")
        common(x, seed=False)
        x.set_defaults(func=self._export)
        for verb, parser in {"reproduce": r, "train": t, "predict": q, "evaluate": e}.items():
            paper.add_arguments(verb, parser)
        return p

    # ------------------------------------------------------------------ helpers
    def _command(self, argv) -> str:
        return " ".join([self.prog] + list(argv))

    def _overrides(self, args) -> list:
        items = list(getattr(args, "set", None) or [])
        if getattr(args, "seed", None) is not None:
            items.append(f"seed={args.seed}")
        for flag in self.paper.path_flags:
            if getattr(args, flag, None):
                items.append(f"{flag}={os.path.abspath(getattr(args, flag))}")
        if getattr(args, "radius", None):
            items.append(f"match_radius={args.radius[0]}")
            if len(args.radius) > 1 and "extra_radii" in self.paper.config_class().field_types():
                items.append(f"extra_radii={list(args.radius[1:])}")
        return items

    def _check_paths(self, args) -> None:
        for flag in self.paper.path_flags:
            value = getattr(args, flag, None)
            if value and not os.path.isfile(value):
                raise FileNotFoundError(f"--{flag.replace('_', '-')} {value}: no such file")

    def _start_tensorflow(self, args) -> None:
        from common.logs import quiet_tensorflow

        quiet_tensorflow(args.verbose)

    # ------------------------------------------------------------------ verbs
    def _reproduce(self, args) -> int:
        from common.reproduce import resolve_config

        self._check_paths(args)
        if args.out:
            check_out_path(args.out)
        resolve_config(self.paper.config_class(), None, args.quick, self.paper.check_data(args.data, args.data_root),
                       self._overrides(args), args.epochs)   # refuses bad overrides before any work
        self._start_tensorflow(args)
        self.paper.reproduce(quick=args.quick, out=args.out, data=args.data,
                             rows=args.rows or self.paper.default_rows(args.quick), resume=args.resume,
                             verbose=_keras_verbose(args.verbose), command=self._command(args.argv),
                             epochs=args.epochs, overrides=self._overrides(args), data_root=args.data_root,
                             **self.paper.reproduce_options(args))
        return 0

    def _train(self, args) -> int:
        from common.reproduce import resolve_config

        cls = self.paper.config_class()
        self._check_paths(args)
        check_out_path(args.out, folder=True)
        name = self.paper.check_data(args.data, args.data_root)
        if args.init_from:
            cfg = self._from_config(args)
        else:
            cfg = self.paper.configure((cls.quick() if args.quick else cls()).variant(args.row), args)
        cfg = resolve_config(cls, cfg, args.quick, name, self._overrides(args), args.epochs)
        tr, va, _ = self.paper.load_splits(args.data, cfg.seed, args.data_root)
        _say(args, f"data: {tr.description}; train {len(tr)} / val {len(va)} images")
        self._start_tensorflow(args)
        t0 = time.time()
        pred = self.paper.train(cfg, tr, va, args.out, resume=not args.restart, verbose=_keras_verbose(args.verbose),
                                **self.paper.train_options(args))
        for rel in _init_reports(args.out):
            fresh = rel["layers re-initialised"]
            _say(args, f"started from {rel['from']}" + (f" ({rel['model']})" if rel["model"] != "." else "")
                       + f": {rel['layers loaded']} layers loaded" + (
                           f", {len(fresh)} re-initialised ({', '.join(f['layer'] for f in fresh[:4])}"
                           + (" ..." if len(fresh) > 4 else "") + ")" if fresh else ""))
        pp = pred.postprocess
        _say(args, f"trained {os.path.join(args.out, 'model.keras')} ({len(pred.history())} epochs, "
                   f"{time.time() - t0:.0f} s); {pp.get('source', '')}")
        for method, params in pp.get("params", {}).items():
            shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items()
                              if k not in ("edge", "radius") and v is not None)
            _say(args, f"  {method}: {shown}" + (f"  (on the edge of the search: {params['edge']})"
                                                 if params.get("edge") else ""))
        return 0

    def _from_config(self, args):
        """``train --from``: the source run's config (its row and architecture), seed and training fields
        from the command line, ``init_from`` recorded. Checked before TensorFlow is imported."""
        from common.presets import resolve

        source, preset = resolve(args.init_from, self.name)
        cfg = self.paper.config_class().load(source)
        if args.row != self.paper.default_row and args.row != cfg.variant_name:
            raise ValueError(f"--from {args.init_from} trains its own row ({cfg.variant_name}); leave --row out")
        if args.quick:
            raise ValueError("--from takes the preset's config; leave --quick out (set --epochs instead)")
        label = preset.name if preset is not None else os.path.abspath(source)
        return cfg.with_overrides(init_from=label)

    def _export(self, args) -> int:
        from common.presets import PRESET_ENV, export_preset

        out = args.out or next((f for f in (os.environ.get(PRESET_ENV) or "").split(os.pathsep) if f.strip()), None)
        if not out:
            raise ValueError(f"pass --out (a folder for presets) or set ${PRESET_ENV}")
        if not os.path.isdir(args.run):
            raise FileNotFoundError(f"no run folder at {args.run}")
        metrics = None
        if args.metrics:
            import pandas as pd

            if not os.path.isfile(args.metrics):
                raise FileNotFoundError(f"--metrics {args.metrics}: no such file")
            metrics = pd.read_csv(args.metrics).to_dict(orient="records")
        check_out_dir(out)
        self._start_tensorflow(args)
        preset = export_preset(self.paper, args.run, args.name, out, description=args.description,
                               licence=args.licence, metrics=metrics, overwrite=args.overwrite,
                               training={"command": self._command(args.argv)})
        size = sum(preset.manifest["bytes"].values()) / 1e6
        _say(args, f"preset {preset.name} written to {preset.folder} ({size:.1f} MB); load it with "
                   f"`cellrepro {self.name} predict IMAGES --model {preset.name}`"
                   + ("" if out in (os.environ.get(PRESET_ENV) or "").split(os.pathsep)
                      else f" after adding {os.path.abspath(out)} to ${PRESET_ENV}"))
        return 0

    def _check_model(self, args):
        """The run folder's config: it must be this paper's (read without TensorFlow)."""
        from common.inference import run_folder

        return self.paper.config_class().load(run_folder(args.model, self.name))

    def _predict(self, args) -> int:
        import numpy as np
        import pandas as pd

        from common.inference import val_density, warn_degenerate
        from common.io import atomic_path, read_image, write_image
        from common.slides import is_slide

        images = expand_images(args.images)
        out = args.out
        check_out_path(out, folder=True)
        names = output_names(images)
        truth = read_truth(args.truth, names) if args.truth else None
        args.overlay = args.overlay or truth is not None
        slides = {stem: p for stem, p in names.items() if args.mpp is not None or is_slide(p)}
        names = {stem: p for stem, p in names.items() if stem not in slides}
        planned = [os.path.join(out, f) for stem in names for f in
                   (stem + CELLS_SUFFIX, stem + GEOJSON_SUFFIX) + ((stem + OVERLAY_SUFFIX,) if args.overlay else ())]
        if names:
            planned.append(os.path.join(out, COUNTS_FILE))
        existing = [p for p in planned if os.path.exists(p)]
        if existing and not args.overwrite:
            raise ValueError(f"{len(existing)} output file(s) already exist (e.g. {existing[0]}); pass --overwrite "
                             "to replace them or choose another --out")
        cfg = self._check_model(args)
        slide_options = self._slide_options(args, cfg) if slides else None
        kwargs = self.paper.detect_options(args)
        if (args.workers or args.scheduler) and not slides:
            raise ValueError("--workers and --scheduler run whole slides; the inputs hold none")
        if slides and (args.workers or args.scheduler):
            check_out_dir(out)
            return self._slides(args, slides, slide_options, kwargs, None)
        self._start_tensorflow(args)
        pred = self.paper.load(args.model, **self.paper.load_options(args))
        check_out_dir(out)
        rc = self._slides(args, slides, slide_options, kwargs, pred) if slides else 0
        rows = []
        density = val_density(pred.folder) if getattr(pred, "folder", None) else None
        for stem, path in names.items():
            image = read_image(path)
            det = pred.predict(image, progress=args.verbose >= 1, **kwargs)
            warn_degenerate([(path, det, image.shape,
                              density * image.shape[0] * image.shape[1] / 1e6 if density else None)])
            det.write_csv(os.path.join(out, stem + CELLS_SUFFIX), image=os.path.basename(path))
            det.write_geojson(os.path.join(out, stem + GEOJSON_SUFFIX), id_prefix=os.path.abspath(path))
            if args.overlay:
                write_image(os.path.join(out, stem + OVERLAY_SUFFIX),
                            overlay(image, det, truth=None if truth is None else truth.get(stem, np.zeros((0, 2)))))
            rows.append({"image": os.path.basename(path), "path": os.path.abspath(path), **det.counts()})
            _say(args, f"{path}: {len(det)} cells -> {os.path.join(out, stem)}{CELLS_SUFFIX}, {GEOJSON_SUFFIX}"
                       + (f", {OVERLAY_SUFFIX}" if args.overlay else ""))
        if rows:
            with atomic_path(os.path.join(out, COUNTS_FILE)) as tmp:
                pd.DataFrame(rows).fillna(0).to_csv(tmp, index=False)
            _say(args, f"{len(rows)} image(s), {int(np.sum([r['cells'] for r in rows]))} cells; counts in "
                       f"{os.path.join(out, COUNTS_FILE)}")
        return rc

    def _slide_options(self, args, cfg) -> dict:
        """The options of :func:`common.slides.predict_slide`, checked before TensorFlow is imported."""
        import warnings

        from common.inference import run_folder

        if args.tissue_mask and not os.path.isfile(args.tissue_mask):
            raise FileNotFoundError(f"--tissue-mask {args.tissue_mask}: no such file")
        if args.tissue_mask and args.no_tissue_mask:
            raise ValueError("give --tissue-mask or --no-tissue-mask, not both")
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        if args.tile is not None and args.tile < 64:
            raise ValueError(f"--tile must be at least 64 px, got {args.tile}")
        model_mpp = args.model_mpp or self.paper.run_mpp(run_folder(args.model, self.name))
        if model_mpp is None and self.paper.mpp is not None:
            model_mpp = self.paper.mpp
            warnings.warn(f"the run does not record the mpp of its training data; the paper's {model_mpp:g} um/px "
                          "is used (pass --model-mpp to set it)", UserWarning, stacklevel=2)
        if model_mpp is None:
            raise ValueError("neither the run nor the paper states the mpp the model was trained at; pass "
                             "--model-mpp (microns per pixel of its training images)")
        return {"model_mpp": float(model_mpp), "mpp": args.mpp, "tile": args.tile,
                "tissue": not args.no_tissue_mask, "mask_path": args.tissue_mask, "overwrite": args.overwrite}

    def _slides(self, args, slides: dict, options: dict, detect: dict, pred) -> int:
        """Every slide, in this process (``pred``) or on a Dask cluster; writes ``slides.csv``."""
        import pandas as pd

        from common.io import atomic_path

        options = {**options, "detect": detect, "progress": args.verbose >= 1}
        if pred is None:
            from common.cohort import run_cohort

            where = args.scheduler or f"a LocalCluster of {args.workers} worker(s)"
            _say(args, f"{len(slides)} slide(s) on {where}")
            rows = run_cohort(self.name, args.model, list(slides.values()), args.out, options, args.workers,
                              args.scheduler, self.paper.load_options(args), progress=args.verbose >= 1)
        else:
            from common.cohort import summary_row
            from common.slides import predict_slide

            rows = []
            for path in slides.values():
                t0 = time.time()
                try:
                    rows.append(summary_row(path, predict_slide(pred, path, args.out, **options)))
                except (ValueError, OSError) as exc:
                    if len(slides) == 1:
                        raise
                    rows.append(summary_row(path, error=exc, seconds=time.time() - t0))
        for r in rows:
            _say(args, f"{r['slide']}: {r.get('status')}" + (f", {r.get('cells')} cells in {r.get('tissue mm2')} mm2 "
                                                              "of tissue" if r.get("status") != "failed" else
                                                              f": {r.get('error')}"))
        with atomic_path(os.path.join(args.out, SLIDES_FILE)) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
        failed = [r for r in rows if r.get("status") == "failed"]
        if failed:
            print(f"{self.prog} predict: error: {len(failed)} of {len(rows)} slide(s) failed (first: "
                  f"{failed[0]['slide']}: {failed[0]['error']}); the others finished, see "
                  f"{os.path.join(args.out, SLIDES_FILE)}", file=sys.stderr)
            return 2
        return 0

    def _evaluate(self, args) -> int:
        import pandas as pd

        from common.datasets import SampleList, align_classes, is_classified
        from common.inference import run_folder
        from common.io import atomic_path
        from common.reporting import to_markdown

        if args.out:
            check_out_path(args.out, folder=True)
        cfg = self._check_model(args)
        name = self.paper.check_data(args.data, args.data_root)
        seed = args.seed if args.seed is not None else cfg.seed
        radii = args.radius or [cfg.match_radius]
        folder = run_folder(args.model, self.name)
        names = self.paper.run_class_names(folder) if self.paper.classifies(folder, cfg) else None
        splits = {}
        for split in args.split:
            parts = ("train", "val", "test") if split == "all" else (split,)
            loaded = [self.paper.load_split(args.data, p, seed, args.data_root) for p in parts]
            samples = SampleList([s for p in loaded for s in p], f"{name}, split {split}",
                                 all(getattr(p, "classified", True) for p in loaded))
            if not len(samples):
                raise ValueError(f"the {split} split of {name} has no images: nothing to evaluate")
            if names and is_classified(samples):   # classes by name, refused before any inference
                align_classes(samples, names, what=f"the run {folder}")
            splits[split] = samples
        kwargs = self.paper.detect_options(args)
        self._start_tensorflow(args)
        pred = self.paper.load(args.model, **self.paper.load_options(args))
        frames = []
        for split, samples in splits.items():
            df = self.paper.score(pred, samples, radii, progress=args.verbose >= 1, **kwargs).reset_index()
            df.insert(0, "split", split)
            df.insert(1, "images", len(samples))
            frames.append(df)
            _say(args, f"{samples.description}: {len(samples)} images")
        table = pd.concat(frames, ignore_index=True)
        print(to_markdown(table.set_index("split")))
        print(radius_note(radii, {s.mpp for v in splits.values() for s in v}, self.paper.match_radius))
        if args.out:
            check_out_dir(args.out)
            path = os.path.join(args.out, "metrics.csv")
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            _say(args, f"metrics written to {path}")
        return 0

    # ------------------------------------------------------------------ entry point
    def main(self, argv=None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        _check_verb(argv, self.prog)
        args = self.build_parser().parse_args(argv)
        args.argv = argv
        return run_verb(f"{self.prog} {args.command}", args)


def radius_note(radii, mpps, paper_radius: float) -> str:
    """The line under evaluate's table: what the matching radius is in micrometres at the data's mpp."""
    mpps = {m for m in mpps if m}
    px = ", ".join(f"{r:g}" for r in radii)
    if len(mpps) == 1:
        mpp = next(iter(mpps))
        um = ", ".join(f"{r * mpp:.3g}" for r in radii)
        where = f"{px} px = {um} um at the data's {mpp:g} um/px"
    else:
        where = f"{px} px (the data's um/px is " + ("mixed" if mpps else "not known") + ", so no um)"
    return (f"A detection matches a true cell within {where}; this paper's default radius is {paper_radius:g} px "
            "(each paper uses its own: compare papers at one radius with --radius).")


def run_verb(label: str, args) -> int:
    """Runs ``args.func(args)``: a user's error as one line (exit 2), an unexpected one as one line naming
    its type (exit 1), the traceback with ``--verbose 2``."""
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{label}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:   # one line for the user; the traceback with --verbose 2
        if getattr(args, "verbose", 1) >= 2:
            traceback.print_exc()
        if not _expected(exc):
            print(f"{label}: unexpected error {type(exc).__name__}: {_one_line(exc)} "
                  "(rerun with --verbose 2 for the traceback)", file=sys.stderr)
            return 1
        print(f"{label}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _init_reports(run: str) -> list:
    """The ``init.json`` reports of a run folder and its sub-runs (``train --from``)."""
    import json

    out = []
    for dirpath, dirnames, filenames in os.walk(run):
        dirnames.sort()
        if "init.json" in filenames:
            with open(os.path.join(dirpath, "init.json"), encoding="utf-8") as f:
                out.append(json.load(f))
    return out


def _check_verb(argv, prog: str) -> None:
    """A misspelt verb names the closest (argparse would only list them)."""
    if argv and not argv[0].startswith("-") and argv[0] not in VERBS:
        close = difflib.get_close_matches(argv[0], VERBS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"{prog}: error: unknown command {argv[0]!r}{hint} (choose from {', '.join(VERBS)})", file=sys.stderr)
        raise SystemExit(2)


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


def read_truth(path, names: dict) -> dict:
    """``{stem: (M, 2) points}`` of ``--truth`` (a points table or a data folder) for the images in ``names``
    (``{stem: path}``); refused in one line when it names none of them."""
    from common.io import read_folder_points, read_points_csv

    if os.path.isdir(path):
        table, _ = read_folder_points(path)
    elif os.path.isfile(path):
        table = read_points_csv(path)
    else:
        raise FileNotFoundError(f"--truth {path}: no such file or folder")
    stems = table["image"].map(lambda n: n if n in names else os.path.splitext(n)[0])
    found = {stem: g[["x", "y"]].to_numpy() for stem, g in table.groupby(stems) if stem in names}
    if not found:
        raise ValueError(f"--truth {path} names none of the {len(names)} image(s) to predict (e.g. it has "
                         f"{table['image'].iloc[0] if len(table) else 'no rows'!r}); rows are matched by file name "
                         "or stem")
    return found


def output_names(images) -> dict:
    """``{stem: path}`` of the images to predict; two images of the same stem are refused."""
    names = {}
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in names:
            raise ValueError(f"{path} and {names[stem]} would both write {stem}{CELLS_SUFFIX}: predict them into "
                             "separate --out folders")
        names[stem] = path
    return names


def check_out_path(path, folder: bool = True) -> str:
    """Checks, without creating anything, that ``path`` can become an output folder (or file): not a
    file where a folder is wanted, and its nearest existing parent writable."""
    path = os.fspath(path)
    if not path:
        raise ValueError("--out must name a folder")
    if os.path.exists(path):
        if folder and not os.path.isdir(path):
            raise ValueError(f"--out {path} is a file, not a folder: choose a folder")
        target = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    else:
        target = os.path.dirname(os.path.abspath(path))
        while target and not os.path.exists(target):
            target = os.path.dirname(target)
        if target and not os.path.isdir(target):
            raise ValueError(f"--out {path}: {target} is a file, so the folder cannot be made")
    if not os.access(target or ".", os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: {target} is not writable")
    return path


def check_out_dir(path) -> str:
    """Creates ``path`` if needed and checks that files can be written there."""
    path = check_out_path(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {path}: {exc.strerror}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"the output folder {path} is not writable")
    return path


#: The longer side of an overlay preview; larger images are drawn downsampled.
OVERLAY_MAX_SIDE = 2048


def overlay(image, det, radius: int = 4, truth=None, max_side: int = OVERLAY_MAX_SIDE):
    """A preview of the detections on the image, with a legend that explains it.

    Each detection is a circle (or its box with class and score, as the YOLO paper's Fig. 2), coloured
    by class when classified, else by score on a colour bar; ``truth`` ((M, 2) points) adds the
    annotated cells as white crosses. Images whose longer side exceeds ``max_side`` are downsampled
    first, so the marks stay visible and the file small. The legend panel on the right names the
    colours, the counts and the scale.

    Returns:
        The RGB preview (uint8).
    """
    import cv2
    import numpy as np

    from common.io import default_colours

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    img = np.ascontiguousarray(image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, -1))
    out = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA) \
        if scale < 1 else img.copy()
    colours = default_colours(det.class_names) if det.classes is not None and det.class_names else {}
    lo, hi = (float(det.scores.min()), float(det.scores.max())) if len(det.scores) else (0.0, 1.0)
    # the score colour bar, green to yellow: both show on H&E and IHC stains
    bar = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(-1, 1), cv2.COLORMAP_SUMMER)[:, 0, ::-1]

    def colour(k):
        if colours:
            return tuple(int(c) for c in colours[det.class_names[det.classes[k]]])
        t = 0.5 if hi <= lo else (det.scores[k] - lo) / (hi - lo)
        return tuple(int(c) for c in bar[int(round(255 * t))])

    if truth is not None:
        for x, y in np.asarray(truth, dtype=np.float64).reshape(-1, 2) * scale:
            cv2.drawMarker(out, (int(round(x)), int(round(y))), (255, 255, 255), cv2.MARKER_CROSS, 2 * radius + 1, 1)
    for k, (x, y) in enumerate(det.points * scale):
        col = colour(k)
        if det.boxes is not None:
            x0, y0, x1, y1 = (int(round(v * scale)) for v in det.boxes[k])
            cv2.rectangle(out, (x0, y0), (x1, y1), col, 1)
            label = (f"{det.class_names[det.classes[k]]} " if det.classes is not None else "") + f"{det.scores[k]:.2f}"
            cv2.putText(out, label, (x0, max(y0 - 2, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, col, 1, cv2.LINE_AA)
            continue
        cv2.circle(out, (int(round(x)), int(round(y))), radius, col, 1, lineType=cv2.LINE_AA)
    legend = _legend(out.shape[0], det, colours, (lo, hi), bar, truth, scale)
    if legend.shape[0] > out.shape[0]:   # a small image: white below it, so the legend is whole
        out = np.concatenate([out, np.full((legend.shape[0] - out.shape[0], *out.shape[1:]), 255, np.uint8)])
    return np.concatenate([out, legend], axis=1)


def _legend(height: int, det, colours: dict, score_range, bar, truth, scale: float):
    """The overlay's legend panel (white, 230 px wide): counts per class or the score colour bar, the
    truth marker, the drawing scale."""
    import cv2
    import numpy as np

    rows = 2 + (len(det.class_names) if colours else 8) + (truth is not None) + 1
    panel = np.full((max(height, 24 * rows + 20), 230, 3), 255, np.uint8)
    font, y = cv2.FONT_HERSHEY_SIMPLEX, 22

    def text(s, x=10, size=0.45, colour=(0, 0, 0)):
        cv2.putText(panel, s, (x, y), font, size, colour, 1, cv2.LINE_AA)

    text(f"{len(det.points)} detections", size=0.55)
    y += 24
    if colours:
        counts = np.bincount(det.classes, minlength=len(det.class_names)) if len(det.points) else \
            np.zeros(len(det.class_names), np.int64)
        for name, n in zip(det.class_names, counts):
            cv2.circle(panel, (18, y - 5), 5, tuple(int(c) for c in colours[name]), 2, cv2.LINE_AA)
            text(f"{name}: {int(n)}", x=32)
            y += 22
    else:
        text("score", size=0.45)
        top, length = y + 8, 120
        panel[top:top + length, 12:28] = cv2.resize(bar[::-1][:, None, :], (16, length),
                                                    interpolation=cv2.INTER_LINEAR)
        y = top + 10
        text(f"{score_range[1]:.3g}", x=34)
        y = top + length
        text(f"{score_range[0]:.3g}", x=34)
        y += 24
    if truth is not None:
        cv2.drawMarker(panel, (18, y - 5), (0, 0, 0), cv2.MARKER_CROSS, 9, 1)
        text(f"annotated: {len(np.asarray(truth).reshape(-1, 2))}", x=32)
        y += 22
    if scale < 1:
        text(f"drawn at 1/{1 / scale:.3g} scale", size=0.4, colour=(90, 90, 90))
    return panel
