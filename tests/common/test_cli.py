import subprocess
import sys

from common import cli


def test_reproduce_without_paper_packages(capsys, tmp_path):
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for p in cli.PAPERS:
        if not cli.status()[p]:
            assert f"[{p}] not implemented yet" in out


def test_unknown_paper_is_an_error(capsys):
    assert cli.main(["reproduce", "--papers", "yolov9"]) == 2
    assert "unknown paper" in capsys.readouterr().err


def test_papers_listing(capsys):
    assert cli.main(["papers"]) == 0
    out = capsys.readouterr().out
    assert all(p in out for p in cli.PAPERS)


def test_console_script_help():
    res = subprocess.run([sys.executable, "-m", "common.cli", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "reproduce" in res.stdout
