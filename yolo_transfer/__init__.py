"""YOLOv3 (Darknet-53) transfer learning for blood-cell detection on BCCD (Ren, Lam, Zhao).

The detector is three named sub-models - ``darknet``, ``multiscale``, ``detection`` - so each of the
paper's three training stages can freeze the others; a YOLOv3-tiny variant serves CPU runs. Darknet
``.weights`` files load and save (:func:`load_darknet_weights`), anchors come from COCO or from a
1 - IoU k-means of the training boxes, and evaluation is VOC AP@0.5 per class with per-class NMS.

Attributes are imported on first use (PEP 562), so ``import yolo_transfer`` does not import TensorFlow.
"""

from common import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, globals(), {
    "config": "YoloConfig MODULES ROWS VARIANTS", "losses": "YoloLoss",
    "model": "YOLOv3 build_yolo set_trainable_modules COCO_ANCHORS TINY_ANCHORS",
    "darknet": "load_darknet_weights save_darknet_weights",
    "data": "kmeans_anchors encode_targets letterbox load_voc_folder load_yolo_folder YoloSequence",
    "train": "train train_stage", "inference": "YoloPredictor nms", "evaluate": "calibrate_threshold score_split",
    "paper": "PAPER TITLE load"})
