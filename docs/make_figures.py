"""Regenerates the README's figures (small PNGs in ``docs/figures/``) from the shipped presets and the
recorded results.

* ``detections.png``: one CRCHisto test image (research use only) with its annotated cells and the
  detections of every installed preset at its calibrated threshold, one panel each, with the test F1 at
  8 px the preset's manifest records. Presets added later appear when the script is run again.
* ``presets.png``: each preset's recorded validation curve (``results/presets/<name>_curve.csv``: validation
  F1 of its method against the run's CPU hours), where one was recorded.

Usage:
    python docs/make_figures.py [--image NAME] [--out docs/figures]
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

#: The CRCHisto test image shown: the first of the sfcn-opi test list (a rule, not a pick by result).
DEFAULT_IMAGE = "img2"


def detections_figure(path: str, image_name: str) -> list[str]:
    """The detections panel figure; returns the presets drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from common.contract import papers
    from common.datasets import load
    from common.logs import quiet_tensorflow
    from common.notebook import draw_cells
    from common.presets import presets

    test = {s.name: s for s in load("crchisto", "test")}
    if image_name not in test:
        raise SystemExit(f"--image {image_name}: not a CRCHisto test image (e.g. {sorted(test)[:3]})")
    sample = test[image_name]
    found = sorted(presets().items())
    quiet_tensorflow()
    registry = papers()
    panels = [("annotated cells", sample.points, sample.classes, sample.class_names)]
    for name, pr in found:
        det = registry[pr.paper].load(name).predict(sample.image)
        f1 = next((r["F1"] for r in (pr.manifest.get("metrics") or {}).get("table", [])
                   if r.get("radius") == 8.0 and "chosen on val" in str(r.get("method", ""))), None)
        panels.append((f"{name}" + (f" (test F1 {f1:.2f} @ 8 px)" if f1 is not None else ""), det.points,
                       det.classes, det.class_names))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), dpi=90)
    for ax, (title, pts, cls, names) in zip(np.atleast_1d(axes), panels):
        draw_cells(ax, sample.image, pts, cls, names, sample.class_names, size=9)
        ax.set_title(title, fontsize=8)
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.suptitle(f"CRCHistoPhenotypes test image {image_name} (500 px at 0.5 um/px; research use only)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path)
    plt.close(fig)
    return [name for name, _ in found]


def curves_figure(path: str) -> list[str]:
    """Validation F1 (of the preset's method) against the run's CPU hours, for every installed preset with
    a recorded curve; returns the presets drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from common.presets import presets

    drawn = []
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=90)
    for name, pr in sorted(presets().items()):
        csv = os.path.join(ROOT, "results", "presets", f"{name}_curve.csv")
        column = f"val F1 {pr.manifest.get('method')}"
        if not os.path.isfile(csv):
            continue
        df = pd.read_csv(csv)
        if column not in df.columns:
            continue
        ax.plot(df["run cpu s"] / 3600, df[column], marker="o", label=f"{name} ({pr.manifest.get('method')})")
        drawn.append(name)
    ax.set_xlabel("CPU hours of the run (2-core machine)")
    ax.set_ylabel("validation F1 at 8 px")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return drawn


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=DEFAULT_IMAGE, help="CRCHisto test image shown")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "figures"))
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    shown = detections_figure(os.path.join(a.out, "detections.png"), a.image)
    print(f"detections.png: annotated cells and {', '.join(shown) or 'no presets'}")
    curves = curves_figure(os.path.join(a.out, "presets.png"))
    print(f"presets.png: {', '.join(curves) or 'no recorded curves'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
