"""S-DRDIN: the paper's facts and published numbers, as data (ovarian-cancer mIHC, 6 cell types, 5
held-out test slides), and its :class:`common.contract.Paper` (``PAPER``).

Every value is the mean and standard deviation over 3 training / validation splits (section 2.5);
a detection is a TP within 10 px (0.44 um/px at 20x) of an annotation.
"""

from __future__ import annotations

from common.contract import Paper

__all__ = ["CLASS_NAMES", "DATA_SPLIT", "MATCH_RADIUS_PX", "MPP", "PAPER", "SDRDINPaper", "TABLE2", "TABLE2_COLUMNS",
           "TABLE3", "TABLE3_COLUMNS", "TABLE_A4", "TABLE_A5", "TABLE_A5_COLUMNS", "load", "table"]

TITLE = "S-DRDIN - simultaneous cell detection and classification (symmetric dense inception network)"
MPP = 0.44   # 20x (section 2.5)

CLASS_NAMES = ("CD8+", "CD4+FOXP3-", "CD4+FOXP3+", "PD1+CD4-CD8-", "PD1+CD4-CD8+", "PD1+CD4+CD8-")

# Table 1: cells per split (train / validation from 257 patches of 4 slides, 7:3; test: 5 other slides).
DATA_SPLIT = {
    "Training": (110, 380, 192, 33, 453, 50),
    "Validation": (33, 137, 110, 26, 183, 33),
    "Test": (344, 515, 368, 21, 612, 74),
}
MATCH_RADIUS_PX = 10.0

# Table 2: detection. (mean, std) per column.
TABLE2_COLUMNS = ("Precision", "Recall", "F1", "TP", "FP")
TABLE2 = {
    "U-Net": ((0.848, 0.011), (0.772, 0.016), (0.808, 0.003), (1493, 30), (268, 28)),
    "CONCORDe-Net": ((0.921, 0.037), (0.660, 0.017), (0.768, 0.001), (1276, 33), (111, 58)),
    "DRDIN-detection": ((0.851, 0.017), (0.783, 0.021), (0.816, 0.004), (1515, 41), (266, 43)),
    "S-DRDIN-gradient": ((0.783, 0.098), (0.809, 0.039), (0.793, 0.032), (1565, 76), (456, 274)),
    "S-DRDIN": ((0.941, 0.016), (0.750, 0.031), (0.835, 0.013), (1450, 61), (92, 30)),
}

# Table 3: classification of the detected annotated cells, weighted by class proportion.
TABLE3_COLUMNS = ("Weighted Precision", "Weighted Recall", "Weighted F1")
TABLE3 = {
    "U-Net": ((0.768, 0.006), (0.795, 0.002), (0.761, 0.006)),
    "CONCORDe-Net": ((0.797, 0.004), (0.816, 0.009), (0.778, 0.011)),
    "DRDIN-classification": ((0.839, 0.011), (0.834, 0.009), (0.829, 0.018)),
    "S-DRDIN-gradient": ((0.860, 0.015), (0.860, 0.018), (0.857, 0.021)),
    "S-DRDIN": ((0.870, 0.011), (0.872, 0.009), (0.867, 0.015)),
}

# Table A.4: training time for 100 epochs (hours); separate-model rows add both models' times.
TABLE_A4 = {
    "U-Net": 0.09,                 # "U-Net-detection+classification"
    "CONCORDe-Net": 0.73,          # "Concordenet-detection+classification"
    "DRDIN-detection+classification": 0.16,
    "S-DRDIN": 0.12,
}

# Table A.5: S-DRDIN per cell type: classification P / R / F1 and detection recall.
TABLE_A5_COLUMNS = ("Precision", "Recall", "F1", "Detection Recall")
TABLE_A5 = {
    "CD8+": ((0.833, 0.025), (0.683, 0.069), (0.749, 0.032), (0.731, 0.113)),
    "CD4+FOXP3-": ((0.910, 0.059), (0.954, 0.014), (0.931, 0.024), (0.525, 0.103)),
    "CD4+FOXP3+": ((0.967, 0.002), (0.974, 0.019), (0.970, 0.009), (0.865, 0.017)),
    "PD1+CD4-CD8-": ((0.675, 0.035), (0.750, 0.039), (0.711, 0.037), (0.833, 0.034)),
    "PD1+CD4-CD8+": ((0.848, 0.032), (0.911, 0.018), (0.877, 0.009), (0.814, 0.062)),
    "PD1+CD4+CD8-": ((0.646, 0.065), (0.468, 0.343), (0.514, 0.264), (0.527, 0.019)),
}


def table(rows: dict, columns, index_name: str = "Method"):
    """A paper table as a DataFrame: ``<column>`` (mean) and ``<column> std`` per column."""
    import pandas as pd

    data = {}
    for name, values in rows.items():
        data[name] = {}
        for col, (mean, std) in zip(columns, values):
            data[name][col] = mean
            data[name][f"{col} std"] = std
    df = pd.DataFrame.from_dict(data, orient="index")
    df.index.name = index_name
    return df


class SDRDINPaper(Paper):
    """S-DRDIN's hooks (:mod:`common.contract`)."""

    def training_batch(self, config, samples, seed=0):
        import numpy as np

        from sdrdin.data import targets

        rng = np.random.default_rng(seed)
        size, xs, mcs, mds = config.input_size, [], [], []
        for s in samples:
            mc, md = targets(s, config.radius)
            r0, c0 = (int(rng.integers(0, d - size + 1)) for d in s.shape)
            xs.append(s.image[r0:r0 + size, c0:c0 + size])
            mcs.append(mc[r0:r0 + size, c0:c0 + size])
            mds.append(md[r0:r0 + size, c0:c0 + size])
        return np.stack(xs).astype("float32"), {"class": np.stack(mcs), "det": np.stack(mds)}

    def open(self, folder, config, postprocess, class_names, *, tile_size: int = 512, batch_size: int = 4):
        import os

        from common.inference import load_keras, resolve_run
        from sdrdin.inference import SDRDINPredictor
        from sdrdin.train import pipeline_parts

        models = {sub: load_keras(resolve_run(os.path.join(folder, sub) if sub else folder)[1], self.model_classes,
                                  self.name) for sub in pipeline_parts(config)}
        det = models.get("", models.get("detection"))
        cls = models.get("", models.get("classification"))
        return SDRDINPredictor(det, config, postprocess, class_names, folder, classifier=cls, tile_size=tile_size,
                               batch_size=batch_size)


PAPER = SDRDINPaper(
    name="sdrdin", title=TITLE, synthetic="mihc6",
    synthetic_splits={"train": (16, 192), "val": (8, 192), "test": (16, 192)}, match_radius=MATCH_RADIUS_PX, mpp=MPP,
    model_classes=("SDRDIN", "UNet", "InceptionUNet", "SCCNNClassifier"), default_row="S-DRDIN",
    methods=("blobs", "components"),
    tiny=dict(input_size=32, patch_stride=16, base_filters=4, epochs=1, steps_per_epoch=2, min_area=2, peak_window=5,
              vote_box=9, n_thresholds=6, counter_epochs=1, sccnn_epochs=1, sccnn_patches=64))


def load(run, **options):
    """The predictor of an S-DRDIN run folder (any table row's pipeline): :meth:`SDRDINPaper.load`."""
    return PAPER.load(run, **options)
