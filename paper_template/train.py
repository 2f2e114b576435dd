"""Training the template into the shared run folder, then calibrating it on the validation split."""

from __future__ import annotations

import keras

from common.datasets import check_min_size, require_cells
from common.training import fit, open_run, set_seed, stream_dataset
from paper_template.config import TemplateConfig
from paper_template.data import crops, stream
from paper_template.model import build_network

__all__ = ["compiled_network", "train"]


def compiled_network(config: TemplateConfig, n_classes: int = 1) -> keras.Model:
    """The untrained network, compiled with binary cross-entropy and Adam (one map for every class)."""
    model = build_network(TemplateConfig.ensure(config))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="binary_crossentropy")
    return model


def train(config: TemplateConfig, train, val, run_dir, resume: bool = True, verbose="auto"):
    """Trains ``config`` on ``train`` in ``run_dir`` (``config.json``, ``data.json``, ``model.keras``, ...),
    calibrates the peak threshold and distance on ``val`` and returns the run's predictor."""
    from common.evaluation import calibrate_run
    from paper_template.inference import TemplatePredictor

    config = TemplateConfig.ensure(config)
    train, val = require_cells(train, "training"), require_cells(val, "validation")
    for what, split in (("training", train), ("validation", val)):
        check_min_size(split, config.crop_size, what, f"the {config.crop_size} px crops", "lower crop_size")
    run = open_run(run_dir, config, resume, data=(train, val))
    set_seed(config.seed)
    model = compiled_network(config)
    xv, yv = crops(val, config, seed=config.seed + 1)

    def batches(skip_batches):
        return stream_dataset(stream(train, config, start_batch=skip_batches), (None, None, 1))

    model, _ = fit(model, batches, (xv, yv), run, epochs=config.epochs, patience=config.patience,
                   steps_per_epoch=-(-len(train) // config.batch_size), resume=resume, verbose=verbose,
                   dead_output_epochs=config.dead_output_epochs)
    run.save_model(model)
    pred = TemplatePredictor(model, config, class_names=train[0].class_names, folder=str(run.path))
    return calibrate_run(pred, val, run.path)
