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
