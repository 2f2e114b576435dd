"""Property tests (hypothesis): readers, writers and matching never crash with anything but a clear
ValueError, and round trips are exact."""

import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.io import read_geojson, read_points_csv, write_geojson
from common.matching import match_points

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cell = st.one_of(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.integers(-10, 10_000).map(str), st.just(""))


@SETTINGS
@given(header=st.sampled_from(["image,x,y", "image,x,y,class", "x,y", "image,y,x", "", "image,x"]),
       rows=st.lists(st.lists(cell, min_size=0, max_size=5), max_size=6))
def test_points_csv_reader_either_reads_or_says_why(header, rows):
    text = header + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "points.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            df = read_points_csv(path)
        except ValueError:
            return
        assert {"image", "x", "y"} <= set(df.columns)
        assert np.isfinite(df[["x", "y"]].to_numpy()).all()   # the image bounds are checked when loading


coord = st.floats(0, 1e5, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(pts=st.lists(st.tuples(coord, coord), max_size=20), data=st.data())
def test_geojson_round_trip_is_exact(pts, data):
    pts = np.array(pts, dtype=np.float64).reshape(-1, 2)
    n = len(pts)
    names = ["tumour", "lymphocyte", "stroma"]
    classes = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cells.geojson")
        write_geojson(path, pts, classes=classes, class_names=names, scores=scores)
        back, back_names, back_scores = read_geojson(path)
    np.testing.assert_array_equal(back.reshape(-1, 2), pts)
    assert list(back_names or []) == [names[c] for c in classes]
    np.testing.assert_array_equal(back_scores, scores)


any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)


@SETTINGS
@given(pred=st.lists(st.tuples(any_float, any_float), max_size=15),
       gt=st.lists(st.tuples(coord, coord), max_size=15),
       radius=st.one_of(st.floats(-1, 50), st.just(float("nan"))))
def test_match_points_never_crashes_and_pairs_are_within_the_radius(pred, gt, radius):
    p = np.array(pred, dtype=np.float64).reshape(-1, 2)
    g = np.array(gt, dtype=np.float64).reshape(-1, 2)
    try:
        r = match_points(p, g, radius)
    except ValueError:
        return
    assert r.tp + r.fp == len(p) and r.tp + r.fn == len(g) and r.tp <= min(len(p), len(g))
    if r.tp:
        d = np.hypot(*(p[r.pairs[:, 0]] - g[r.pairs[:, 1]]).T)
        assert np.all(d <= radius + 1e-9)
        assert len(set(r.pairs[:, 0])) == r.tp and len(set(r.pairs[:, 1])) == r.tp
