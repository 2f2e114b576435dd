"""Training AwareNet's detector (all Table 2 rows, CONCORDe-Net included) and its cell classifier."""

from __future__ import annotations

import os

import keras

from awarenet.config import AwareNetConfig
from awarenet.data import cell_patches, class_weights_for, classifier_dataset, detection_dataset, steps_per_epoch
from awarenet.losses import WeightedDiceLoss
from awarenet.model import build_classifier, build_detector
from common.baselines.concordenet import CellCounter, ConcordeNet, CountLoss, DiceLoss
from common.datasets import check_min_size, class_counts, is_classified, require_cells
from common.training import fit, open_run, set_seed

__all__ = ["compiled_network", "train", "train_classifier", "train_counter", "train_detector"]


def _steps(config, train) -> int:
    return config.steps_per_epoch or steps_per_epoch(train, config.input_size, config.batch_size)


def compiled_network(config: AwareNetConfig, n_classes: int | None = None, weighted: bool | None = None,
                     counter=None) -> keras.Model:
    """The row's untrained detector compiled with its loss: the weighted Dice (eq. 5; plain Dice when
    not ``weighted``, default: the row has a weight scheme), or CONCORDe-Net's Dice + count loss
    through the frozen ``counter``. The detector finds cells of every class, so ``n_classes`` is unused."""
    config = AwareNetConfig.ensure(config)
    detector = build_detector(config)
    if config.model == "concordenet":
        if counter is None:
            counter = CellCounter(config.input_size, name="cell_counter")
        model = ConcordeNet(detector, counter, name="concordenet")
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss={"prob": DiceLoss(1.0), "count": CountLoss()},
                      loss_weights={"prob": 1.0, "count": config.count_loss_weight})
        return model
    weighted = config.weight_scheme is not None if weighted is None else weighted
    detector.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                     loss=WeightedDiceLoss(config.dice_eps, use_weights=weighted))
    return detector


def train_counter(config: AwareNetConfig, train, val, run_dir, verbose="auto", resume: bool = True) -> CellCounter:
    """Pre-trains CONCORDe-Net's counter on reference masks R -> number of cell centres (MAE)."""
    run = open_run(run_dir, config, resume=resume)
    set_seed(config.seed)

    def as_counter(ds):
        return ds.map(lambda x, t: (t["prob"][..., 0:1], t["count"]))

    def tr(skip_batches):
        return as_counter(detection_dataset(train, config.input_size, config.radius, None, config.batch_size,
                                            training=True, seed=config.seed, repeat=True, counts=True,
                                            skip=skip_batches * config.batch_size))
    va = as_counter(detection_dataset(val, config.input_size, config.radius, None, config.batch_size,
                                      training=False, counts=True))
    counter = CellCounter(config.input_size, name="cell_counter")
    counter.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mae")
    counter, _ = fit(counter, tr, va, run,
                         dead_output_epochs=config.dead_output_epochs, epochs=config.counter_epochs,
                         patience=config.patience,
                     steps_per_epoch=_steps(config, train), verbose=verbose)
    return counter


def _check_sizes(samples, size: int, what: str) -> None:
    check_min_size(samples, size, what, f"the {size}x{size} network input",
                   "use larger images or a smaller input_size (--set input_size=...)")


