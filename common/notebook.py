"""What a paper's figure notebook reads: a ``reproduce`` output folder, a run folder or a preset.

``figure_source(text, table, paper)`` tells which one ``text`` names: with a ``reproduce`` output the
notebook replots the paper's tables and applies the run's models; with a run folder (``train``'s output) or
a preset's name it shows what needs only a model - :func:`detections_figure`, the model's detections
beside the annotations on the first test image of its data.

Importing this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FigureSource", "detections_figure", "draw_cells", "figure_source", "figures_folder", "first_test_image"]


@dataclass(frozen=True)
class FigureSource:
    """Where a notebook's figures come from.

    Attributes:
        kind: ``"reproduce"`` (a ``reproduce`` output folder), ``"run"`` (a run folder) or ``"preset"``.
        path: the folder (a preset's installed folder for a preset).
        name: what the user gave.
    """

    kind: str
    path: Path
    name: str

    @property
    def tables(self) -> bool:
        """Whether the source holds the paper's tables (a ``reproduce`` output)."""
        return self.kind == "reproduce"


def figures_folder(source: FigureSource) -> Path:
    """Where a notebook saves its figures: ``figures/`` in the reproduce output or run folder; for a preset
    (installed read-only) ``$CELLREPRO_FIGURES/<preset>`` or ``figures/<preset>`` in the working folder."""
    if source.kind == "preset":
        folder = Path(os.environ.get("CELLREPRO_FIGURES", "figures")) / source.name
    else:
        folder = source.path / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def first_test_image(paper: str, pred):
    """The first test image of the data a run (or preset) was trained on, with its annotations."""
    from common.contract import get

    return get(paper).load_split(pred.config.data, "test", pred.config.seed)[0]


def figure_source(text, table, paper: str) -> FigureSource:
    """Resolves a notebook's source: a folder holding ``table`` (a file name, or a tuple of which any one
    will do: a ``reproduce`` output), a run folder of ``paper`` (``config.json``), or the name of one of
    ``paper``'s presets; otherwise one clear error."""
    text = os.fspath(text)
    path = Path(text)
    tables = (table,) if isinstance(table, str) else tuple(table)
    if any((path / t).is_file() for t in tables):
        return FigureSource("reproduce", path, text)
    if (path / "config.json").is_file():
        try:
            owner = json.loads((path / "config.json").read_text(encoding="utf-8")).get("paper")
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"{path / 'config.json'} is damaged ({exc})") from exc
        if owner not in (None, paper):
            raise ValueError(f"{text} is a run of {owner}, not {paper}: open notebooks/{owner}_figures.ipynb")
        return FigureSource("run", path, text)
    from common.presets import presets

    found = presets().get(text)
    if found is not None:
        if found.paper != paper:
            raise ValueError(f"preset {text} is {found.paper}'s, not {paper}'s")
        return FigureSource("preset", Path(found.folder), text)
    raise FileNotFoundError(f"{text}: not a `{paper} reproduce` output (no {' / '.join(tables)}), a run folder (no "
                            "config.json) "
                            f"or a preset of {paper}; run `python -m {paper} reproduce --quick` first, or name a run "
                            "folder or preset")


def draw_cells(ax, image, points, classes=None, own_names=None, names=None, size: float = 14):
    """One panel: ``image`` with each cell as a ring, in its class's colour (``common.io.default_colours`` of
    ``names``, the colours of the overlays and GeoJSON) where ``classes`` index ``own_names`` and the name is
    one of ``names``, yellow for an unclassified cell (or a class not in ``names``), lime when nothing has a
    class ("cell (no class)"). Each ring colour is labelled, so ``ax.get_legend_handles_labels()`` gives the
    legend."""
    import numpy as np

    from common.io import default_colours

    ax.imshow(image)
    ax.set_axis_off()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    names, own = list(names or []), list(own_names or [])
    ring = dict(s=size, facecolors="none", linewidths=0.8)
    if classes is None or not own or not names:
        ax.scatter(pts[:, 0], pts[:, 1], edgecolors="lime", label="cell (no class)", **ring)
        return
    idx = np.array([names.index(own[c]) if c >= 0 and own[c] in names else -1 for c in classes], dtype=int)
    for k, (name, rgb) in enumerate(default_colours(names).items()):
        if (idx == k).any():
            ax.scatter(pts[idx == k, 0], pts[idx == k, 1], edgecolors=np.array(rgb) / 255, label=name, **ring)
    if (idx < 0).any():
        ax.scatter(pts[idx < 0, 0], pts[idx < 0, 1], edgecolors="yellow", label="unclassified", **ring)


def detections_figure(pred, sample, title: str = "", ax_size: float = 4.6):
    """Two panels: the annotated cells and the model's detections on ``sample`` (coloured by class where
    both have classes; the detections' count and the matched F1 at the run's radius in the title).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from common.matching import detection_scores

    det = pred.predict(sample.image)
    radius = float(getattr(pred.config, "match_radius", 6.0))
    f1 = detection_scores([det.points], [sample.points], radius=radius).f1
    names = list(sample.class_names or [])
    fig, axes = plt.subplots(1, 2, figsize=(2 * ax_size, ax_size + 0.4))
    draw_cells(axes[0], sample.image, sample.points, sample.classes, names, names)
    axes[0].set_title(f"annotated: {len(sample.points)} cells", fontsize=9)
    draw_cells(axes[1], sample.image, det.points, det.classes, det.class_names, names)
    axes[1].set_title(f"detected: {len(det.points)} cells (F1 {f1:.2f} at {radius:g} px)", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle(title or f"{sample.name}", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig
