"""Training S-DRDIN, its single-task DRDIN variants and the U-Net baseline (sections 2.3-2.4).

A table row is a *pipeline*: the joint rows (S-DRDIN, S-DRDIN-gradient) train one network; the
separate-model rows train one network per task, each in its own run folder under the row's::

    <run>/config.json, data.json, postprocess.json, sweep.csv     the row
    <run>/model.keras                                             joint rows: the network
    <run>/detection/model.keras, <run>/classification/model.keras separate rows: one per task

DRDIN-detection and DRDIN-classification are the two halves of one pipeline ("DRDIN"): detections
from the first, classes from the second (Tables 2-3, Table A.4's "DRDIN-detection+classification").
The CONCORDe-Net row detects with CONCORDe-Net (the Inception U-Net trained with Dice + count loss
through a frozen counter pre-trained in ``<run>/detection/counter``) and classifies each detection
with an SC-CNN softmax classifier and its neighbouring ensemble predictor (section 3.2).
"""

from __future__ import annotations

import os

import keras

from common.baselines.concordenet import CellCounter, ConcordeNet, CountLoss, DiceLoss
from common.baselines.sccnn import classifier_patches
from common.datasets import check_min_size
from common.tiling import crop_origins
from common.training import RunDir, fit, fit_arrays, open_run, set_seed
from sdrdin.config import SDRDINConfig
from sdrdin.data import check_classified, sdrdin_dataset
from sdrdin.losses import PixelWeightedCE
from sdrdin.model import build_network, tasks_of

__all__ = ["SEPARATE", "check_trainable", "compiled_network", "pipeline_parts", "train", "train_network"]

SEPARATE = ("detection", "classification")


def pipeline_parts(config: SDRDINConfig) -> dict:
    """``{sub-folder: task config}`` of a row: ``{"": config}`` for a joint network, else one config
    per task (``"detection"``, ``"classification"``), each training a single-task network."""
    if config.model == "sdrdin" and config.branches == "both":
        return {"": config}
    return {task: config.with_overrides(branches=task) for task in SEPARATE}


def _losses(config, tasks):
    # The U-Net row is "trained without additional weights" (section 3.2): plain cross-entropy.
    weighting = "none" if config.model == "unet" else config.class_weighting
    losses = {"class": PixelWeightedCE(weighting), "det": keras.losses.BinaryCrossentropy(name="det_bce")}
    return {k: losses[k] for k in tasks}


def check_trainable(config: SDRDINConfig, train, val) -> None:
    """Refuses, before any file is written, data S-DRDIN cannot train on: no classes, images smaller
    than the network input (naming the first)."""
    train = check_classified(train, "training")
    check_classified(val, "validation", n_classes=len(train[0].class_names))
    for what, split in (("training", train), ("validation", val)):
        check_min_size(split, config.input_size, what, f"the {config.input_size}x{config.input_size} network input",
                       "use larger images or a smaller input_size (--set input_size=...)")


def compiled_network(config: SDRDINConfig, n_classes: int) -> keras.Model:
    """One pipeline part's untrained network compiled with its losses and Adam (``config.branches``
    names the part; CONCORDe-Net's detection part is its segmenter with the Dice loss alone)."""
    model = build_network(config, n_classes)
    if config.model == "concordenet" and config.branches == "classification":
        model.compile(optimizer=keras.optimizers.Adam(config.sccnn_lr), loss="sparse_categorical_crossentropy")
        return model
    if config.model == "concordenet":
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=DiceLoss(1.0))
        return model
    tasks = tasks_of(model)
    losses = _losses(config, tasks)
    single = not isinstance(model.output, dict)   # a one-output network (U-Net) takes its target bare
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=losses[tasks[0]] if single else losses)
    return model


