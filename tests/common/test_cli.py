"""The ``cellrepro`` console script: ``reproduce`` over the registered papers, one-line failures."""

from common import contract
from common.cli import main


def test_reproduce_dispatches_to_each_papers_hook(monkeypatch, capsys, tmp_path):
    calls = []
    for name in ("awarenet", "mapde"):
        monkeypatch.setattr(type(contract.get(name)), "reproduce",
                            lambda self, **kw: calls.append((self.name, kw["quick"], kw["out"], kw["rows"])))
    assert main(["reproduce", "--quick", "--papers", "awarenet", "mapde", "--out", str(tmp_path)]) == 0
    assert [c[:3] for c in calls] == [("awarenet", True, str(tmp_path)), ("mapde", True, str(tmp_path))]
    assert calls[1][3] == list(contract.get("mapde").rows)
    out = capsys.readouterr().out
    assert "[awarenet] done in" in out and "[mapde] done in" in out


def test_reproduce_refuses_an_unknown_paper(capsys):
    assert main(["reproduce", "--papers", "yolov9"]) == 2
    assert "unknown paper(s) ['yolov9']" in capsys.readouterr().err


def test_failures_reach_the_user_as_one_line(monkeypatch, capsys, tmp_path):
    def broken(self, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(type(contract.get("awarenet")), "reproduce", broken)
    assert main(["reproduce", "--papers", "awarenet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cellrepro reproduce: error: disk full" in err and "Traceback" not in err
