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

__all__ = ["FigureSource", "detections_figure", "figure_source", "figures_folder", "first_test_image"]


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


def detections_figure(pred, sample, title: str = "", ax_size: float = 4.6):
    """Two panels: the annotated cells and the model's detections on ``sample`` (coloured by class where
    both have classes; the detections' count and the matched F1 at the run's radius in the title).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from common.matching import detection_scores

    det = pred.predict(sample.image)
    radius = float(getattr(pred.config, "match_radius", 6.0))
    f1 = detection_scores([det.points], [sample.points], radius=radius).f1
    names = list(sample.class_names or [])
    colours = plt.cm.tab10(np.arange(max(len(names), 1)) % 10)
    fig, axes = plt.subplots(1, 2, figsize=(2 * ax_size, ax_size + 0.4))
    panels = [(f"annotated: {len(sample.points)} cells", sample.points, sample.classes, names),
              (f"detected: {len(det.points)} cells (F1 {f1:.2f} at {radius:g} px)", det.points, det.classes,
               list(det.class_names or []))]
    for ax, (text, pts, cls, own) in zip(axes, panels):
        ax.imshow(sample.image)
        if cls is not None and own and len(pts):
            idx = np.array([names.index(own[c]) if c >= 0 and own[c] in names else -1 for c in cls])
            ok = idx >= 0
            ax.scatter(pts[ok, 0], pts[ok, 1], s=14, c=colours[idx[ok]], edgecolors="white", linewidths=0.4)
            ax.scatter(pts[~ok, 0], pts[~ok, 1], s=14, facecolors="none", edgecolors="yellow", linewidths=0.8)
        elif len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=14, facecolors="none", edgecolors="lime", linewidths=0.8)
        ax.set_title(text, fontsize=9)
        ax.set_axis_off()
    if names and sample.classes is not None and (sample.classes >= 0).any():
        handles = [plt.Line2D([], [], ls="", marker="o", color=colours[k], label=n) for k, n in enumerate(names)]
        fig.legend(handles=handles, loc="lower center", ncol=len(names), fontsize=8)
    fig.suptitle(title or f"{sample.name}", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig
