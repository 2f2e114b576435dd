"""What the YOLOv3 blood-cell paper (Ren, Lam, Zhao) publishes, as data, and the public BCCD numbers
we put beside ours where the paper gives none.

The paper reports one number: training the detector takes 6.8 h from scratch and 2.5 h with transfer
learning (section 3). It shows detections (Fig. 2) but no AP table, so the detection table sets our AP
beside a public BCCD run (not the paper's), named in every table that shows it.
"""

from __future__ import annotations

import os

from common.contract import Paper

__all__ = ["CLASS_NAMES", "MATCH_RADIUS_PX", "PAPER", "PUBLIC_AP", "PUBLIC_AP_SOURCE", "TRAINING_HOURS",
           "TRAINING_HOURS_SOURCE", "YoloPaper", "load"]

TITLE = "YOLOv3 (Darknet-53) transfer learning for blood cells on BCCD"
# The paper scores boxes (no point radius); ours, for the shared point scores of the box centres.
MATCH_RADIUS_PX = 10.0

CLASS_NAMES = ("RBC", "WBC", "Platelets")

# Section 3: "the time consumption in training is greatly reduced from 6.8 h to 2.5 h".
TRAINING_HOURS = {"scratch": 6.8, "transfer": 2.5}
TRAINING_HOURS_SOURCE = "Ren, Lam, Zhao, section 3 (hardware, epochs and target not stated)"

# AP@0.5 on the BCCD test images from a public YOLOv7 transfer run (reference_specs 4f); not the paper's.
PUBLIC_AP = {"RBC": 0.859, "WBC": 0.983, "Platelets": 0.876, "mAP": 0.906}
PUBLIC_AP_SOURCE = ("public YOLOv7 transfer run on BCCD (AqsaRasheed/Complete-Blood-Count-CBC-, 73 test images), "
                    "not the paper's: the paper publishes no AP")


def _box_folder(name: str) -> bool:
    return os.path.isdir(name) and (os.path.isfile(os.path.join(name, "data.yaml"))
                                    or os.path.isdir(os.path.join(name, "Annotations")))


class YoloPaper(Paper):
    """The YOLO transfer paper's hooks (:mod:`common.contract`): a box detector, scored by VOC AP, that
    reads VOC and Ultralytics folders besides the shared ones."""

    def check_data(self, data, data_root=None):
        name = self.data_name(data)
        if _box_folder(name):
            return name
        return super().check_data(data, data_root)

    def load_split(self, data, split, seed=0, data_root=None):
        name = self.data_name(data)
        if _box_folder(name):
            from yolo_transfer.data import load_data

            return load_data(name, split, seed)
        return super().load_split(data, split, seed, data_root)

    def training_batch(self, config, samples, seed=0):
        from yolo_transfer.data import validation_arrays
        from yolo_transfer.model import coco_anchors

        anchors, n = coco_anchors(config.model, config.input_size), config.n_scales
        per = len(anchors) // n
        per_scale = [anchors[(n - 1 - s) * per:(n - s) * per] for s in range(n)]   # coarsest first (scale_anchors)
        strides = (32, 16, 8)[:n]
        x, y, _ = validation_arrays(samples, config.input_size, per_scale, strides, len(samples[0].class_names),
                                    config.max_boxes)
        return x.astype("float32"), y

    def score(self, predictor, samples, radii, progress=False, **detect):
        from yolo_transfer.evaluate import score_split

        return score_split(predictor, samples, radii, progress=progress, **detect)

    def open(self, folder, config, postprocess, class_names, *, batch_size: int = 8):
        from common.inference import load_keras
        from yolo_transfer.inference import YoloPredictor

        model = load_keras(os.path.join(folder, "model.keras"), self.model_classes, self.name)
        return YoloPredictor(model, config, postprocess, class_names, folder, batch_size=batch_size)

    def add_arguments(self, verb, parser):
        if verb in ("train", "reproduce"):
            parser.add_argument("--weights", default=None, metavar="FILE",
                                help="a Darknet .weights file (yolov3.weights or darknet53.conv.74) replacing the "
                                     "source stages it covers (transfer row)")

    def train_options(self, args):
        return {"data_root": args.data_root}


# BCCD states no pixel size (mpp None).
PAPER = YoloPaper(
    name="yolo_transfer", title=TITLE, synthetic="blood",
    synthetic_splits={"train": (64, 256), "val": (16, 256), "test": (16, 256)}, match_radius=MATCH_RADIUS_PX,
    mpp=None, model_classes=("YOLOv3",), default_row="transfer", methods=("boxes",), path_flags=("weights",),
    tiny=dict(width=0.125, input_size=64, multiscale_sizes=(64, 96), epochs=1, source_epochs=1, stage2_epochs=1,
              source_images=4, batch_size=2, anchors="coco"))


def load(run, **options):
    """The predictor of a YOLO run folder (or its ``model.keras``): :meth:`YoloPaper.load`."""
    return PAPER.load(run, **options)
