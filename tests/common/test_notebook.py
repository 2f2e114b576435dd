import json

import pytest

from common.notebook import figure_source, figures_folder


def test_figure_source_tells_a_reproduce_output_a_run_and_a_preset(tmp_path, monkeypatch):
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "table1.csv").write_text("x\n")
    src = figure_source(tmp_path / "rep", "table1.csv", "mapde")
    assert src.kind == "reproduce" and src.tables and figures_folder(src) == tmp_path / "rep" / "figures"
    assert figure_source(tmp_path / "rep", ("table2.csv", "table1.csv"), "mapde").kind == "reproduce"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"paper": "mapde"}))
    src = figure_source(tmp_path / "run", "table1.csv", "mapde")
    assert src.kind == "run" and not src.tables
    with pytest.raises(ValueError, match="a run of mapde, not sdrdin: open notebooks/mapde_figures.ipynb"):
        figure_source(tmp_path / "run", "table2.csv", "sdrdin")
    src = figure_source("mapde-crchisto", "table1.csv", "mapde")
    assert src.kind == "preset" and (src.path / "preset.json").is_file()
    monkeypatch.setenv("CELLREPRO_FIGURES", str(tmp_path / "figs"))
    assert figures_folder(src) == tmp_path / "figs" / "mapde-crchisto"   # never inside the installed preset
    with pytest.raises(ValueError, match="preset mapde-crchisto is mapde's, not sdrdin's"):
        figure_source("mapde-crchisto", "table2.csv", "sdrdin")
    with pytest.raises(FileNotFoundError, match="not a `mapde reproduce` output .* or a preset of mapde"):
        figure_source(tmp_path / "nothing", "table1.csv", "mapde")
