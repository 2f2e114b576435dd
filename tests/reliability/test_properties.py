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


# -- folder readers and --set values: any input loads or gives the one-line error (ValueError / FileNotFoundError)

label = st.one_of(st.sampled_from(["tumour", "stroma", "-1", "", "unclassified", "2.0", "2", "nan", " x "]),
                  st.text(max_size=6))
number = st.one_of(st.floats(-5, 70), st.sampled_from([float("nan"), float("inf"), 63.93, -0.6, 64.0]))


@SETTINGS
@given(rows=st.lists(st.tuples(st.sampled_from(["a.png", "b.png", "c.png", "d.png", "zz.png"]), number, number,
                               label), max_size=10),
       with_class=st.booleans(), split=st.sampled_from(["train", "val", "test", "all"]))
def test_a_points_folder_loads_or_says_why(rows, with_class, split):
    import csv
    import warnings

    from common.datasets import load
    from common.io import write_image

    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "images"))
        for name in ("a", "b", "c", "d"):
            write_image(os.path.join(tmp, "images", f"{name}.png"), np.zeros((64, 64, 3), np.uint8))
        with open(os.path.join(tmp, "points.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["image", "x", "y"] + (["class"] if with_class else []))
            for img, x, y, c in rows:
                w.writerow([img, x, y] + ([c] if with_class else []))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = load(tmp, split)
        except (ValueError, FileNotFoundError):
            return
        for s in data:
            assert np.isfinite(s.points).all() and s.points.min(initial=0) >= -0.5
            assert s.points.max(initial=0) < 63.5 + 1e-9
            assert s.classes.min(initial=0) >= -1 and s.classes.max(initial=-1) < len(s.class_names)
            assert "" not in s.class_names and "-1" not in s.class_names


yolo_line = st.one_of(
    st.tuples(st.sampled_from(["0", "1", "2", "0.0", "-1", "x", "1.5"]),
              *[st.sampled_from(["0.5", "0.2", "0", "1", "1.2", "-0.1", "nan", "inf", "a"])] * 4).map(" ".join),
    st.text(max_size=20))


@SETTINGS
@given(lines=st.lists(yolo_line, max_size=5), orphan=st.booleans())
def test_an_ultralytics_folder_loads_or_says_why(lines, orphan):
    from common.io import write_image
    from yolo_transfer.data import load_yolo_folder

    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "images", "train"))
        os.makedirs(os.path.join(tmp, "labels", "train"))
        with open(os.path.join(tmp, "data.yaml"), "w") as f:
            f.write("names: [a, b]\n")
        write_image(os.path.join(tmp, "images", "train", "i.png"), np.zeros((40, 50, 3), np.uint8))
        with open(os.path.join(tmp, "labels", "train", "i.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if orphan:
            open(os.path.join(tmp, "labels", "train", "other.txt"), "w").close()
        try:
            data = load_yolo_folder(tmp, "train")
        except (ValueError, FileNotFoundError):
            return
        assert not orphan
        s = data[0]
        assert np.isfinite(s.boxes).all() and (s.boxes[:, 2] > s.boxes[:, 0]).all()
        assert set(s.classes.tolist()) <= {0, 1}


voc_value = st.sampled_from(["1", "0", "5", "30", "50", "-3", "2.5", "", "x", "1e9"])


@SETTINGS
@given(objects=st.lists(st.tuples(st.sampled_from(["RBC", "WBC", ""]), voc_value, voc_value, voc_value, voc_value),
                        max_size=4), width=st.sampled_from(["50", "x", ""]))
def test_a_voc_annotation_reads_or_says_why(objects, width):
    from common.io import read_voc_xml

    body = "".join(f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
                   f"<ymax>{d}</ymax></bndbox></object>" for n, a, b, c, d in objects)
    xml = f"<annotation><size><width>{width}</width><height>40</height></size>{body}</annotation>"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.xml")
        with open(path, "w") as f:
            f.write(xml)
        try:
            voc = read_voc_xml(path)
        except ValueError:
            return
        assert np.isfinite(voc.boxes).all() and (voc.boxes >= 0).all()
        assert (voc.boxes[:, 2] > voc.boxes[:, 0]).all() and (voc.boxes[:, 3] > voc.boxes[:, 1]).all()


def _config_fields():
    from common import contract

    return [(name, field) for name, paper in contract.papers().items()
            for field in paper.config_class().field_types()]


set_value = st.one_of(st.text(max_size=10), st.sampled_from(["NaN", "Infinity", "-1", "0", "1e400", "[1, 2]", "{}",
                                                            "true", "none", "[[]]", "\"x\"", "1.5"]))


@SETTINGS
@given(field=st.sampled_from(_config_fields()), value=set_value)
def test_any_set_value_is_a_config_or_a_clear_error(field, value):
    from common import contract

    paper, name = field
    cls = contract.get(paper).config_class()
    try:
        cfg = cls.quick().with_text_overrides([f"{name}={value}"])
    except ValueError:
        return
    assert isinstance(cfg, cls)
    cls.from_dict(cfg.to_dict())   # what is accepted survives config.json
