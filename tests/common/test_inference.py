"""Detections and the receptive field reader."""

import json

import numpy as np
import pandas as pd
import pytest

from common.inference import Detections, receptive_field


def test_detections_validate_and_write(tmp_path):
    d = Detections(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1]), np.array([0.9, 0.4]),
                   np.array([[0.9, 0.1], [0.2, 0.8]]), ("tumour", "immune"))
    assert len(d) == 2 and d.counts() == {"cells": 2, "tumour": 1, "immune": 1}
    d.write_csv(tmp_path / "a.csv", image="a.png")
    df = pd.read_csv(tmp_path / "a.csv")
    assert list(df.columns) == ["image", "x", "y", "score", "class", "p_tumour", "p_immune"]
    d.write_geojson(tmp_path / "a.geojson", id_prefix="a")
    feats = json.loads((tmp_path / "a.geojson").read_text())["features"]
    assert [f["properties"]["classification"]["name"] for f in feats] == ["tumour", "immune"]
    plain = Detections(np.zeros((0, 2)), None, np.zeros(0))
    assert plain.counts() == {"cells": 0} and list(plain.to_frame().columns) == ["image", "x", "y", "score"]
    with pytest.raises(ValueError, match="scores for"):
        Detections(np.zeros((2, 2)), None, np.zeros(3))
    with pytest.raises(ValueError, match="classes need class_names"):
        Detections(np.zeros((1, 2)), np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 2\)"):
        Detections(np.zeros((1, 2)), np.array([2]), np.zeros(1), class_names=("a", "b"))


def test_receptive_field_of_simple_graphs():
    import keras

    x = keras.Input((None, None, 1))
    y = keras.layers.Conv2D(1, 3, padding="same")(x)           # +1
    y = keras.layers.AveragePooling2D(2)(y)                      # +0.5, stride 2
    y = keras.layers.Conv2D(1, 5, padding="same")(y)             # +2 x 2
    y = keras.layers.Conv2DTranspose(1, 2, strides=2)(y)         # +1 x 2, stride 1
    assert receptive_field(keras.Model(x, y)) == (7.5, 1.0)

    class Odd(keras.layers.Layer):
        def call(self, t):
            return t

    with pytest.raises(ValueError, match="does not know layer"):
        receptive_field(keras.Model(x, Odd()(x)))


def test_degenerate_detections_are_named():
    from common.inference import degenerate

    rng = np.random.default_rng(0)
    cells = rng.uniform(0, 500, (200, 2))
    assert degenerate(cells, rng.uniform(0.5, 1, 200), (500, 500), expected=180) == []
    gx, gy = np.meshgrid(np.arange(16, 500, 32), np.arange(16, 500, 32))   # a point model's anchor grid
    grid = np.stack([gx.ravel(), gy.ravel()], 1) + rng.normal(0, 0.2, (gx.size, 2))
    (why,) = degenerate(grid, rng.uniform(0.5, 1, len(grid)), (500, 500))
    assert why.startswith(f"the {len(grid)} cells lie on a regular grid (3") and why.endswith(" px apart)")
    assert degenerate(cells, np.full(200, 0.7), (500, 500)) == ["all 200 cells have the same score (0.7)"]
    assert degenerate(np.zeros((0, 2)), [], (500, 500)) == ["no cells found"]
    assert degenerate(np.zeros((0, 2)), [], (64, 64)) == []   # a small crop may hold none
    assert degenerate(cells, rng.uniform(0.5, 1, 200), (500, 500), expected=1500) == [
        "200 cells where the validation data's density predicts about 1500"]
    assert degenerate(cells[:3], [0.9] * 3, (500, 500), expected=10) == []   # too few to judge


def test_warn_degenerate_names_the_images_once():
    from common.inference import warn_degenerate

    flat = Detections(np.random.default_rng(1).uniform(0, 300, (30, 2)), None, np.ones(30))
    good = Detections(np.random.default_rng(2).uniform(0, 300, (30, 2)), None, np.linspace(0, 1, 30))
    with pytest.warns(UserWarning, match=r"1 of 2 image\(s\) of the test split look degenerate - b.png: all 30 "
                                         r"cells have the same score .*predict --overlay") as rec:
        assert warn_degenerate([("a.png", good, (300, 300), 30), ("b.png", flat, (300, 300), 30)],
                               "the test split") == 1
    assert len(rec) == 1