def _steps(config, train) -> int:
    """One pass over the training patches (section 2.2 grid of every image), in batches."""
    if config.steps_per_epoch:
        return int(config.steps_per_epoch)
    n = sum(len(crop_origins(s.shape, config.input_size, config.patch_stride)) for s in train)
    return max(1, -(-n // config.batch_size))


def train_network(config: SDRDINConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains one network (a joint S-DRDIN or one task's network) with Adam at ``config.learning_rate``,
    keeping the weights of the lowest validation loss. S-DRDIN's loss is the sum of the pixel-weighted
    cross-entropy (eq. 1-2) and the detection branch's binary cross-entropy.

    Returns:
        ``(model, history)``; the model is saved as ``model.keras`` in ``run_dir``.
    """
    config = SDRDINConfig.ensure(config)
    check_trainable(config, train, val)
    run = open_run(run_dir, config, resume, data=(train, val))
    if config.model == "concordenet":
        trainer = _train_concordenet if config.branches == "detection" else _train_sccnn_classifier
        return trainer(config, train, val, run, resume, verbose)
    set_seed(config.seed)
    model = compiled_network(config, len(train[0].class_names))
    tasks = tasks_of(model)
    single = not isinstance(model.output, dict)
    steps = _steps(config, train)

    def shaped(ds):
        return ds.map(lambda x, y: (x, y[tasks[0]])) if single else ds

    def tr(skip_batches):
        return shaped(sdrdin_dataset(train, config, tasks, training=True, repeat=True,
                                     skip=skip_batches * config.batch_size))

    va = shaped(sdrdin_dataset(val, config, tasks, training=False))
    model, history = fit(model, tr, va, run, epochs=config.epochs, patience=config.patience, steps_per_epoch=steps,
                         resume=resume, verbose=verbose, dead_output_epochs=config.dead_output_epochs)
    run.save_model(model)
    return model, history


def _train_counter(config, train, val, run_dir, verbose, resume: bool = True):
    """CONCORDe-Net's counter pre-trained on reference masks Md -> number of cell centres (MAE)."""
    run = open_run(run_dir, config, resume=resume, data=(train, val))
    set_seed(config.seed)

    def as_counter(ds):
        return ds.map(lambda x, y: (y["det"], y["count"]))

    def tr(skip_batches):
        return as_counter(sdrdin_dataset(train, config, ("det", "count"), training=True, repeat=True,
                                         skip=skip_batches * config.batch_size))

    va = as_counter(sdrdin_dataset(val, config, ("det", "count"), training=False))
    counter = CellCounter(config.input_size, name="cell_counter")
    counter.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mae")
    counter, _ = fit(counter, tr, va, run, epochs=config.counter_epochs, patience=config.patience,
                     steps_per_epoch=_steps(config, train), verbose=verbose,
                     dead_output_epochs=config.dead_output_epochs)
    return counter


def _train_concordenet(config, train, val, run, resume, verbose):
    """CONCORDe-Net detection: the Inception U-Net trained with Dice + ``count_loss_weight`` x count
    loss through the frozen counter (``<run>/counter``); saves the segmenter as ``model.keras``."""
    counter = _train_counter(config, train, val, os.path.join(run.path, "counter"), verbose, resume)
    set_seed(config.seed)
    segmenter = build_network(config, len(train[0].class_names))
    model = ConcordeNet(segmenter, counter, name="concordenet")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss={"prob": DiceLoss(1.0), "count": CountLoss()},
                  loss_weights={"prob": 1.0, "count": config.count_loss_weight})

    def as_pair(ds):
        return ds.map(lambda x, y: (x, {"prob": y["det"], "count": y["count"]}))

    def tr(skip_batches):
        return as_pair(sdrdin_dataset(train, config, ("det", "count"), training=True, repeat=True,
                                      skip=skip_batches * config.batch_size))

    va = as_pair(sdrdin_dataset(val, config, ("det", "count"), training=False))
    model, history = fit(model, tr, va, run, epochs=config.epochs, patience=config.patience,
                         steps_per_epoch=_steps(config, train), resume=resume, verbose=verbose,
                         dead_output_epochs=config.dead_output_epochs)
    run.save_model(model.segmenter)
    return model.segmenter, history


def _train_sccnn_classifier(config, train, val, run, resume, verbose):
    """The SC-CNN softmax classifier on single-cell patches (``sccnn_patches`` drawn once, reshuffled
    every epoch), cross-entropy, Adam at ``sccnn_lr``; saves it as ``model.keras``."""
    set_seed(config.seed)
    g = config.group("sccnn_")
    xtr, ytr = classifier_patches(train, g["patches"], g["patch"], g["radius"], seed=config.seed)
    xva, yva = classifier_patches(val, max(500, g["patches"] // 5), g["patch"], g["radius"], seed=config.seed + 1)
    model = build_network(config, len(train[0].class_names))
    model.compile(optimizer=keras.optimizers.Adam(g["lr"]), loss="sparse_categorical_crossentropy")

    model, history = fit_arrays(model, (xtr, ytr), (xva, yva), run, batch_size=g["batch"], seed=config.seed,
                                epochs=g["epochs"], patience=config.patience, resume=resume, verbose=verbose,
                                dead_output_epochs=config.dead_output_epochs)
    run.save_model(model)
    return model, history


def train(config: SDRDINConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains a table row's pipeline in ``run_dir`` and tunes its detection threshold on ``val``
    (``postprocess.json``, ``sweep.csv``).

    Returns:
        The row's :class:`sdrdin.inference.SDRDINPredictor`.
    """
    from common.evaluation import calibrate_run
    from sdrdin.inference import SDRDINPredictor

    config = SDRDINConfig.ensure(config)
    check_trainable(config, train, val)
    parts = pipeline_parts(config)
    # A joint row's network trains in the row folder itself (train_network opens it); a separate row's
    # folder is opened, and its config checked, before its first network trains.
    run = RunDir(run_dir) if "" in parts else open_run(run_dir, config, resume, data=(train, val))
    models = {}
    for sub, part in parts.items():
        models[sub], _ = train_network(part, train, val, os.path.join(run.path, sub) if sub else run.path,
                                       resume=resume, verbose=verbose)
    det = models.get("", models.get("detection"))
    cls = models.get("", models.get("classification"))
    pred = SDRDINPredictor(det, config, class_names=train[0].class_names, folder=str(run.path), classifier=cls)
    return calibrate_run(pred, val, run.path)
