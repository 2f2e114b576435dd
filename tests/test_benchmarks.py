"""The benchmark scripts run end to end (smoke size) and write their tables; speed itself is not asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
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


def _run(args):
    res = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.mark.slow
def test_slide_benchmark_times_a_preset_on_a_generated_slide(tmp_path, crchisto_root):
    _run([ROOT / "benchmarks" / "bench_slides.py", "--sizes", "1200", "--models", "mapde:mapde-crchisto",
          "--slides", tmp_path / "slides", "--out", tmp_path / "bench"])
    text = (tmp_path / "bench.md").read_text()
    assert "1200 x 1200" in text and "mapde-crchisto" in text and "peak RSS GB" in text


@pytest.mark.slow
def test_memory_benchmark_measures_a_paper_and_its_floor(tmp_path, crchisto_root):
    _run([ROOT / "benchmarks" / "bench_memory.py", "--size", "600", "--papers", "mapde", "--out", tmp_path / "bench"])
    import pandas as pd

    df = pd.read_csv(tmp_path / "bench.csv")
    assert list(df["paper"]) == ["mapde"] and (df["peak RSS GB"] >= df["floor GB (256 px)"]).all()
    assert (df["floor GB (256 px)"] > 0.1).all()     # a real high-water mark, not the launcher's


@pytest.mark.slow
def test_calibration_benchmark_times_the_search(tmp_path, bccd_root):
    _run([ROOT / "benchmarks" / "bench_calibration.py", "--images", "2", "--out", tmp_path / "bench"])
    assert "calibrate s" in (tmp_path / "bench.md").read_text()
