"""Shared fixtures. Real-data tests skip with a clear reason when ../shared/data is absent."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

from common.datasets import default_data_root


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def data_root():
    root = default_data_root()
    if not os.path.isdir(root):
        pytest.skip(f"real data not available: {root} is missing (set $CELLREPRO_DATA or place ../shared/data)")
    return root


def _require(data_root, sub):
    path = os.path.join(data_root, sub)
    if not os.path.isdir(path):
        pytest.skip(f"real data not available: {path} is missing")
    return path


@pytest.fixture(scope="session")
def crchisto_root(data_root):
    return _require(data_root, "crchistophenotypes")


@pytest.fixture(scope="session")
def bccd_root(data_root):
    return _require(data_root, "bccd")


@pytest.fixture(scope="session")
def deepliif_root(data_root):
    return _require(data_root, "deepliif_ki67_sample")


@pytest.fixture(scope="session")
def mihc_samples():
    from common.synthetic import make_dataset

    return make_dataset("mihc", 3, 96, seed=7)


def figure_content(fig) -> dict:
    """What a matplotlib figure shows: its axes, the data artists on them (lines, collections, patches,
    images, tables), and the pixel spread of the rendered figure (a blank one has none)."""
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    artists = [len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.images) + len(ax.tables)
               for ax in axes]
    return {"axes": len(axes), "artists": artists, "pixel_std": float(pixels.std())}


@pytest.fixture
def notebook(monkeypatch):
    """``notebook(name, env_var, folder, first_cell_only=False)`` executes ``notebooks/<name>``'s
    code cells in one scope with ``env_var`` pointing at a results folder (Agg backend). Every figure
    the notebook saves is recorded in ``scope["figures"]`` as ``{file stem: figure_content(fig)}``."""
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    saved = {}
    original = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        saved[Path(str(fname)).stem] = figure_content(fig)
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)

    def run(name, env_var, folder, first_cell_only=False):
        nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / name).read_text())
        monkeypatch.setenv(env_var, str(folder))
        scope = {}
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for cell in cells[:1] if first_cell_only else cells:
            exec("".join(cell["source"]), scope)
        matplotlib.pyplot.close("all")
        scope["figures"] = dict(saved)
        return scope

    return run


def assert_figures_drawn(scope, names, folder=None):
    """Each named figure was saved with axes holding data and a rendered picture that is not blank."""
    for name in names:
        content = scope["figures"].get(name)
        assert content is not None, f"the notebook saved no figure {name!r} (saved: {sorted(scope['figures'])})"
        assert content["axes"] >= 1 and all(n > 0 for n in content["artists"]), (name, content)
        assert content["pixel_std"] > 5, (name, content)
        if folder is not None:
            assert (folder / "figures" / f"{name}.png").is_file()


@pytest.fixture(scope="session")
def user_folder(tmp_path_factory):
    """``user_folder(kind, n, size)``: a folder of ``images/`` + ``points.csv`` (with a class column)
    made from synthetic samples, as a user would bring; returns ``(folder, samples)``."""
    from common.io import write_image, write_points_csv
    from common.synthetic import make_dataset

    made = {}

    def make(kind="mihc", n=6, size=64, seed=31):
        key = (kind, n, size, seed)
        if key in made:
            return made[key]
        root = tmp_path_factory.mktemp(f"folder_{kind}")
        samples = make_dataset(kind, n, size, seed=seed)
        os.makedirs(root / "images")
        pts, names, cls = [], [], []
        for k, s in enumerate(samples):
            write_image(root / "images" / f"img{k}.png", s.image)
            pts.append(s.points)
            names += [f"img{k}.png"] * len(s.points)
            cls.append(s.classes)
        write_points_csv(root / "points.csv", np.concatenate(pts), image=names, classes=np.concatenate(cls),
                         class_names=samples[0].class_names)
        made[key] = (root, samples)
        return made[key]

    return make


def paper_cli(name):
    """``cli(argv)``: ``cellrepro <name> argv`` in this process (its exit status)."""
    from common.cli import main

    return lambda argv: main([name, *argv])


def _slow_tests() -> set:
    """Test functions listed in ``tests/slow_tests.txt`` (measured durations of 5.5 s or more)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slow_tests.txt")
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config, items):
    """Marks the measured-slow tests ``slow`` (``make test-fast`` runs ``-m "not slow"``)."""
    slow = _slow_tests()
    for item in items:
        if item.nodeid.split("[")[0] in slow:
            item.add_marker(pytest.mark.slow)


def script_module(relpath: str):
    """A repository script that is not a package module (``results/presets/make_preset.py``,
    ``docs/make_figures.py``), imported from its path for its helpers."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), relpath)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

