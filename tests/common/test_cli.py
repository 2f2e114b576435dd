import subprocess
import sys

from common import cli


def test_reproduce_skips_papers_not_implemented(capsys, tmp_path):
    missing = [p for p, ok in cli.status().items() if not ok]
    if not missing:
        return
    assert cli.main(["reproduce", "--quick", "--papers", *missing, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for p in missing:
        assert f"[{p}] {cli.state(p)} - skipped" in out
    assert "nothing was reproduced" in out


def test_reproduce_dispatches_to_each_papers_main(monkeypatch, capsys, tmp_path):
    calls = []

    class Fake:
        @staticmethod
        def main(quick, out):
            calls.append((quick, out))

    monkeypatch.setattr(cli, "_reproduce_module", lambda p: Fake if p == "awarenet" else None)
    assert cli.main(["reproduce", "--quick", "--papers", "awarenet", "mapde", "--out", str(tmp_path)]) == 0
    assert calls == [(True, str(tmp_path))]
    out = capsys.readouterr().out
    assert "[awarenet] done in" in out and "[mapde] " in out and "skipped" in out


def test_status_lists_implemented_papers(monkeypatch):
    import sdrdin

    st = cli.status()
    assert st["awarenet"] is True and st["mapde"] is True and st["sdrdin"] is True
    assert cli.state("sdrdin") == "ready"
    monkeypatch.setattr(sdrdin, "READY", False)     # a package that is built but not yet meeting its targets
    assert cli.state("sdrdin") == "in progress" and cli.status()["sdrdin"] is False
    monkeypatch.setattr(cli, "_has_reproduce", lambda p: p != "mapde")   # a package without a reproduce module
    assert cli.state("mapde") == "not implemented yet" and cli.status()["mapde"] is False


def test_unknown_paper_is_an_error(capsys):
    assert cli.main(["reproduce", "--papers", "yolov9"]) == 2
    assert "unknown paper" in capsys.readouterr().err


def test_papers_listing(capsys):
    assert cli.main(["papers"]) == 0
    out = capsys.readouterr().out
    assert all(p in out for p in cli.PAPERS)


def test_console_script_help_and_papers_do_not_import_tensorflow():
    code = ("import sys\nfrom common import cli\n"
            "for argv in (['--help'], ['papers'], ['--version']):\n"
            "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "reproduce" in res.stdout and "cellrepro 0.1.0" in res.stdout and "Hagos et al." in res.stdout


def test_titles_live_in_the_packages():
    import awarenet
    import mapde

    assert cli.title("awarenet") == awarenet.TITLE and cli.title("mapde") == mapde.TITLE
    assert all(cli.title(p) != p for p in cli.PAPERS)


def test_failures_reach_the_user_as_one_line(monkeypatch, capsys, tmp_path):
    class Broken:
        @staticmethod
        def main(quick, out):
            raise OSError("disk full")

    monkeypatch.setattr(cli, "_reproduce_module", lambda p: Broken)
    assert cli.main(["reproduce", "--papers", "awarenet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cellrepro reproduce: error: disk full" in err and "Traceback" not in err
