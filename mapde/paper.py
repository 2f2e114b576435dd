"""MapDe (Raza et al., ISBI 2019): the paper's facts, its published numbers and TIAToolbox's CRCHisto
figures, as data, and its :class:`common.contract.Paper` (``PAPER``)."""

from __future__ import annotations

from common.contract import Paper

__all__ = ["MATCH_RADIUS_PX", "MPP", "PAPER", "PROTOCOL", "RENAME", "TABLE1", "TABLE1_COLUMNS", "TABLE1_PERCENT",
           "TIATOOLBOX_CRCHISTO", "MapDePaper", "load", "table1"]

TITLE = "MapDe - mapping filter + Lucy-Richardson deconvolution (Raza et al., ISBI 2019)"
# Section 2.1: r = 5 px is the average lymphocyte radius at 20x, about 0.5 um/px (TIAToolbox's mapde-crchisto
# also runs at 0.5 um/px).
MPP = 0.5

# Section 3: a detection within 6 px of an annotation is a TP (5 px "shows a similar pattern").
MATCH_RADIUS_PX = 6.0
PROTOCOL = ("lung adenocarcinoma H&E (TracerX + Leicester), 302 sub-images of 252-2000 px, 22,893 dots; "
            "2-fold cross-validation (151 / fold; 121 train + 30 validation), thresholds / tolerances tuned, "
            "TP within 6 px")

# Table 1, in percent as the paper prints it (rows: Proposed, MapDe-Peak, MapDe-feat(L-1),
# Micro-Net-Peak, SCCNN; columns: precision, recall, F1).
TABLE1_PERCENT = {"Proposed": (80.49, 77.67, 79.06), "MapDe-Peak": (75.65, 81.07, 78.27),
                  "MapDe-feat(L-1)": (79.91, 76.52, 78.18), "Micro-Net-Peak": (79.23, 74.93, 77.02),
                  "SCCNN": (81.78, 72.63, 76.94)}
TABLE1 = {k: tuple(round(v / 100, 6) for v in vals) for k, vals in TABLE1_PERCENT.items()}   # fractions
TABLE1_COLUMNS = ("Precision", "Recall", "F1")
# The paper's own column names, for printed tables only (CSV files keep the shared names).
RENAME = {"F1": "F1Score"}

# TIAToolbox docs (pretrained mapde-crchisto / sccnn-crchisto): TP within 8 px, peak detection.
TIATOOLBOX_CRCHISTO = {"MapDe-Peak": (0.81, 0.82, 0.81), "SCCNN": (0.82, 0.80, 0.81)}
TIATOOLBOX_RADIUS_PX = 8.0


def table1():
    """Table 1 (fractions) as a DataFrame indexed by method."""
    from common.reporting import paper_table

    return paper_table(TABLE1_PERCENT, TABLE1_COLUMNS, scale=0.01)


class MapDePaper(Paper):
    """MapDe's hooks (:mod:`common.contract`)."""

    def training_batch(self, config, samples, seed=0):
        import numpy as np

        from mapde.data import mapped_targets

        if config.model == "sccnn":
            from common.baselines.sccnn import sccnn_patches

            g = config.group("sccnn_")
            x, y = sccnn_patches(samples, 8, patch_size=g["patch"], out_size=g["out"], radius=g["radius"], seed=seed)
            return x.astype("float32"), y
        rng = np.random.default_rng(seed)
        size, xs, ys = config.input_size, [], []
        for s in samples:
            t = mapped_targets(s, config.radius, config.filter_size, config.per_class)
            r0, c0 = (int(rng.integers(0, d - size + 1)) for d in s.shape)
            xs.append(s.image[r0:r0 + size, c0:c0 + size])
            ys.append(t[r0:r0 + size, c0:c0 + size])
        return np.stack(xs).astype("float32"), np.stack(ys).astype("float32")

    def open(self, folder, config, postprocess, class_names, *, batch_size: int = 4, precision: str = "float32"):
        import os

        from common.inference import load_keras
        from mapde.inference import MapDePredictor

        model = load_keras(os.path.join(folder, "model.keras"), self.model_classes, self.name)
        return MapDePredictor(model, config, postprocess, class_names, folder, batch_size=batch_size,
                              precision=precision)

    def classifies(self, folder, config):
        return bool(config.per_class)

    def add_arguments(self, verb, parser):
        if verb == "train":
            parser.add_argument("--per-class", action="store_true", help="one mapped channel per cell type")
        if verb in ("predict", "evaluate"):
            parser.add_argument("--deconv-input", choices=("raw", "label_estimate"), default=None,
                                help="what deconv deconvolves (default: the run's config; raw is the paper's)")
            parser.add_argument("--min-distance", type=int, default=None,
                                help="peak distance (default: the run's calibrated one)")
            parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                                help="bfloat16: about 2.5x faster on CPUs with AMX / AVX512-BF16 (recent Xeons), "
                                     "maps within about 1%% (results/benchmarks/mapde.md); slower elsewhere")

    def configure(self, config, args):
        return config.with_overrides(per_class=True) if args.per_class else config

    def load_options(self, args):
        return {"precision": args.precision}

    def detect_options(self, args):
        out = super().detect_options(args)
        if args.deconv_input is not None:
            out["deconv_input"] = args.deconv_input
        if args.min_distance is not None:
            out["min_distance"] = args.min_distance
        return out


# Training images are larger than the 252 input so random crops differ; validation and test images are one
# network input each.
PAPER = MapDePaper(
    name="mapde", title=TITLE, synthetic="he",
    synthetic_splits={"train": (16, 320), "val": (6, 252), "test": (12, 252)}, match_radius=MATCH_RADIUS_PX, mpp=MPP,
    model_classes=("MapDe", "MicroNet", "SCCNN"), default_row="Proposed", methods=("deconv", "peak", "feat"),
    tiny_data="synthetic:images=2:size=256",
    tiny=dict(width=1 / 32, epochs=1, steps_per_epoch=2, batch_size=2, sccnn_epochs=1, sccnn_patches=256,
              sccnn_width=0.25, min_distances=(3, 5), n_thresholds=6))


def load(run, **options):
    """The predictor of a MapDe run folder (or a ``.keras`` file inside one): :meth:`MapDePaper.load`."""
    return PAPER.load(run, **options)
