"""The benchmark script runs end to end (smoke size) and writes its table; speed itself is not asserted."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_common_quick(tmp_path):
    out = tmp_path / "bench"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_common.py"), "--quick", "--repeats", "1",
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "bench.md").read_text()
    assert "Lucy-Richardson" in text and "matching r=6" in text and "same TP" in text


def test_bench_awarenet_quick(tmp_path):
    out = tmp_path / "bench"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_awarenet.py"), "--quick", "--repeats", "1",
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "bench.md").read_text()
    assert "images/s" in text and "MP/s" in text and "train step" in text
