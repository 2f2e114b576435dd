import json
import os

import numpy as np
import pytest

from common import io


def test_points_csv_round_trip(tmp_path):
    pts = np.array([[1.5, 2.25], [10.0, 3.0]])
    path = tmp_path / "p.csv"
    io.write_points_csv(path, pts, image="img1", classes=[1, 0], class_names=["a", "b"])
    df = io.read_points_csv(path)
    assert list(df.columns) == ["image", "x", "y", "class"]
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), pts)
    assert df["class"].tolist() == ["b", "a"] and df["image"].tolist() == ["img1", "img1"]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@pytest.mark.parametrize(
    "text, match",
    [
        ("image,x\nimg,1\n", "missing column"),
        ("image,x,y\nimg,1,abc\n", "non-numeric"),
        ("image,x,y\nimg,1,\n", "missing or non-numeric"),
        ("", "readable CSV"),
    ],
)
def test_points_csv_malformed(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        io.read_points_csv(p)


def test_missing_files_raise_file_not_found(tmp_path):
    for fn in (io.read_points_csv, io.read_crchisto_mat, io.read_voc_xml, io.read_geojson, io.read_image):
        with pytest.raises(FileNotFoundError, match="no such file"):
            fn(tmp_path / "nope")


def test_geojson_round_trip(tmp_path):
    pts = np.array([[10.5, 20.25], [3.0, 4.0], [100.0, 0.0]])
    path = tmp_path / "cells.geojson"
    io.write_geojson(path, pts, classes=[0, 1, 1], class_names=["CD8+", "CD4+"], scores=[0.9, 0.5, 0.7])
    data = json.loads(path.read_text())
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 3
    f0 = data["features"][0]
    assert f0["geometry"] == {"type": "Point", "coordinates": [10.5, 20.25]}
    assert f0["properties"]["objectType"] == "detection"
    assert f0["properties"]["classification"]["name"] == "CD8+"
    assert len(f0["properties"]["classification"]["color"]) == 3
    back, names, scores = io.read_geojson(path)
    np.testing.assert_allclose(back, pts)
    assert names == ["CD8+", "CD4+", "CD4+"]
    np.testing.assert_allclose(scores, [0.9, 0.5, 0.7])


def test_geojson_reads_qupath_polygons_and_unclassified(tmp_path):
    feats = [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 2], [0, 2], [0, 0]]]},
         "properties": {"objectType": "cell", "classification": {"name": "Tumor", "color": [200, 0, 0]}}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [7, 8]}, "properties": {}},
    ]
    p = tmp_path / "q.geojson"
    p.write_text(json.dumps(feats))
    pts, names, scores = io.read_geojson(p)
    np.testing.assert_allclose(pts, [[2, 1], [7, 8]])
    assert names == ["Tumor", None] and np.isnan(scores).all()


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "valid JSON"),
        ('{"type": "Topology"}', "FeatureCollection"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}', "no geometry"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "LineString", '
         '"coordinates": [[0, 0], [1, 1]]}}]}', "unsupported geometry"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", '
         '"coordinates": []}}]}', "malformed"),
    ],
)
def test_geojson_malformed(tmp_path, content, match):
    p = tmp_path / "bad.geojson"
    p.write_text(content)
    with pytest.raises(ValueError, match=match):
        io.read_geojson(p)


def test_voc_xml(tmp_path):
    xml = """<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height><depth>3</depth></size>
    <object><name>WBC</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>31</xmax><ymax>41</ymax></bndbox></object>
    <object><name>RBC</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
    </annotation>"""
    p = tmp_path / "a.xml"
    p.write_text(xml)
    a = io.read_voc_xml(p)
    assert (a.width, a.height, a.labels, a.filename) == (64, 48, ["WBC"], "a.jpg")
    np.testing.assert_allclose(a.boxes, [[10, 20, 30, 40]])
    np.testing.assert_allclose(a.centres, [[20, 30]])
    assert len(io.read_voc_xml(p, drop_degenerate=False).boxes) == 2


@pytest.mark.parametrize(
    "xml, match",
    [
        ("<annotation><object>", "malformed XML"),
        ("<root/>", "VOC"),
        ("<annotation><object><name>A</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>x</xmax><ymax>3</ymax>"
         "</bndbox></object></annotation>", "not a number"),
        ("<annotation><object><name>A</name></object></annotation>", "lacks"),
        ("<annotation><object><name>A</name><bndbox><xmin>5</xmin><ymin>1</ymin><xmax>3</xmax><ymax>3</ymax>"
         "</bndbox></object></annotation>", "xmax < xmin"),
    ],
)
def test_voc_malformed(tmp_path, xml, match):
    p = tmp_path / "b.xml"
    p.write_text(xml)
    with pytest.raises(ValueError, match=match):
        io.read_voc_xml(p)


