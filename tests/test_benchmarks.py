"""The benchmark scripts run end to end (smoke size) and write their tables; speed itself is not asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, expected", [
    ("bench_common.py", ("Lucy-Richardson", "matching r=6", "same TP")),
    ("bench_awarenet.py", ("images/s", "MP/s", "train step")),
    ("bench_mapde.py", ("network (tiled)", "post: Proposed (deconv)", "total")),
    ("bench_sdrdin.py", ("S-DRDIN", "DRDIN pair (detection + classification)", "images/s", "MP/s")),
    ("bench_yolo.py", ("scratch (all modules)", "transfer stage 3 (darknet frozen)", "images/s", "NMS")),
    ("bench_pointnet.py", ("ours (Baseline+PFA+IC)", "UNet density", "512 px tiles", "density / ours")),
])
def test_benchmark_quick(tmp_path, script, expected):
    out = tmp_path / "bench"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--repeats", "1",
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "bench.md").read_text()
    assert all(s in text for s in expected)
