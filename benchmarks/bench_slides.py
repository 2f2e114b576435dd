"""Whole-slide throughput, peak memory and growth with slide area, per preset (issue 27).

Generates pyramidal Aperio-style slides at 0.25 um/px (40x) with ``common.slides.write_test_slide``:
an elliptical tissue region (about half the slide) filled with CRCHisto H&E tiles, on a light slide
background, at three level-0 sizes (default 4,000, 10,000 and 20,000 px square). Each installed preset
(or ``--models PAPER:RUN_OR_PRESET``) predicts each slide through the command line in a fresh process,
``cellrepro <paper> predict SLIDE --model PRESET``: the slide is read at the model's mpp (0.5 um/px for the
CRCHisto presets, so a 20,000 px slide is 10,000 px for the model), background tiles are skipped, cells
are written in level-0 pixels. Recorded per run: wall seconds, tissue megapixels at the model's mpp per
second, the child process's peak resident memory (its ``VmHWM``, see ``benchmarks/peak.py``), tiles,
cells. The same slide content for every preset: throughput is what is compared, not the cells (a
blood-cell YOLO on H&E finds little).

Usage:
    python benchmarks/bench_slides.py [--sizes 4000 10000 20000] [--models mapde:mapde-crchisto ...]

A model may carry predict flags after a second colon, comma-separated: ``mapde:mapde-crchisto:precision=bfloat16``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

MPP0 = 0.25   # level-0 microns per pixel of the generated slides


def make_slide(path: str, side: int, seed: int = 0, data_root=None) -> str:
    """A ``side`` x ``side`` slide at 0.25 um/px: a half-resolution mosaic upsampled twice."""
    from common.datasets import load
    from common.slides import write_test_slide

    half = side // 2
    rng = np.random.default_rng(seed)
    canvas = np.clip(rng.normal(236, 3, (half, half, 3)), 0, 255).astype(np.uint8)
    images = [s.image for split in ("train", "val", "test") for s in load("crchisto", split, data_root=data_root)]
    yy, xx = np.mgrid[0:half, 0:half]
    inside = ((yy - half / 2) / (0.42 * half)) ** 2 + ((xx - half / 2) / (0.36 * half)) ** 2 <= 1.0
    k = 0
    for y in range(0, half, 500):
        for x in range(0, half, 500):
            block = inside[y:y + 500, x:x + 500]
            if not block.any():
                continue
            img = images[k % len(images)][:block.shape[0], :block.shape[1]]
            k += 1
            region = canvas[y:y + img.shape[0], x:x + img.shape[1]]
            region[block[:img.shape[0], :img.shape[1]]] = img[block[:img.shape[0], :img.shape[1]]]
    return write_test_slide(path, canvas, mpp=2 * MPP0, levels=4, upsample=2)


def run_one(paper: str, model: str, slide: str, out: str, flags=()) -> dict:
    """``cellrepro <paper> predict`` on one slide in a child process: wall time and its peak memory."""
    from peak import run_measured

    wall, peak = run_measured([paper, "predict", slide, "--model", model, "--out", out, "--verbose", "0",
                               "--overwrite", *flags], ROOT)
    stem = os.path.splitext(os.path.basename(slide))[0]
    with open(os.path.join(out, f"{stem}_summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    mpp = summary["model mpp"]
    tissue_mp = summary["tissue mm2"] * 1e6 / mpp ** 2 / 1e6
    return {"wall s": round(wall, 1), "predict s": summary["seconds"], "tiles": summary["tiles"],
            "tissue mm2": summary["tissue mm2"], "tissue MP at model mpp": round(tissue_mp, 1),
            "MP per s": round(tissue_mp / summary["seconds"], 3), "cells": summary["cells"],
            "peak RSS GB": round(peak, 2), "model mpp": mpp}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4000, 10000, 20000], help="level-0 sides in px")
    p.add_argument("--models", nargs="+", default=None, metavar="PAPER:MODEL",
                   help="runs or presets to time (default: every installed preset)")
    p.add_argument("--slides", default=None, help="folder for the generated slides (default: a temporary one)")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "benchmarks", "slides"))
    a = p.parse_args(argv)
    import pandas as pd

    from common.presets import presets
    from common.reporting import hardware_summary, write_table

    t0 = time.time()
    models = [(m.split(":") + [""])[:3] for m in a.models] if a.models else \
        [(pr.paper, name, "") for name, pr in sorted(presets().items())]
    if not models:
        raise SystemExit("no presets installed and no --models given")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.slides or tmp
        os.makedirs(folder, exist_ok=True)
        for side in a.sizes:
            slide = os.path.join(folder, f"slide_{side}.svs")
            if not os.path.isfile(slide):   # in a child process: the slide's arrays stay out of ours
                t = time.time()
                subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r}); "
                                f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
                                f"from bench_slides import make_slide; make_slide({slide!r}, {side})"], check=True)
                print(f"wrote {slide} ({os.path.getsize(slide) / 1e6:.0f} MB) in {time.time() - t:.0f} s", flush=True)
            for paper, model, extra in models:
                flags = [f"--{kv}" for kv in extra.split(",") if kv]
                row = {"model": model + (f" ({extra})" if extra else ""), "paper": paper,
                       "slide px": f"{side} x {side}", "slide MP": round(side * side / 1e6, 1),
                       **run_one(paper, model, slide, os.path.join(tmp, "out", model), flags)}
                rows.append(row)
                print(row, flush=True)
    df = pd.DataFrame(rows)
    meta = {"what": "cellrepro <paper> predict SLIDE --model MODEL in a fresh process per run; throughput = tissue "
                    "megapixels at the model's mpp per second of predict_slide (reading, tissue mask, network, "
                    "post-processing, outputs); peak resident memory of the child process (VmHWM)",
            "slides": "generated: elliptical tissue (about 45 % of the area) of CRCHisto tiles on a light background, "
                      f"{MPP0} um/px at level 0, 4 levels (tifffile, Aperio description)",
            "command": "python benchmarks/bench_slides.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "hardware": hardware_summary(), "wall time": f"{time.time() - t0:.0f} s"}
    write_table(df.set_index("model"), a.out, "Whole-slide throughput and memory", meta, floatfmt=".2f")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
