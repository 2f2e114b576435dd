"""Training YOLO: one stage (:func:`train_stage`) and a row's recipe (:func:`train`), in run folders.

A ``transfer`` run folder holds its source stages below the target stage::

    <run>/stage1/   darknet trained on config.source1 (multiscale, detection frozen)
    <run>/stage2/   multiscale trained on config.source2, multi-scale input sizes
    <run>/          stage 3: multiscale + detection on the target data (darknet frozen); model.keras

``scratch`` trains every module on the target data in ``<run>``. Every stage logs, per epoch, its
training seconds (``seconds``: the epoch's training and validation-loss time) and the validation
mAP@0.5 (``val_map``) in ``history.csv``, from which the training-time table reads epochs and time to
a target mAP. ``weights`` (a Darknet file) replaces the source stages it covers.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np

from common.training import RunDir, fit, open_run, set_seed
from yolo_transfer.config import MODULES, YoloConfig
from yolo_transfer.data import (
    as_dataset,
    check_boxes,
    kmeans_anchors,
    load_data,
    network_boxes,
    train_stream,
    validation_arrays,
)
from yolo_transfer.evaluate import map_of
from yolo_transfer.losses import YoloLoss
from yolo_transfer.model import YOLOv3, build_yolo, coco_anchors, conv_layers, set_trainable_modules

__all__ = ["MapCallback", "anchors_for", "compile_yolo", "compiled_network", "copy_weights", "source_splits", "train",
           "train_stage"]


def anchors_for(config: YoloConfig, samples) -> np.ndarray:
    """The anchors of a stage: COCO's (scaled to the input size) or k-means of its training boxes."""
    k = 9 if config.model == "yolov3" else 6
    if config.anchors == "coco":
        return coco_anchors(config.model, config.input_size)
    return kmeans_anchors(network_boxes(samples, config.input_size), k, seed=config.seed)


