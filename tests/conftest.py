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


@pytest.fixture
def notebook(monkeypatch):
    """``notebook(name, env_var, folder, first_cell_only=False)`` executes ``notebooks/<name>``'s
    code cells in one scope with ``env_var`` pointing at a results folder (Agg backend)."""
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")

    def run(name, env_var, folder, first_cell_only=False):
        nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / name).read_text())
        monkeypatch.setenv(env_var, str(folder))
        scope = {}
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for cell in cells[:1] if first_cell_only else cells:
            exec("".join(cell["source"]), scope)
        matplotlib.pyplot.close("all")
        return scope

    return run


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