def test_crchisto_mat(tmp_path):
    from scipy.io import savemat

    p = tmp_path / "img1_detection.mat"
    savemat(p, {"detection": np.array([[1.0, 1.0], [10.5, 3.0]])})
    np.testing.assert_allclose(io.read_crchisto_mat(p), [[0, 0], [9.5, 2]])
    np.testing.assert_allclose(io.read_crchisto_mat(p, zero_based=False), [[1, 1], [10.5, 3]])
    savemat(p, {"detection": np.zeros((0, 2), dtype=np.uint8)})
    assert io.read_crchisto_mat(p).shape == (0, 2)
    savemat(p, {"points": np.ones((2, 2))})
    with pytest.raises(ValueError, match="'detection'"):
        io.read_crchisto_mat(p)
    savemat(p, {"detection": np.ones((2, 3))})
    with pytest.raises(ValueError, match="N x 2"):
        io.read_crchisto_mat(p)
    bad = tmp_path / "junk.mat"
    bad.write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match="MATLAB"):
        io.read_crchisto_mat(bad)


def test_crchisto_real_file(crchisto_root):
    pts = io.read_crchisto_mat(os.path.join(crchisto_root, "annotations", "img1", "img1_detection.mat"))
    assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) > 0


def test_images(tmp_path):
    import cv2

    rgb = np.zeros((6, 7, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    io.write_image(tmp_path / "a.png", rgb)
    back = io.read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(back, rgb)
    grey = np.full((5, 5), 77, dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    assert io.read_image(tmp_path / "g.png").shape == (5, 5, 3)
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 2] = 255  # BGRA red
    cv2.imwrite(str(tmp_path / "a4.png"), rgba)
    assert io.read_image(tmp_path / "a4.png")[0, 0].tolist() == [255, 0, 0]
    cv2.imwrite(str(tmp_path / "d16.png"), np.zeros((4, 4), dtype=np.uint16))
    with pytest.raises(ValueError, match="8-bit"):
        io.read_image(tmp_path / "d16.png")
    (tmp_path / "junk.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="readable image"):
        io.read_image(tmp_path / "junk.png")
    with pytest.raises(ValueError, match="uint8"):
        io.write_image(tmp_path / "f.png", rgb.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        io.write_image(tmp_path / "f.png", grey)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, mask, mode):
    from common.io import atomic_write_text, write_geojson, write_points_csv

    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        write_points_csv(tmp_path / "p.csv", np.zeros((1, 2)))
        write_geojson(tmp_path / "p.geojson", np.zeros((1, 2)))
    finally:
        os.umask(old)
    for name in ("a.json", "p.csv", "p.geojson"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_geojson_ids_are_unique_across_files_and_stable(tmp_path):
    from common.io import write_geojson

    pts = np.array([[1.0, 2.0], [3.0, 4.0]])
    write_geojson(tmp_path / "a.geojson", pts, scores=[0.5, 0.9])
    write_geojson(tmp_path / "b.geojson", pts)
    write_geojson(tmp_path / "a2.geojson", pts, id_prefix="a.geojson")
    ids = {n: [f["id"] for f in json.loads((tmp_path / n).read_text())["features"]]
           for n in ("a.geojson", "b.geojson", "a2.geojson")}
    assert len(set(ids["a.geojson"]) | set(ids["b.geojson"])) == 4 and ids["a2.geojson"] == ids["a.geojson"]
    feats = json.loads((tmp_path / "a.geojson").read_text())["features"]
    assert [f["properties"]["measurements"]["score"] for f in feats] == [0.5, 0.9]


def test_run_json_is_read_once_for_every_reader(tmp_path):
    from common import contract
    from common.inference import val_density

    paper = contract.get("mapde")
    assert io.read_run_json(tmp_path) is None and paper.run_mpp(str(tmp_path)) is None
    (tmp_path / "data.json").write_text(json.dumps({"mpp": 0.5, "class_names": ["a", "b"], "val_cells": 40,
                                                    "val_megapixels": 2.0}))
    assert io.read_run_json(tmp_path)["mpp"] == 0.5
    assert paper.run_mpp(str(tmp_path)) == 0.5 and paper.run_class_names(str(tmp_path)) == ["a", "b"]
    assert val_density(tmp_path) == 20.0
    (tmp_path / "data.json").write_text('{"mpp": 0.5,')   # cut short by a full disk
    for read in (lambda: io.read_run_json(tmp_path), lambda: paper.run_mpp(str(tmp_path)),
                 lambda: paper.run_class_names(str(tmp_path))):
        with pytest.raises(ValueError, match=r"data\.json is damaged .*delete it or retrain the run"):
            read()
    assert val_density(tmp_path) is None    # only a warning's input: the loaders report the damage