class EpochClock(keras.callbacks.Callback):
    """Adds ``seconds``, the epoch's wall time before the callbacks after it, to the epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.time() - self.t0


class MapCallback(keras.callbacks.Callback):
    """Adds ``val_map`` (mAP@0.5 of the validation images, detections above ``eval_score``) and
    ``val_ap_<k>`` per class to the epoch's logs. Boxes are compared in letterboxed network pixels,
    where IoU is the same as in image pixels (the letterbox is a uniform scale and shift)."""

    def __init__(self, x, boxes, samples, config, class_names):
        super().__init__()
        self.x, self.boxes, self.samples, self.config, self.names = x, boxes, samples, config, tuple(class_names)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        ap = map_of(self.model, self.x, self.boxes, self.samples, self.config, self.names)
        logs["val_map"] = float(ap.loc["mAP", "AP"]) if np.isfinite(ap.loc["mAP", "AP"]) else 0.0
        for k, name in enumerate(self.names):
            logs[f"val_ap_{k}"] = float(ap.loc[name, "AP"]) if np.isfinite(ap.loc[name, "AP"]) else 0.0


def copy_weights(src: YOLOv3, dst: YOLOv3, modules=MODULES) -> list:
    """Copies every convolution / batch norm of the named modules whose shapes agree (the output
    convolutions of another class count are left as they are). Returns the copied layer names."""
    copied = []
    for name in modules:
        s, d = src.get_layer(name), dst.get_layer(name)
        for layer in d.layers:
            if not layer.weights:
                continue
            try:
                other = s.get_layer(layer.name)
            except ValueError:
                continue
            w = other.get_weights()
            if [a.shape for a in w] == [a.shape for a in layer.get_weights()]:
                layer.set_weights(w)
                copied.append(layer.name)
    return copied


def compiled_network(config: YoloConfig, n_classes: int, anchors=None) -> YOLOv3:
    """The untrained network compiled with the YOLOv3 loss (``anchors``: the COCO ones of the variant)."""
    return compile_yolo(build_yolo(config, n_classes, anchors), config)


def compile_yolo(model: YOLOv3, config: YoloConfig) -> YOLOv3:
    """Compiles ``model`` with the YOLOv3 loss of each scale and Adam; returns it."""
    losses = [YoloLoss(a, s, model.n_classes, config.ignore_thresh) for a, s in zip(model.scale_anchors(),
                                                                                    model.strides)]
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=losses)
    return model


def train_stage(model: YOLOv3, config: YoloConfig, train, val, run_dir, modules, epochs: int, sizes=None,
                resume: bool = True, verbose="auto", seen_sizes: set | None = None):
    """Trains the named modules of ``model`` (the others frozen) on ``train``, validating on ``val``.

    Keeps the weights of the lowest validation loss; logs ``seconds`` and ``val_map`` per epoch. With
    ``sizes`` the input side changes during training (multi-scale); ``seen_sizes`` collects the sides the
    training batches had.

    Returns:
        ``(model, history)``; the model is saved as ``model.keras`` in ``run_dir``.
    """
    run = RunDir(run_dir)
    set_trainable_modules(model, modules)
    compile_yolo(model, config)
    anchors, strides, c = model.scale_anchors(), model.strides, model.n_classes
    xv, yv, boxes = validation_arrays(val, config.input_size, anchors, strides, c, config.max_boxes)
    steps = -(-len(train) // config.batch_size)

    def stream(skip_batches):
        def batches():
            for x, y in train_stream(train, config, anchors, strides, c, start_batch=skip_batches, sizes=sizes):
                if seen_sizes is not None:
                    seen_sizes.add(int(x.shape[1]))
                yield x, y

        return as_dataset(batches(), len(strides), c)

    cbs = [EpochClock(), MapCallback(xv, boxes, val, config, train[0].class_names)]
    model, history = fit(model, stream, (xv.astype(np.float32), yv), run, epochs=epochs, patience=config.patience,
                         steps_per_epoch=steps, resume=resume, verbose=verbose, callbacks=cbs,
                         dead_output_epochs=config.dead_output_epochs)
    run.save_model(model)
    return model, history


def source_splits(config: YoloConfig, source: str, data_root=None):
    """(train, val) of a source data set; synthetic sources get ``source_images`` training images."""
    n = config.source_images
    size = config.input_size
    if source.startswith("synthetic"):
        tr = load_data(source, "train", config.seed, data_root, (n, size))
        va = load_data(source, "val", config.seed, data_root, (max(4, n // 4), size))
    else:
        tr, va = load_data(source, "train", config.seed, data_root), load_data(source, "val", config.seed, data_root)
    return check_boxes(tr, f"{source} training", config.max_boxes), check_boxes(va, f"{source} validation",
                                                                                   config.max_boxes)


def train(config: YoloConfig, train, val, run_dir, resume: bool = True, verbose="auto", data_root=None):
    """Trains a row (``scratch`` or the three-stage ``transfer`` recipe) in ``run_dir`` and calibrates
    the score threshold on ``val`` (``postprocess.json``, ``sweep.csv``).

    Returns:
        The row's :class:`yolo_transfer.evaluate.YoloPredictor`.
    """
    from common.evaluation import calibrate_run
    from yolo_transfer.darknet import load_darknet_weights
    from yolo_transfer.inference import YoloPredictor

    config = YoloConfig.ensure(config)
    train = check_boxes(train, "training", config.max_boxes)
    val = check_boxes(val, "validation", config.max_boxes)
    names = train[0].class_names
    if val[0].class_names != names:
        raise ValueError(f"training classes {names} differ from validation classes {val[0].class_names}")
    if config.weights and not os.path.isfile(config.weights):
        raise FileNotFoundError(f"no Darknet weights file at {config.weights}")
    run = open_run(run_dir, config, resume, data=(train, val))
    set_seed(config.seed)
    anchors = anchors_for(config, train)
    model = build_yolo(config, len(names), anchors)
    stages = {}
    if config.transfer and not config.init_from:   # from a preset: its weights replace the source stages
        prev, done = None, set()
        if config.weights:
            report = load_darknet_weights(model, config.weights)
            loaded = set(report["loaded"])
            covers = {m: {i for i, _, _ in conv_layers(model.get_layer(m))} <= loaded for m in MODULES}
            done = {1, 2} if covers["multiscale"] else {1}
            prev = model
            stages["weights"] = {"file": os.path.abspath(config.weights), "loaded": len(report["loaded"]),
                                 "skipped": report["skipped"], "stages replaced": sorted(done)}
        for k, source in ((1, config.source1), (2, config.source2)):
            if k in done:
                continue
            tr_s, va_s = source_splits(config, source, data_root)
            scfg = config.with_overrides(data=source)
            sub = os.path.join(run.path, f"stage{k}")
            open_run(sub, scfg, resume, data=(tr_s, va_s))
            set_seed(config.seed + k)
            smodel = build_yolo(config, len(tr_s[0].class_names), anchors_for(config, tr_s))
            if prev is not None:
                copy_weights(prev, smodel)
            seen = set()
            smodel, hist = train_stage(smodel, scfg, tr_s, va_s, sub, config.stage_modules[k - 1],
                                       config.source_epochs if k == 1 else config.stage2_epochs,
                                       sizes=config.multiscale_sizes if k == 2 else None, resume=resume,
                                       verbose=verbose, seen_sizes=seen)
            stages[f"stage{k}"] = {"data": tr_s.description, "epochs": len(hist),
                                   "seconds": float(sum(h.get("seconds", 0.0) for h in hist)),
                                   "input sizes": sorted(seen)}
            prev = smodel
        if prev is not None and prev is not model:
            copy_weights(prev, model)
        modules = config.stage_modules[2]
    else:
        modules = config.stage_modules[2] if config.transfer else MODULES
    set_seed(config.seed + 3)
    model, history = train_stage(model, config, train, val, run.path, modules, config.epochs, resume=resume,
                                 verbose=verbose)
    pred = YoloPredictor(model, config, class_names=names, folder=run.path)
    if stages:
        run.write_json("stages.json", stages)
    return calibrate_run(pred, val, run.path)

