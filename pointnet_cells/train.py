"""Training the point-proposal model (Tables 1-2) and the density-regression competitors (Table 1)."""

from __future__ import annotations

import keras
import numpy as np

from common.training import fit, open_run, set_seed
from pointnet_cells.config import PointNetConfig
from pointnet_cells.data import (
    as_dataset,
    check_annotated,
    check_crop_density,
    density_stream,
    density_validation,
    point_stream,
    validation_crops,
)
from pointnet_cells.losses import DensityLoss, PointLoss
from pointnet_cells.model import build_density_model, build_point_model

__all__ = ["compiled_network", "optimizer", "point_loss", "train", "train_density_model", "train_point_model"]


def optimizer(learning_rate: float, weight_decay: float) -> keras.optimizers.Optimizer:
    """AdamW (section 3.1) with its decoupled weight decay and a constant rate (P2PNet's code never
    passed its weight decay to the optimiser; here it is the optimiser's own ``weight_decay``)."""
    return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)


def point_loss(config: PointNetConfig, n_classes: int) -> PointLoss:
    return PointLoss(n_classes, heads=config.heads, cls_loss=config.cls_loss, alpha=config.alpha,
                     beta=config.beta, gamma=config.gamma,
                     q=config.q, lam=config.lam, cls_reduction=config.cls_reduction)


def compiled_network(config: PointNetConfig, n_classes: int, verbose: bool = False) -> keras.Model:
    """The row's untrained network compiled with its loss and optimizer: the point model (eq. 7, AdamW;
    the loss matches on the host, which XLA cannot compile) or a density network (BCE + IoU, Adam)."""
    config = PointNetConfig.ensure(config)
    if config.model == "point":
        model = build_point_model(config, n_classes, verbose=verbose)
        model.compile(optimizer=optimizer(config.learning_rate, config.weight_decay),
                      loss=point_loss(config, n_classes), jit_compile=False)
        return model
    model = build_density_model(config, n_classes)
    model.compile(optimizer=keras.optimizers.Adam(config.density_lr),
                  loss=DensityLoss(config.bce_weight, config.iou_weight))
    return model


def train_point_model(config: PointNetConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains the row's :class:`pointnet_cells.model.PointNet` on random resized crops.

    Each step matches the proposals to the cells on the host (eq. 2) and minimises eq. 7 with AdamW;
    the weights of the lowest validation loss (on fixed crops of the
    validation images) are kept. Writes the shared run folder.

    Returns:
        ``(model, history)``.
    """
    config = PointNetConfig.ensure(config)
    if config.model != "point":
        raise ValueError(f"train_point_model trains the point model, not {config.model!r}")
    need = int(np.ceil(config.crop_size / config.image_scale))
    train = check_annotated(train, "training", need)
    val = check_annotated(val, "validation", need)
    check_crop_density(train, config)
    run = open_run(run_dir, config, resume, data=(train, val))
    set_seed(config.seed)
    n = len(train[0].class_names)
    model = compiled_network(config, n, verbose=verbose not in (0, "0"))
    steps = -(-len(train) // config.batch_size)
    xv, yv = validation_crops(val, config.crop_size, config.image_scale)

    def stream(skip_batches):
        return as_dataset(point_stream(train, config, start_batch=skip_batches))

    model, history = fit(model, stream, (xv, yv), run, epochs=config.epochs, patience=config.patience,
                         steps_per_epoch=steps, resume=resume, verbose=verbose,
                         dead_output_epochs=config.dead_output_epochs, checkpoint_every=config.checkpoint_every)
    run.save_model(model)
    return model, history


def train_density_model(config, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains the row's density network on random resized crops with BCE + IoU and Adam
    (``density_lr``; the paper gives the optimiser of its own model only). Returns ``(model, history)``."""
    train = check_annotated(train, "training", config.crop_size)
    val = check_annotated(val, "validation", config.crop_size)
    run = open_run(run_dir, config, resume, data=(train, val))
    set_seed(config.seed)
    n = len(train[0].class_names)
    model = compiled_network(config, n)
    xv, yv = density_validation(val, config, n)
    steps = -(-len(train) // config.batch_size)

    def stream(skip_batches):
        return as_dataset(density_stream(train, config, n, start_batch=skip_batches), (None, None, 1 + n))

    model, history = fit(model, stream, (xv, yv), run, epochs=config.density_epochs, patience=config.patience,
                         steps_per_epoch=steps, resume=resume, verbose=verbose,
                         dead_output_epochs=config.dead_output_epochs, checkpoint_every=config.checkpoint_every)
    run.save_model(model)
    return model, history


def train(config: PointNetConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains the row (``config.model``) in ``run_dir`` and calibrates its detection threshold on ``val``
    (``postprocess.json``, ``sweep.csv``).

    Returns:
        The run's predictor (:mod:`pointnet_cells.inference`).
    """
    from common.evaluation import calibrate_run
    from pointnet_cells.inference import predictor_for

    config = PointNetConfig.ensure(config)
    train, val = check_annotated(train, "training"), check_annotated(val, "validation")
    if tuple(val[0].class_names) != tuple(train[0].class_names):
        raise ValueError(f"training classes {list(train[0].class_names)} differ from validation classes "
                         f"{list(val[0].class_names)}")
    trainer = train_point_model if config.model == "point" else train_density_model
    model, _ = trainer(config, train, val, run_dir, resume=resume, verbose=verbose)
    pred = predictor_for(model, config, train[0].class_names, str(run_dir))
    return calibrate_run(pred, val, run_dir)
