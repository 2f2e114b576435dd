"""Shui et al. (MICCAI 2022): the paper's facts and published numbers, as data (Tables 1-2 and the Fig. 3
claims), and its :class:`common.contract.Paper` (``PAPER``)."""

from __future__ import annotations

from common.contract import Paper

__all__ = ["COLUMNS", "FIG3_BEST_Q", "MATCH_RADIUS_PX", "MPP", "PAPER", "PROTOCOL", "PointNetPaper", "TABLE1_PERCENT",
           "TABLE1_SECONDS", "TABLE2_PERCENT", "load", "table1", "table2"]

TITLE = "End-to-end point-proposal cell recognition (Shui et al., MICCAI 2022)"
MPP = 0.25   # 40x patches (the protocol below)

MATCH_RADIUS_PX = 12.0
PROTOCOL = ("485 PD-L1 IHC patches of 1920 x 1080 px (40x, NSCLC), 4 classes, point annotations by 3 pathologists; "
            "random 4:1 train / test split; TP within 12 px (Cai et al. 2021); inference time on an NVIDIA A100")
COLUMNS = ("Det P", "Det R", "Det F1", "Cls P", "Cls R", "Cls F1")

# Table 1, percent (detection P, R, F1, classification P, R, F1) and seconds per image.
TABLE1_PERCENT = {
    "FCRN-A": (79.67, 70.67, 74.90, 55.76, 47.68, 50.91),
    "FCRN-B": (68.29, 78.27, 72.94, 47.46, 52.04, 49.30),
    "UNet": (82.90, 71.70, 76.89, 63.76, 49.98, 54.60),
    "ResUNet": (83.49, 70.02, 76.17, 56.66, 42.99, 46.59),
    "DeepLab v3+": (77.64, 78.70, 78.17, 64.45, 60.70, 61.75),
    "Zhang": (75.89, 79.10, 77.46, 63.48, 64.80, 63.86),
    "P2PNet": (80.34, 82.91, 81.61, 67.33, 67.85, 67.30),
    "ours": (81.21, 85.17, 83.14, 68.13, 70.36, 69.09),
}
TABLE1_SECONDS = {"FCRN-A": 2.31, "FCRN-B": 3.04, "UNet": 2.46, "ResUNet": 2.56, "DeepLab v3+": 2.51, "Zhang": 2.52,
                  "P2PNet": 0.12, "ours": 0.11}
# Table 2 (ablation), percent.
TABLE2_PERCENT = {
    "Baseline": (80.34, 82.91, 81.61, 67.33, 67.85, 67.30),
    "Baseline+PFA": (81.98, 84.12, 83.03, 68.95, 68.93, 68.41),
    "Baseline+PFA+IC": (81.21, 85.17, 83.14, 68.13, 70.36, 69.09),
}
# Fig. 3 is a plot without printed values: the text says the classification F1 is lowest at q = 0.1,
# rises to its highest at q = 0.4 and falls beyond; at q = 0.4 it is Table 1's 69.09.
FIG3_BEST_Q = 0.4
FIG3_LOWEST_Q = 0.1


def table1():
    """Table 1 (fractions, seconds) indexed by method."""
    from common.reporting import paper_table

    df = paper_table(TABLE1_PERCENT, COLUMNS, scale=0.01)
    df["Time (s)"] = [TABLE1_SECONDS[m] for m in df.index]
    return df


def table2():
    """Table 2 (fractions) indexed by method."""
    from common.reporting import paper_table

    return paper_table(TABLE2_PERCENT, COLUMNS, scale=0.01)


class PointNetPaper(Paper):
    """Shui et al.'s hooks (:mod:`common.contract`)."""

    def training_batch(self, config, samples, seed=0):
        import numpy as np

        from pointnet_cells.data import crop_batches, density_targets
        from pointnet_cells.losses import pad_annotations

        cfg = config.with_overrides(batch_size=len(samples), seed=seed)
        x, cells = next(crop_batches(samples, cfg, cfg.crop_scale))
        if config.model == "point":
            return x, pad_annotations([p for p, _ in cells], [c for _, c in cells])
        size, n = int(config.crop_size), len(samples[0].class_names)
        return x, np.stack([density_targets(p, c, (size, size), n, config.density_kernel, config.density_sigma)
                            for p, c in cells])

    def open(self, folder, config, postprocess, class_names):
        import os

        from common.inference import load_keras
        from pointnet_cells.inference import predictor_for

        model = load_keras(os.path.join(folder, "model.keras"), self.model_classes, self.name)
        if type(model).__name__ == "PointNet" and config.model != "point":
            config = config.with_overrides(model="point")
        return predictor_for(model, config, class_names, folder, postprocess)

    def add_arguments(self, verb, parser):
        if verb == "reproduce":
            from pointnet_cells.config import Q_VALUES

            parser.add_argument("--q-sweep", nargs="*", type=float, default=None, metavar="Q",
                                help=f"also train our model once per GCE exponent q for Fig. 3 (no values: "
                                     f"{' '.join(f'{q:g}' for q in Q_VALUES)})")
        if verb == "train":
            parser.add_argument("--vgg-weights", dest="vgg_weights", default=None,
                                help="Keras' ImageNet VGG16 no-top weights file (.h5); without it VGG16 starts from "
                                     "random weights")

    def reproduce_options(self, args):
        from pointnet_cells.config import Q_VALUES

        if args.q_sweep is None:
            return {}
        return {"q_values": tuple(args.q_sweep) or Q_VALUES}


# ``reproduce --quick`` runs Table 2, whose first and last rows are also Table 1's P2PNet and ours.
PAPER = PointNetPaper(
    name="pointnet_cells", title=TITLE, synthetic="pdl1",
    synthetic_splits={"train": (64, 256), "val": (8, 256), "test": (16, 256)}, match_radius=MATCH_RADIUS_PX, mpp=MPP,
    model_classes=("PointNet", "DensityNet"), default_row="ours", methods=("proposals", "peaks"),
    quick_rows=("Baseline", "Baseline+PFA", "Baseline+PFA+IC"), path_flags=("vgg_weights",),
    tiny=dict(width=0.0625, head_channels=8, crop_size=64, epochs=1, batch_size=2, density_epochs=1,
              density_width=0.125, n_thresholds=6, checkpoint_every=1))


def load(run, **options):
    """The predictor of a ``pointnet_cells`` run folder (or a ``.keras`` file in one): :meth:`PointNetPaper.load`."""
    return PAPER.load(run, **options)
