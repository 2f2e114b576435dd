"""Training MapDe, the Micro-Net-Peak regression and the SC-CNN baseline (section 3)."""

from __future__ import annotations

import math

import keras

from common.training import WarmUp, fit, fit_arrays, open_run, set_seed
from mapde.config import MapDeConfig
from mapde.data import check_annotated, check_sizes, mapde_dataset, steps_per_epoch
from mapde.losses import MapDeLoss
from mapde.model import build_mapde, build_micronet

__all__ = ["compiled_network", "optimizer", "train", "train_model", "train_sccnn"]


def optimizer(config: MapDeConfig, steps: int) -> keras.optimizers.Optimizer:
    """Adagrad with learning rate ``lr * exp(-lr_decay * epoch)`` (section 3), stepped per epoch,
    after a linear warm-up over ``config.warmup_steps`` steps (none in the paper; 50 in the quick
    preset, see :mod:`mapde.config`).

    The schedule lives in the optimizer (an ``ExponentialDecay`` over iterations with
    ``decay_steps = steps`` per epoch, staircase, inside :class:`common.training.WarmUp`), so a
    resumed run continues it exactly.
    """
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=max(1, int(steps)), decay_rate=math.exp(-config.lr_decay), staircase=True)
    if config.warmup_steps:
        schedule = WarmUp(schedule, int(config.warmup_steps))
    return keras.optimizers.Adagrad(schedule)


def _n_classes(train) -> int:
    return len(train[0].class_names)


def compiled_network(config: MapDeConfig, n_classes: int, steps: int = 1) -> keras.Model:
    """The row's untrained network (``config.model``), compiled with its loss and optimizer
    (``steps``: optimizer steps per epoch, for the learning-rate decay)."""
    config = MapDeConfig.ensure(config)
    if config.model == "sccnn":
        return _compiled_sccnn(config)
    if config.model == "mapde":
        model = build_mapde(config, n_classes)
        model.compile(optimizer=optimizer(config, steps), loss=MapDeLoss(config.pos_weight))
        return model
    model = build_micronet(config, n_classes)
    if model.aux_outputs:
        model.compile(optimizer=optimizer(config, steps), loss={k: MapDeLoss(config.pos_weight) for k in
                                                                 ("main", "aux1", "aux2", "aux3")},
                      loss_weights={"main": 1.0, **{f"aux{j}": config.aux_weight for j in (1, 2, 3)}})
    else:
        model.compile(optimizer=optimizer(config, steps), loss=MapDeLoss(config.pos_weight))
    return model


def _compiled_sccnn(config: MapDeConfig) -> keras.Model:
    from common.baselines.sccnn import SCCNN, SCCNNLoss

    g = config.group("sccnn_")
    model = SCCNN(g["patch"], g["out"], g["radius"], width=g["width"], name="sccnn")
    model.compile(optimizer=keras.optimizers.Adam(g["lr"]), loss=SCCNNLoss())
    return model


def train_model(config: MapDeConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains ``config.model`` ("mapde" or "micronet") on the artificial labels.

    MapDe: the Micro-Net + fixed mapping filter of Fig. 2b. Micro-Net (Micro-Net-Peak): the same
    Micro-Net with ReLU output regressing the artificial labels directly. Both use :class:`MapDeLoss`
    (weighted cross-entropy, positive weight ``config.pos_weight``), Adagrad with the paper's decay,
    the section 3 augmentation and keep the weights of the lowest validation loss. Writes
    ``config.json``, ``data.json``, checkpoints, ``history.csv`` and ``model.keras`` in ``run_dir``.

    Returns:
        ``(model, history)``.
    """
    config = MapDeConfig.ensure(config)
    if config.model not in ("mapde", "micronet"):
        raise ValueError(f"train_model trains 'mapde' or 'micronet'; use train_sccnn for {config.model!r}")
    train, val = check_annotated(train, "training"), check_annotated(val, "validation")
    check_sizes(train, val, config.input_size)
    run = open_run(run_dir, config, resume, data=(train, val))
    steps = config.steps_per_epoch or steps_per_epoch(train, config.input_size, config.batch_size)
    set_seed(config.seed)
    model = compiled_network(config, _n_classes(train), steps)
    aux = getattr(model, "aux_outputs", False)

    def for_outputs(ds):
        return ds.map(lambda x, t: (x, {k: t for k in ("main", "aux1", "aux2", "aux3")})) if aux else ds

    def tr(skip_batches):
        return for_outputs(mapde_dataset(train, config, training=True, repeat=True,
                                         skip=skip_batches * config.batch_size))

    va = for_outputs(mapde_dataset(val, config, training=False))
    model, history = fit(model, tr, va, run,
                         dead_output_epochs=config.dead_output_epochs, epochs=config.epochs, patience=config.patience,
                         steps_per_epoch=steps,
                         resume=resume, verbose=verbose)
    run.save_model(model)
    return model, history


def train_sccnn(config: MapDeConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains the SC-CNN baseline on patches (see :mod:`common.baselines.sccnn`).

    Returns:
        ``(model, history)``; the model is also saved as ``model.keras`` in ``run_dir``.
    """
    from common.baselines.sccnn import sccnn_patches

    config = MapDeConfig.ensure(config)
    train, val = check_annotated(train, "training"), check_annotated(val, "validation")
    run = open_run(run_dir, config, resume, data=(train, val))
    set_seed(config.seed)
    g = config.group("sccnn_")
    kw = dict(patch_size=g["patch"], out_size=g["out"], radius=g["radius"])
    xtr, ytr = sccnn_patches(train, g["patches"], seed=config.seed, **kw)
    xva, yva = sccnn_patches(val, max(1000, g["patches"] // 5), seed=config.seed + 1, **kw)
    model = _compiled_sccnn(config)
    model, history = fit_arrays(model, (xtr, ytr), (xva, yva), run, batch_size=g["batch"], seed=config.seed,
                                dead_output_epochs=config.dead_output_epochs, epochs=g["epochs"],
                                patience=config.patience, resume=resume, verbose=verbose)
    run.save_model(model)
    return model, history


def train(config: MapDeConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains ``config.model`` (``mapde``, ``micronet`` or ``sccnn``) in ``run_dir`` and tunes every
    location method it supports on ``val`` (``postprocess.json``, ``sweep.csv``).

    Returns:
        The run's :class:`mapde.inference.MapDePredictor`.
    """
    from common.evaluation import calibrate_run
    from mapde.inference import MapDePredictor

    config = MapDeConfig.ensure(config)
    trainer = train_sccnn if config.model == "sccnn" else train_model
    model, _ = trainer(config, train, val, run_dir, resume=resume, verbose=verbose)
    pred = MapDePredictor(model, config, class_names=train[0].class_names, folder=str(run_dir))
    return calibrate_run(pred, val, run_dir)
