"""The README's figures script (``docs/make_figures.py``): every installed preset is drawn, on its own data."""

import pytest

from tests.conftest import script_module


def _module():
    return script_module("docs/make_figures.py")


def test_headline_is_the_number_chosen_on_validation():
    head = _module()._headline
    table = [{"method": "feat", "radius": 8.0, "F1": 0.6},
             {"method": "peak (chosen on val)", "radius": 6.0, "F1": 0.7},
             {"method": "peak (chosen on val)", "radius": 8.0, "F1": 0.79}]
    assert head({"metrics": {"table": table}}) == " (test F1 0.79 @ 8 px)"
    assert head({"metrics": {"table": [{"method": "default", "radius": 8.0, "mAP@0.5": 0.884}]}}) == \
        " (test mAP@0.5 0.88)"
    assert head({}) == ""


def test_detections_figure_draws_every_installed_preset(data_root, crchisto_root, tmp_path, monkeypatch):
    from common.presets import presets

    monkeypatch.setenv("CELLREPRO_DATA", data_root)
    installed = sorted(presets())
    if not installed:
        pytest.skip("no preset installed")
    path = tmp_path / "detections.png"
    assert _module().detections_figure(str(path), "img2") == installed
    assert path.stat().st_size > 10_000
