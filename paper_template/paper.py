"""The template paper's facts and its :class:`common.contract.Paper` (``PAPER``).

A real paper keeps its published tables here too, as data (see ``mapde/paper.py``).
"""

from __future__ import annotations

from common.contract import Paper

__all__ = ["MATCH_RADIUS_PX", "PAPER", "TITLE", "TemplatePaper", "load"]

TITLE = "Template - peaks of a regressed Gaussian density map (a skeleton for a new paper)"
MATCH_RADIUS_PX = 6.0


class TemplatePaper(Paper):
    """The hooks every paper fills; ``build``, ``train`` and ``reproduce`` come from the shared layout
    (``train.compiled_network``, ``train.train``, ``reproduce.main``)."""

    def training_batch(self, config, samples, seed=0):
        from paper_template.data import crops

        return crops(samples, config, seed)

    def classifies(self, folder, config):
        return False

    def open(self, folder, config, postprocess, class_names):
        import os

        from common.inference import load_keras
        from paper_template.inference import TemplatePredictor

        model = load_keras(os.path.join(folder, "model.keras"), self.model_classes, self.name)
        return TemplatePredictor(model, config, postprocess, class_names, folder)


# The facts, stated once.
PAPER = TemplatePaper(
    name="paper_template", title=TITLE, synthetic="he", synthetic_splits={"train": (8, 128), "val": (3, 128),
                                                                          "test": (3, 128)},
    match_radius=MATCH_RADIUS_PX, mpp=0.5, model_classes=("TemplateNet",), default_row="ours", methods=("peaks",),
    tiny=dict(width=4, epochs=1, batch_size=2, crop_size=64, n_thresholds=6))


def load(run, **options):
    """The predictor of a run folder: :meth:`TemplatePaper.load`."""
    return PAPER.load(run, **options)