def train_detector(config: AwareNetConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains one Table 2 row's detector with early stopping on validation loss.

    ``config.model == "awarenet"``: the Inception U-Net with the weighted Dice loss (eq. 5) using
    ``config.weight_scheme`` (None = plain Dice, the U-net row). ``"concordenet"``: the same network
    with CONCORDe-Net's Dice + ``count_loss_weight`` x count loss through a counter pre-trained in
    ``<run_dir>/counter`` and frozen.

    Writes ``config.json``, ``data.json``, ``class_weights.json``, checkpoints and ``history.csv``
    in ``run_dir`` and saves the trained detector as ``model.keras``.

    Returns:
        ``(detector, history)``: the detector (an :class:`AwareNetDetector` with the best weights)
        and the per-epoch history.
    """
    config = AwareNetConfig.ensure(config)
    train, val = require_cells(train, "training"), require_cells(val, "validation")
    _check_sizes(train, config.input_size, "training")
    _check_sizes(val, config.input_size, "validation")
    weights = class_weights_for(train, config.weight_scheme)
    run = open_run(run_dir, config, resume, data=(train, val))
    run.write_json("class_weights.json", {} if weights is None else {
        "scheme": config.weight_scheme, "class_names": list(train[0].class_names),
        "N": [int(n) for n in class_counts(train)], "class_weights": [float(w) for w in weights.class_weights],
        "background": float(weights.background)})
    steps = _steps(config, train)
    if config.model == "concordenet":
        counter = train_counter(config, train, val, os.path.join(run.path, "counter"), verbose=verbose, resume=resume)
        set_seed(config.seed)
        model = compiled_network(config, counter=counter)
        counts = True
    else:
        set_seed(config.seed)
        model = compiled_network(config, weighted=weights is not None)
        counts = False
    def tr(skip_batches):
        return detection_dataset(train, config.input_size, config.radius, weights, config.batch_size, training=True,
                                 seed=config.seed, repeat=True, counts=counts, skip=skip_batches * config.batch_size)

    va = detection_dataset(val, config.input_size, config.radius, weights, config.batch_size, training=False,
                           counts=counts)
    model, history = fit(model, tr, va, run,
                         dead_output_epochs=config.dead_output_epochs, epochs=config.epochs, patience=config.patience,
                         steps_per_epoch=steps, resume=resume, verbose=verbose)
    if isinstance(model, ConcordeNet):
        detector = model.segmenter
    else:
        detector = model
    run.save_model(detector)
    return detector, history


def train_classifier(config: AwareNetConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains the section 3.4 cell classifier on 28x28 patches with class-weighted cross-entropy.

    The class weights are the detector's abundance weights (eq. 2-4) for ``config.weight_scheme``
    (None: unweighted), computed from the training split, applied as per-sample weights.

    Returns:
        ``(classifier, history)``; the classifier is also saved as ``model.keras`` in ``run_dir``.
    """
    config = AwareNetConfig.ensure(config)
    train, val = require_cells(train, "training"), require_cells(val, "validation")
    class_names = list(train[0].class_names)
    n = len(class_names)
    if config.n_classes != n:
        config = config.with_overrides(n_classes=n)
    weights = class_weights_for(train, config.weight_scheme)
    xtr, ytr = cell_patches(train, config.classifier_patch)
    xva, yva = cell_patches(val, config.classifier_patch)
    run = open_run(run_dir, config, resume, data=(train, val))
    def tr(skip_batches):
        return classifier_dataset(xtr, ytr, n, config.classifier_batch,
                                  None if weights is None else weights.class_weights, training=True, seed=config.seed,
                                  skip_batches=skip_batches)

    va = classifier_dataset(xva, yva, n, config.classifier_batch)
    set_seed(config.seed)
    model = build_classifier(config, n)
    model.compile(optimizer=keras.optimizers.Adam(config.classifier_lr), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model, history = fit(model, tr, va, run,
                         dead_output_epochs=config.dead_output_epochs, epochs=config.classifier_epochs,
                         patience=config.classifier_patience,
                         steps_per_epoch=-(-len(xtr) // config.classifier_batch), resume=resume, verbose=verbose)
    run.save_model(model)
    return model, history


def train(config: AwareNetConfig, train, val, run_dir, classifier: bool = False, resume: bool = True,
          verbose="auto"):
    """Trains one Table 2 row's detector, calibrates its threshold on ``val`` and, with
    ``classifier``, the cell classifier in ``<run_dir>/classifier``.

    Writes the shared run-folder files (``config.json``, ``data.json``, ``model.keras``,
    ``postprocess.json``, ``sweep.csv``, ``history.csv``, ``state.json``).

    Returns:
        The run's :class:`awarenet.inference.AwareNetPredictor`.
    """
    from awarenet.inference import AwareNetPredictor
    from common.evaluation import calibrate_run

    config = AwareNetConfig.ensure(config)
    train, val = require_cells(train, "training"), require_cells(val, "validation")
    if classifier and not is_classified(train):
        raise ValueError("the classifier needs cell classes, but the training data has none (add a class column)")
    _check_sizes(train, config.input_size, "training")
    _check_sizes(val, config.input_size, "validation")
    det, _ = train_detector(config, train, val, run_dir, resume=resume, verbose=verbose)
    clf = None
    if classifier:
        clf, _ = train_classifier(config, train, val, os.path.join(os.fspath(run_dir), "classifier"),
                                  resume=resume, verbose=verbose)
    pred = AwareNetPredictor(det, config, class_names=train[0].class_names, folder=os.fspath(run_dir), classifier=clf)
    return calibrate_run(pred, val, run_dir)
