"""Trains a preset run folder in epoch chunks and records its validation curve.

``python results/presets/curve.py OUT --epochs 10 20 40 -- python -m mapde train ...`` runs the train
command once per epoch budget into the same run folder (each call resumes the last and trains to the
new budget; the run calibrates itself on the validation split after each), and appends one row per
budget to ``OUT/curve.csv``: epochs, wall and CPU seconds of that call and of the run so far, and each
location method's validation F1 from ``postprocess.json``. Only the validation split is read, so a
budget chosen from this curve is chosen on validation. Rows already in the curve are skipped, so the
script resumes after an interruption.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from common.io import read_run_json  # noqa: E402


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _state(run: str) -> dict:
    """The run's ``state.json``; a pipeline of one network per task (S-DRDIN's DRDIN row) keeps one per
    sub-folder: then epochs are the fewest any network trained, best epochs are listed by sub-folder
    ("classification 10 / detection 9"), and the run stopped early only if every network did."""
    state = read_run_json(run, "state.json")
    if state is not None:
        return state
    parts = [(sub, p) for sub in sorted(os.listdir(run)) if os.path.isdir(os.path.join(run, sub))
             for p in [read_run_json(os.path.join(run, sub), "state.json")] if p is not None]
    if not parts:
        raise SystemExit(f"curve: {run} has no state.json, nor any in its sub-folders: did the command train it?")
    return {"epoch": min(p.get("epoch", 0) for _, p in parts),
            "best_epoch": " / ".join(f"{sub} {p.get('best_epoch')}" for sub, p in parts),
            "stopped": all(p.get("stopped") for _, p in parts)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="the run folder the command trains into (also given to the command as --out)")
    p.add_argument("--epochs", type=int, nargs="+", required=True, help="epoch budgets, increasing")
    p.add_argument("--flag", default="--set epochs={}", help="how the command is told the budget")
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    cmd = argv[cut + 1:]
    if not cmd:
        p.error("give the train command after --")
    if sorted(a.epochs) != a.epochs or len(set(a.epochs)) != len(a.epochs):
        p.error("--epochs must increase")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "curve.csv")
    rows = []
    if os.path.exists(path):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    done = {int(r["epochs"]) for r in rows}
    total_wall = float(rows[-1]["run wall s"]) if rows else 0.0
    total_cpu = float(rows[-1]["run cpu s"]) if rows else 0.0
    for e in a.epochs:
        if e in done:
            continue
        full = cmd + a.flag.format(e).split() + ["--out", a.out]
        print("+", " ".join(full), flush=True)
        t0, c0 = time.time(), _cpu_children()
        res = subprocess.run(full)
        if res.returncode:
            print(f"curve: the command failed (exit {res.returncode}) at {e} epochs", file=sys.stderr)
            return res.returncode
        wall, cpu = time.time() - t0, _cpu_children() - c0
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        pp = read_run_json(a.out, "postprocess.json")
        if pp is None:
            raise SystemExit(f"curve: {a.out} has no postprocess.json after {e} epochs: did the command calibrate it?")
        state = _state(a.out)
        row = {"epochs": e, "trained epochs": state.get("epoch"), "best epoch": state.get("best_epoch"),
               "call wall s": round(wall, 1), "call cpu s": round(cpu, 1), "run wall s": round(total_wall, 1),
               "run cpu s": round(total_cpu, 1), "default method": pp.get("method")}
        for method, params in sorted(pp.get("params", {}).items()):
            row[f"val F1 {method}"] = round(float(params.get("F1", float("nan"))), 4)
        rows.append({k: str(v) for k, v in row.items()})
        keys = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        tmp = path + ".partial"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, path)
        print(f"curve: {e} epochs -> " + ", ".join(f"{k} {v}" for k, v in row.items() if k.startswith("val F1")),
              flush=True)
        if state.get("stopped"):
            print("curve: the run stopped early (patience); later budgets would not train further", flush=True)
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
