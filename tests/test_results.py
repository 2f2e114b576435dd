"""The recorded tables in ``results/`` keep what the README says of them (issue 25)."""

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EDGE_COLUMNS = ("on edge", "on edge (ours)", "count on edge")


def test_no_recorded_tuned_value_lies_on_an_edge_of_its_search():
    flagged, checked = [], 0
    for path in sorted((ROOT / "results").rglob("*.csv")):
        df = pd.read_csv(path)
        for col in (c for c in df.columns if c in EDGE_COLUMNS):
            checked += 1
            for i, v in df[col].fillna("-").astype(str).items():
                if v.strip() != "-":
                    flagged.append(f"{path.relative_to(ROOT)}: row {i}, {col} = {v}")
    assert checked >= 10, "the tables that record where each tuned value lies were not found"
    assert not flagged, "a recorded row's tuned value lies on an edge of its search (widen it and re-record):\n" + \
        "\n".join(flagged)


FAKE_TRAIN = """
import json, os, sys
args = sys.argv[1:]
out, epochs, split = args[args.index("--out") + 1], int(args[args.index("--epochs") + 1]), "--split" in args
os.makedirs(out, exist_ok=True)
for sub, best in ((("detection", epochs - 1), ("classification", epochs)) if split else (("", epochs),)):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, sub, "state.json"), "w") as f:
        json.dump({"epoch": epochs, "best_epoch": best, "stopped": False}, f)
with open(os.path.join(out, "postprocess.json"), "w") as f:
    json.dump({"method": "peak", "params": {"peak": {"F1": epochs / 100}}}, f)
"""


def _curve(tmp_path, out, *extra):
    import subprocess
    import sys

    fake = tmp_path / "fake_train.py"
    fake.write_text(FAKE_TRAIN)
    cmd = [sys.executable, str(ROOT / "results" / "presets" / "curve.py"), str(out), "--epochs", "10", "20",
           "--flag", "--epochs {}", "--", sys.executable, str(fake), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return pd.read_csv(out / "curve.csv")


def test_preset_curve_records_each_budget_and_resumes(tmp_path):
    curve = _curve(tmp_path, tmp_path / "run")
    assert list(curve["epochs"]) == [10, 20] and list(curve["val F1 peak"]) == [0.1, 0.2]
    assert list(curve["trained epochs"]) == [10, 20] and list(curve["best epoch"]) == [10, 20]
    assert (curve["run cpu s"] >= curve["call cpu s"]).all()
    (tmp_path / "run" / "postprocess.json").unlink()   # a rerun skips the recorded budgets: nothing is trained
    assert _curve(tmp_path, tmp_path / "run").equals(curve)


def test_preset_curve_reads_a_pipeline_of_one_network_per_task(tmp_path):
    """S-DRDIN's DRDIN row keeps a state.json per task network, none at the top."""
    curve = _curve(tmp_path, tmp_path / "drdin", "--split")
    assert list(curve["trained epochs"]) == [10, 20]
    assert list(curve["best epoch"]) == ["classification 10 / detection 9",
                                          "classification 20 / detection 19"]
