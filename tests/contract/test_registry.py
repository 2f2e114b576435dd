"""The registry: papers come from the ``cellrepro.papers`` entry points (and run-time registration),
each states its facts once, and a name that is not a paper names the closest."""

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from common import contract
from common.cli import main as cellrepro

pytestmark = pytest.mark.contract

FIVE = ["awarenet", "mapde", "pointnet_cells", "sdrdin", "yolo_transfer"]


def test_the_five_papers_are_the_entry_points():
    assert sorted(ep.name for ep in entry_points(group=contract.ENTRY_POINT_GROUP)) == FIVE
    for name in FIVE:
        paper = contract.get(name)
        assert isinstance(paper, contract.Paper) and paper.name == name and paper.title


def test_each_fact_is_stated_once(paper):
    cls = paper.config_class()
    assert cls.PAPER == paper.name
    assert cls().match_radius == paper.match_radius
    assert paper.default_row in paper.rows and tuple(cls.VARIANTS) == paper.rows
    assert all(r in paper.rows for r in (paper.quick_rows or ()))
    assert paper.data_name("synthetic") == f"synthetic:{paper.synthetic}"
    assert cls().data.startswith(f"synthetic:{paper.synthetic}")
    import importlib

    package = importlib.import_module(paper.name)
    assert package.TITLE == paper.title and package.PAPER is paper
    assert set(paper.synthetic_splits) == {"train", "val", "test"}


def test_papers_listing_reads_the_entry_points(capsys):
    assert cellrepro(["papers"]) == 0
    out = capsys.readouterr().out
    assert [ln.split()[0] for ln in out.splitlines() if ln.strip()] == sorted(contract.names())
    assert all(contract.get(n).title in out for n in FIVE)


def test_a_misspelt_paper_or_verb_names_the_closest(capsys):
    assert cellrepro(["mapdee", "train"]) == 2
    assert "did you mean 'mapde'?" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cellrepro(["mapde", "trian"])
    assert exc.value.code == 2
    assert "did you mean 'train'?" in capsys.readouterr().err
    with pytest.raises(ValueError, match="did you mean 'sdrdin'"):
        contract.get("sdrdni")


def test_a_paper_registered_at_run_time_gets_the_command_line(capsys):
    from paper_template.paper import PAPER

    contract.register(PAPER)
    with pytest.raises(SystemExit):
        cellrepro(["paper_template", "train", "--help"])
    assert "--row" in capsys.readouterr().out
    contract.unregister("paper_template")
    assert cellrepro(["paper_template", "train"]) == 2
    contract.register(PAPER)


def test_help_and_listing_do_not_import_tensorflow():
    code = ("import sys\nfrom common.cli import main\n"
            "for argv in (['--help'], ['papers'], ['--version'], ['mapde', '--help'], ['yolo_transfer', 'train', "
            "'--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "cellrepro 0.1.0" in res.stdout and "Hagos et al." in res.stdout and "--row" in res.stdout


def test_an_entry_point_that_is_not_a_paper_is_refused():
    class Fake:
        name = "fake"

        def load(self):
            return object()

    with pytest.raises(TypeError, match="not a Paper"):
        contract._resolve("fake", Fake())
