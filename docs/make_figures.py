"""Regenerates the README's figures (small PNGs in ``docs/figures/``) from the shipped presets and the
recorded results.

* ``detections.png``: one CRCHisto test image (research use only) with its annotated cells and the
  detections of every CRCHisto preset at its calibrated threshold, one panel each, with the test F1 at
  8 px the preset's manifest records; a BCCD preset gets a second row on a BCCD test image. Presets
  added later appear when the script is run again.
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


#: The data sets a preset may be trained on, each with the test image shown: the first of its test list.
DATA_TITLES = {"crchisto": "CRCHistoPhenotypes test image {name} (500 px at 0.5 um/px; research use only)",
               "bccd": "BCCD test image {name} (blood smear; boxes drawn as their centres)"}


def _headline(manifest) -> str:
    """The preset's test number its manifest records: F1 at 8 px of the method chosen on validation, or
    mAP@0.5 for a box detector."""
    rows = (manifest.get("metrics") or {}).get("table", [])
    chosen = [r for r in rows if "chosen on val" in str(r.get("method", ""))] or rows[:1]
    for r in chosen:
        if r.get("mAP@0.5") is not None:
            return f" (test mAP@0.5 {r['mAP@0.5']:.2f})"
        if r.get("radius") == 8.0 and r.get("F1") is not None:
            return f" (test F1 {r['F1']:.2f} @ 8 px)"
    return ""


def detections_figure(path: str, image_name: str) -> list[str]:
    """The detections panel figure: one row per data set the installed presets were trained on (its first
    test image, ``image_name`` for CRCHisto), the annotated cells and then each preset's detections;
    returns the presets drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from common.contract import papers
    from common.datasets import load
    from common.logs import quiet_tensorflow
    from common.notebook import draw_cells
    from common.presets import presets

    found = sorted(presets().items())
    by_data = {}
    for name, pr in found:
        data = (pr.manifest.get("training") or {}).get("data", "crchisto")
        by_data.setdefault(data if data in DATA_TITLES else "crchisto", []).append((name, pr))
    by_data.setdefault("crchisto", [])
    quiet_tensorflow()
    registry = papers()
    rows = []
    for data in [d for d in DATA_TITLES if d in by_data]:
        test = {s.name: s for s in load(data, "test")}
        if data == "crchisto" and image_name not in test:
            raise SystemExit(f"--image {image_name}: not a CRCHisto test image (e.g. {sorted(test)[:3]})")
        sample = test[image_name] if data == "crchisto" else next(iter(test.values()))
        panels = [("annotated cells", sample.points, sample.classes, sample.class_names)]
        for name, pr in by_data[data]:
            det = registry[pr.paper].load(name).predict(sample.image)
            panels.append((name + _headline(pr.manifest), det.points, det.classes, det.class_names))
        rows.append((DATA_TITLES[data].format(name=sample.name), sample, panels))
    ncol = max(len(panels) for _, _, panels in rows)
    fig = plt.figure(figsize=(3.2 * ncol, 4.0 * len(rows)), dpi=90, layout="constrained")
    for sub, (title, sample, panels) in zip(np.atleast_1d(fig.subfigures(len(rows), 1)), rows):
        axes = np.atleast_1d(sub.subplots(1, ncol))
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        for ax, (label, pts, cls, names) in zip(axes, panels):
            draw_cells(ax, sample.image, pts, cls, names, sample.class_names, size=9)
            ax.set_title(label, fontsize=8)
        legend = {}
        for ax in axes[:len(panels)]:   # every colour drawn in the row, once
            for h, lab in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(lab, h)
        labels, handles = list(legend), list(legend.values())
        if handles:
            sub.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=7, frameon=False)
        sub.suptitle(title, fontsize=9)
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
    ax.set_ylabel("validation F1 (cells at 8 px; YOLO: boxes at IoU 0.5)", fontsize=8)
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
