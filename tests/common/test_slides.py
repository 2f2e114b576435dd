"""Whole slides made by the tests (pyramidal Aperio-style TIFFs written with tifffile), so every cell's
position is known: reading at an mpp, tissue masking, tiled == whole, resume, cohorts on dask."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from common.datasets import load
from common.slides import is_slide, open_slide, predict_slide, tissue_mask, write_test_slide

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def he():
    """A synthetic H&E field (0.5 um/px) with its cells, framed by glass."""
    s = load("synthetic:he", "test", n_images=1, size=512, seed=11)[0]
    big = np.full((900, 1100, 3), 242, np.uint8)
    big[150:662, 300:812] = s.image
    return big, s.points + [300, 150]


@pytest.fixture(scope="module")
def slide_025(he, tmp_path_factory):
    """The field as a 0.25 um/px slide: level 0 twice the size (pixels repeated), levels halving it."""
    path = tmp_path_factory.mktemp("slides") / "he_025.svs"
    return write_test_slide(path, he[0], mpp=0.5, upsample=2, levels=3, tile=128)


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    from common import contract
    from common.cli import main
    from paper_template.paper import PAPER

    contract.register(PAPER)
    run = tmp_path_factory.mktemp("tmpl") / "run"
    assert main(["paper_template", "train", "--data", "synthetic:images=4:size=256", "--quick", "--set", "epochs=2",
                 "--out", str(run), "--verbose", "0"]) == 0
    return PAPER.load(run)


def test_a_pyramidal_slide_reads_its_levels_and_mpp(slide_025, he):
    assert is_slide(slide_025)
    with open_slide(slide_025) as s:
        assert s.mpp == pytest.approx(0.25) and s.mpp_source == "slide metadata"
        assert [lv.downsample for lv in s.levels] == [1.0, 2.0, 4.0]
        assert s.dimensions == (2200, 1800) and s.size_at(0.5) == (1100, 900)
        assert s.best_level(0.5) == 1 and s.best_level(0.3) == 0 and s.best_level(4.0) == 2
        half = s.read(0, 0, 1100, 900, 0.5)                   # the 0.5 um/px image, read from level 1
        np.testing.assert_array_equal(half, he[0])
        part = s.read(300, 150, 64, 48, 0.5)
        np.testing.assert_array_equal(part, he[0][150:198, 300:364])
        outside = s.read(-10, -10, 20, 20, 0.5)                # beyond the slide is glass-white
        assert (outside[:10, :10] == 255).all()


def test_reading_at_a_coarser_mpp_resamples_from_level_zero(tmp_path, he):
    only0 = write_test_slide(tmp_path / "one_level.svs", he[0], mpp=0.5, upsample=2, levels=1)
    with open_slide(only0) as s:
        assert len(s.levels) == 1
        np.testing.assert_array_equal(s.read(0, 0, 1100, 900, 0.5), he[0])   # 2 x 2 blocks of one pixel
        assert s.read(0, 0, 550, 450, 1.0).shape == (450, 550, 3)


def test_mpp_fallbacks_and_the_missing_mpp_error(tmp_path, he):
    import tifffile

    obj = tmp_path / "objective.svs"
    tifffile.imwrite(obj, he[0], tile=(128, 128), photometric="rgb", compression="zlib", metadata=None,
                     description="Aperio Image Library v12.0.0\n1100x900 [0,0 1100x900] (128x128) RAW/RGB|AppMag = 20")
    with pytest.warns(UserWarning, match="20x taken as 0.5 um/px"):
        assert open_slide(obj).mpp == pytest.approx(0.5)
    assert open_slide(obj, mpp=0.3).mpp_source == "given"
    bare = tmp_path / "bare.svs"
    tifffile.imwrite(bare, he[0], tile=(128, 128), photometric="rgb", compression="zlib",
                     description="Aperio Image Library v12.0.0\n1100x900", metadata=None)
    with pytest.raises(ValueError, match="pass --mpp"):
        open_slide(bare)
    from common.io import write_image

    write_image(tmp_path / "plain.png", he[0])
    with pytest.raises(ValueError, match="pass --mpp"):
        open_slide(tmp_path / "plain.png")
    assert open_slide(tmp_path / "plain.png", mpp=0.5).size_at(0.25) == (2200, 1800)
    tagged = tmp_path / "tagged.tif"
    tifffile.imwrite(tagged, he[0], photometric="rgb", resolution=(20000, 20000), resolutionunit="CENTIMETER")
    assert open_slide(tagged).mpp == pytest.approx(0.5)
    broken = tmp_path / "broken.svs"
    broken.write_bytes((tmp_path / "objective.svs").read_bytes()[:3000])
    with pytest.raises(ValueError, match="not a readable slide"):
        open_slide(broken)


def test_the_tissue_mask_finds_the_field_and_skips_the_glass(slide_025):
    with open_slide(slide_025) as s:
        mask = tissue_mask(s, mpp=8.0)
    # the field is 512 x 512 px at 0.5 um/px = 256 um: 32 x 32 mask pixels at 8 um/px, inside 69 x 56
    assert mask.shape == (56, 69)
    assert 0.8 * 32 * 32 <= mask.sum() <= 1.3 * 32 * 32
    assert not mask[:8].any() and not mask[:, :17].any()


def test_a_slide_in_tiles_finds_the_cells_of_the_whole_region(template_run, slide_025, tmp_path, he):
    """Tiles of 256 px with the network's context: the same cells as the image predicted whole (away from
    the image's own border, where the whole image has no context and the slide has glass)."""
    summary = predict_slide(template_run, slide_025, tmp_path, model_mpp=0.5, tissue=False, tile=256)
    assert summary["status"] == "done" and summary["tiles"] == 20
    cells = pd.read_csv(tmp_path / "he_025_cells.csv")
    tiled = cells[["x", "y"]].to_numpy() / 2                     # level 0 (0.25 um/px) -> the model's 0.5
    whole = template_run.predict(he[0]).points
    inner = (whole[:, 0] > 40) & (whole[:, 0] < 1060) & (whole[:, 1] > 40) & (whole[:, 1] < 860)
    inner_t = (tiled[:, 0] > 40) & (tiled[:, 0] < 1060) & (tiled[:, 1] > 40) & (tiled[:, 1] < 860)
    a, b = whole[inner], tiled[inner_t]
    assert len(a) == len(b) > 50
    np.testing.assert_allclose(a[np.lexsort(a.T)], b[np.lexsort(b.T)], atol=1e-6)
    gj = json.loads((tmp_path / "he_025.geojson").read_text())
    assert len(gj["features"]) == len(cells) and gj["features"][0]["geometry"]["type"] == "Point"
    assert (tmp_path / "he_025_overlay.jpg").stat().st_size > 1000


