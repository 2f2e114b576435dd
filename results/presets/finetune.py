"""Fine-tuning from a preset against training from scratch, same budget (issue 26).

Data: the DeepLIIF Ki67 IHC sample (``--data deepliif``: Ki67 DAB + haematoxylin, a stain the
CRCHisto presets never saw; train Bladder1, Lung1, 22_2 / val 34_3 / test 6_2, 799_2, points are the
reference masks' nucleus centres; Apache 2.0 + Commons Clause). Two arms, the same architecture, data,
epochs and calibration:

* ``scratch``: ``mapde train --quick --set width=0.125`` (row Proposed) (the preset's architecture and
  training config: ``MapDeConfig.quick()`` at width 0.125) from random weights;
* ``preset``: ``mapde train --from mapde-crchisto`` (the preset's config, its weights as the start).

Each arm trains ``--epochs`` (fixed before any test number was seen: the quick preset's 30) at seeds
1, 2, 3, calibrates on the validation tile, and is scored on the two test tiles at 6 and 8 px with
``mapde evaluate``. The preset used as is (no training on DeepLIIF, its CRCHisto calibration) is the third
row. Writes ``finetune_runs.csv`` (one row per arm, seed, radius) and ``finetune.{md,csv}`` (mean and std
over the seeds) beside this script. Resumable: finished runs are scored again, not retrained.

    python results/presets/finetune.py [--out runs/finetune] [--epochs 30] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

RADII = ("6", "8")


def cellrepro(*argv) -> None:
    """``cellrepro ARGV`` in a child process; its output goes to ours."""
    cmd = [sys.executable, "-m", "common.cli", *argv]
    print("$ cellrepro " + " ".join(argv), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def scored(model: str, out: str, what: dict) -> list:
    import pandas as pd

    if not os.path.isfile(os.path.join(out, "metrics.csv")):
        cellrepro("mapde", "evaluate", "--model", model, "--data", "deepliif", "--split", "test",
                  "--radius", *RADII, "--out", out, "--verbose", "0")
    df = pd.read_csv(os.path.join(out, "metrics.csv"))
    return [{**what, **{k: r[k] for k in ("radius", "Precision", "Recall", "F1", "TP", "FP", "FN")}}
            for _, r in df.iterrows()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/finetune")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--preset", default="mapde-crchisto")
    a = p.parse_args(argv)
    import pandas as pd

    from common.reporting import hardware_summary, write_table

    t0, rows = time.time(), []
    out = os.path.abspath(a.out)
    rows += scored(a.preset, os.path.join(out, "preset_as_is"), {"arm": f"{a.preset} as is (no training)",
                                                                "seed": "-", "train s": 0.0})
    for seed in a.seeds:
        for arm in ("scratch", "preset"):
            run = os.path.join(out, f"{arm}_seed{seed}")
            common = ["--data", "deepliif", "--epochs", str(a.epochs), "--seed", str(seed), "--radius", "8",
                      "--out", run, "--verbose", "1"]
            t = time.time()
            if not os.path.isfile(os.path.join(run, "postprocess.json")):
                if arm == "scratch":
                    cellrepro("mapde", "train", "--quick", "--set", "width=0.125", *common)
                else:
                    cellrepro("mapde", "train", "--from", a.preset, *common)
            label = "from scratch" if arm == "scratch" else f"from {a.preset}"
            rows += scored(run, os.path.join(out, f"eval_{arm}_seed{seed}"),
                           {"arm": label, "seed": seed, "train s": round(time.time() - t, 1)})
    runs = pd.DataFrame(rows)
    here = os.path.dirname(os.path.abspath(__file__))
    runs.to_csv(os.path.join(here, "finetune_runs.csv"), index=False)
    agg = runs.groupby(["arm", "radius"], sort=False).agg(
        seeds=("F1", "size"), P_mean=("Precision", "mean"), R_mean=("Recall", "mean"),
        F1_mean=("F1", "mean"), F1_std=("F1", "std")).reset_index()
    agg.columns = ["arm", "radius", "runs", "Precision (mean)", "Recall (mean)", "F1 (mean)", "F1 (std)"]
    meta = {"data": "DeepLIIF Ki67 IHC sample (research / non-commercial: Apache 2.0 + Commons Clause): "
                    "train 3 tiles / val 1 / test 2 tiles of 512 px, mask-component centres",
            "arms": f"MapDeConfig.quick() at width 0.125 (the preset's architecture), {a.epochs} epochs each, "
                    f"seeds {', '.join(map(str, a.seeds))}; scratch = random weights, preset = train --from "
                    f"{a.preset} (trained on CRCHisto H&E, research use only); calibrated on the validation tile",
            "budget": f"{a.epochs} epochs, fixed before any test number was seen (the quick preset's epochs)",
            "noise": "std over the seeds; two test tiles only: read differences smaller than the std as noise",
            "command": "python results/presets/finetune.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "hardware": hardware_summary(), "wall time": f"{time.time() - t0:.0f} s"}
    write_table(agg.set_index("arm"), os.path.join(here, "finetune"),
                "Fine-tuning from a preset vs training from scratch (MapDe, DeepLIIF Ki67)", meta)
    print(agg.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