def test_masked_tiles_are_skipped_and_densities_are_per_tissue_area(template_run, slide_025, tmp_path):
    masked = predict_slide(template_run, slide_025, tmp_path, model_mpp=0.5, tile=256)
    assert masked["tiles"] < 20
    counts = pd.read_csv(tmp_path / "he_025_counts.csv").iloc[0]
    assert 0.05 < counts["tissue mm2"] < 0.1                     # 256 x 256 um = 0.0655 mm2
    assert counts["cells per mm2"] == pytest.approx(counts["cells"] / counts["tissue mm2"], rel=1e-3)
    again = predict_slide(template_run, slide_025, tmp_path, model_mpp=0.5, tile=256)
    assert again["status"].startswith("skipped")                  # a finished slide is not redone


def test_a_killed_slide_job_resumes_to_the_same_cells(template_run, slide_025, tmp_path, monkeypatch):
    import common.slides as slides

    whole = predict_slide(template_run, slide_025, tmp_path / "a", model_mpp=0.5, tissue=False, tile=256, block=3)
    calls = {"n": 0}
    real = slides._predict_tiles

    def dies_in_block_three(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(slides, "_predict_tiles", dies_in_block_three)
    with pytest.raises(KeyboardInterrupt):
        predict_slide(template_run, slide_025, tmp_path / "b", model_mpp=0.5, tissue=False, tile=256, block=3)
    state = json.loads((tmp_path / "b" / "he_025.partial" / "state.json").read_text())
    assert state["blocks"] == 2 and not (tmp_path / "b" / "he_025_summary.json").exists()
    with pytest.raises(ValueError, match="interrupted job of other settings"):
        predict_slide(template_run, slide_025, tmp_path / "b", model_mpp=0.5, tissue=False, tile=320, block=3)
    monkeypatch.setattr(slides, "_predict_tiles", real)
    resumed = predict_slide(template_run, slide_025, tmp_path / "b", model_mpp=0.5, tissue=False, tile=256, block=3)
    assert resumed["cells"] == whole["cells"]
    a = pd.read_csv(tmp_path / "a" / "he_025_cells.csv")
    b = pd.read_csv(tmp_path / "b" / "he_025_cells.csv")
    pd.testing.assert_frame_equal(a, b)
    assert not (tmp_path / "b" / "he_025.partial").exists()


def _awarenet_run(tmp_path):
    from common.cli import main

    run = tmp_path / "aw"
    assert main(["awarenet", "train", "--data", "synthetic:images=4:size=128", "--quick", "--set", "input_size=64",
                 "--epochs", "1", "--out", str(run), "--verbose", "0"]) == 0
    return run


COHORT = """
import sys
from common.cli import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_cohort_on_a_local_cluster_equals_the_sequential_run_and_survives_a_broken_slide(tmp_path, he):
    run = _awarenet_run(tmp_path)
    s1 = write_test_slide(tmp_path / "s1.svs", he[0], mpp=0.5, upsample=2)
    s2 = write_test_slide(tmp_path / "s2.svs", he[0][:, ::-1], mpp=0.5, upsample=2)
    broken = tmp_path / "broken.svs"
    broken.write_bytes(open(s1, "rb").read()[:5000])
    script = tmp_path / "cohort.py"
    script.write_text(COHORT)
    from common.cli import main

    assert main(["awarenet", "predict", s1, s2, "--model", str(run), "--out", str(tmp_path / "seq"),
                 "--verbose", "0"]) == 0   # the sequential run, in this process
    par = subprocess.run([sys.executable, str(script), "awarenet", "predict", s1, s2, str(broken), "--model", str(run),
                          "--out", str(tmp_path / "par"), "--workers", "2", "--verbose", "0"], capture_output=True,
                         text=True, cwd=ROOT)
    assert par.returncode == 2 and "1 of 3 slide(s) failed" in par.stderr, par.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "par" / "slides.csv").set_index("slide")
    assert summary.loc["broken.svs", "status"] == "failed" and "not a readable slide" in summary.loc["broken.svs",
                                                                                                   "error"]
    for name in ("s1", "s2"):
        assert summary.loc[f"{name}.svs", "status"] == "done"
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "seq" / f"{name}_cells.csv"),
                                      pd.read_csv(tmp_path / "par" / f"{name}_cells.csv"))


@pytest.mark.slow
def test_a_cohort_runs_on_a_scheduler_address(tmp_path, he):
    run = _awarenet_run(tmp_path)
    s1 = write_test_slide(tmp_path / "s1.svs", he[0], mpp=0.5, upsample=2)
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(info)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)]
    try:
        import time

        for _ in range(120):
            if info.exists() and info.read_text().strip():
                break
            time.sleep(0.5)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--nworkers", "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, cwd=ROOT))
        res = subprocess.run([sys.executable, "-m", "common.cli", "awarenet", "predict", s1, "--model", str(run),
                              "--out", str(tmp_path / "out"), "--scheduler", address, "--verbose", "0"],
                             capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        summary = pd.read_csv(tmp_path / "out" / "slides.csv")
        assert list(summary["status"]) == ["done"] and summary["cells"].iloc[0] > 0
    finally:
        for p in procs[::-1]:
            p.terminate()
            p.wait(timeout=30)


def test_slide_inputs_are_checked_before_tensorflow(tmp_path, slide_025):
    """--workers without slides, a missing mask, both mask flags: one line, exit 2, no TensorFlow, no folder."""
    from awarenet.config import AwareNetConfig

    run = tmp_path / "run"
    run.mkdir()
    AwareNetConfig.quick().save(run)
    code = ("import sys\nfrom common.cli import main\n"
            "args = sys.argv[1:]\nrc = main(['awarenet', 'predict', *args])\n"
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow'\nsys.exit(rc)\n")
    cases = [[slide_025, "--model", str(run), "--out", str(tmp_path / "o"), "--tissue-mask", str(tmp_path / "no.png")],
             [slide_025, "--model", str(run), "--out", str(tmp_path / "o"), "--workers", "0"]]
    with warnings.catch_warnings():
        for argv in cases:
            res = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT)
            assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "o").exists()
