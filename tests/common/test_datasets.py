import numpy as np
import pytest

from common import datasets, io


def make_folder(root, with_splits=False, classes=True, n=6):
    (root / "images").mkdir(parents=True)
    rows = ["image,x,y" + (",class" if classes else "")]
    rng = np.random.default_rng(0)
    for k in range(n):
        img = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
        io.write_image(root / "images" / f"s{k}.png", img)
        for j in range(3):
            rows.append(f"s{k}.png,{rng.uniform(0, 29):.2f},{rng.uniform(0, 19):.2f}"
                        + (f",{'tumour' if j % 2 else 'immune'}" if classes else ""))
    (root / "points.csv").write_text("\n".join(rows) + "\n")
    if with_splits:
        (root / "splits").mkdir()
        (root / "splits" / "train.txt").write_text("s0\ns1\ns2\ns3\n")
        (root / "splits" / "val.txt").write_text("s4\n")
        (root / "splits" / "test.txt").write_text("s5.png\n")


def test_user_folder_with_split_files(tmp_path):
    make_folder(tmp_path, with_splits=True)
    train = datasets.load(tmp_path, "train")
    assert [s.name for s in train] == ["s0", "s1", "s2", "s3"]
    assert train.class_names == ("immune", "tumour")
    assert train[0].points.shape == (3, 2) and set(train[0].classes) <= {0, 1}
    assert [s.name for s in datasets.load(tmp_path, "test")] == ["s5"]
    assert len(datasets.load(tmp_path, "all")) == 6
    assert "split files" in train.description


def test_user_folder_without_split_files_is_seeded_and_reported(tmp_path):
    make_folder(tmp_path, n=10)
    parts = {k: [s.name for s in datasets.load(tmp_path, k)] for k in ("train", "val", "test")}
    assert sorted(sum(parts.values(), [])) == sorted(f"s{k}" for k in range(10))
    assert len(parts["train"]) == 7
    again = [s.name for s in datasets.load(tmp_path, "train")]
    assert again == parts["train"]
    assert "seeded" in datasets.load(tmp_path, "train").description


def test_user_folder_without_classes(tmp_path):
    make_folder(tmp_path, classes=False)
    s = datasets.load(tmp_path, "all")
    assert s.class_names == ("cell",) and all((x.classes == 0).all() for x in s)


def test_user_folder_unknown_class_name(tmp_path):
    make_folder(tmp_path)
    with pytest.raises(ValueError, match="unknown class name 'tumour'"):
        datasets.load(tmp_path, "all", class_names=("immune", "stroma"))


def test_user_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="unknown dataset"):
        datasets.load(tmp_path / "missing", "train")
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="images/"):
        datasets.load(tmp_path / "a", "train")
    make_folder(tmp_path / "b")
    (tmp_path / "b" / "points.csv").write_text("image,x,y\nghost.png,1,1\n")
    with pytest.raises(ValueError, match="not in images"):
        datasets.load(tmp_path / "b", "all")
    make_folder(tmp_path / "c")
    (tmp_path / "c" / "points.csv").write_text("image,x,y\ns0.png,100,1\n")
    with pytest.raises(ValueError, match="outside"):
        datasets.load(tmp_path / "c", "all")


def test_bad_split_and_kind():
    with pytest.raises(ValueError, match="split"):
        datasets.load("synthetic:mihc", "training")
    with pytest.raises(ValueError, match="synthetic kind"):
        datasets.load("synthetic:zebra", "train")


def test_synthetic_splits_are_disjoint_and_fixed():
    tr = datasets.load("synthetic:he", "train", n_images=2, size=64)
    te = datasets.load("synthetic:he", "test", n_images=2, size=64)
    assert not np.array_equal(tr[0].image, te[0].image)
    np.testing.assert_array_equal(tr[0].image, datasets.load("synthetic:he", "train", n_images=2, size=64)[0].image)
    assert len(datasets.load("synthetic:he", "trainval", n_images=2, size=64)) == 4


def test_sample_validation():
    img = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        datasets.Sample(img.astype(float), np.zeros((0, 2)), [], ("a",))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        datasets.Sample(img[..., 0], np.zeros((0, 2)), [], ("a",))
    with pytest.raises(ValueError, match="outside"):
        datasets.Sample(img, [[20, 1]], [0], ("a",))
    with pytest.raises(ValueError, match="class index"):
        datasets.Sample(img, [[2, 1]], [3], ("a",))
    s = datasets.Sample(img, [[2, 1]], [-1], ("a",))
    assert s.classes.tolist() == [-1]
    with pytest.raises(ValueError, match="empty"):
        datasets.class_counts([])


def test_crchisto(crchisto_root):
    test = datasets.load("crchisto", "test")
    assert len(test) == 20
    assert sum(len(s.points) for s in test) == 6403  # data README: detection points in the test split
    counts = datasets.class_counts(test)
    # README: 1286 / 2066 / 1260 / 234 classified test points; a handful sit > 3 px from any dot.
    np.testing.assert_allclose(counts, [1286, 2066, 1260, 234], atol=10)
    assert test[0].image.shape == (500, 500, 3) and test[0].mpp == 0.5
    assert len(datasets.load("crchisto", "train")) == 70 and len(datasets.load("crchisto", "val")) == 10


def test_bccd(bccd_root):
    train = datasets.load("bccd", "train")
    assert len(train) == 205
    counts = datasets.class_counts(train)
    assert counts.tolist() == [2381, 214, 209]  # README 2382 RBC minus one zero-area box
    s = train[0]
    assert s.boxes.shape == (len(s.points), 4) and s.image.shape == (480, 640, 3)
    assert len(datasets.load("bccd", "test")) == 72


def test_deepliif(deepliif_root):
    parts = {k: datasets.load("deepliif", k) for k in ("train", "val", "test")}
    assert [[s.name for s in v] for v in parts.values()] == [["Bladder1", "Lung1", "22_2"], ["34_3"], ["6_2", "799_2"]]
    every = [s for v in parts.values() for s in v]
    assert all(s.image.shape == (512, 512, 3) for s in every)   # six-panel tiles give their IHC panel only
    # data README: 80 positive, 510 negative components of >= 10 px
    assert datasets.class_counts(every).tolist() == [80, 510]
    assert all(np.all((s.points >= 0) & (s.points < 512)) for s in every)


def test_missing_real_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="CRCHistoPhenotypes not found"):
        datasets.load("crchisto", "test", data_root=tmp_path)
    with pytest.raises(FileNotFoundError, match="BCCD not found"):
        datasets.load("bccd", "test", data_root=tmp_path)
    with pytest.raises(FileNotFoundError, match="DeepLIIF Ki67 sample not found"):
        datasets.load("deepliif", "test", data_root=tmp_path)


def _as_qupath(root, sep="\t", class_column="Class"):
    """Rewrites make_folder's points.csv as a QuPath measurement export (extra columns, blank classes)."""
    df = io.read_points_csv(root / "points.csv")
    (root / "points.csv").unlink()
    lines = [sep.join(["Image", "Object ID", "Name", class_column, "Parent", "ROI", "Centroid X px",
                       "Centroid Y px", "Nucleus: Area px^2"])]
    for k, r in df.iterrows():
        cls = "" if k % 4 == 3 else r["class"]
        lines.append(sep.join([r["image"], f"id{k}", "", cls, "Image", "Polygon", f"{r.x:.2f}", f"{r.y:.2f}", "40"]))
    (root / "points.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return df


@pytest.mark.parametrize("sep, class_column", [("\t", "Class"), ("\t", "Classification"), (",", "Class")])
def test_user_folder_from_a_qupath_measurement_export(tmp_path, sep, class_column):
    make_folder(tmp_path / "ours")
    make_folder(tmp_path / "qp")
    truth = _as_qupath(tmp_path / "qp", sep, class_column)
    ours, theirs = datasets.load(tmp_path / "ours", "all"), datasets.load(tmp_path / "qp", "all")
    assert [s.name for s in theirs] == [s.name for s in ours]
    assert theirs.class_names == ("immune", "tumour")
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(b.points, a.points, atol=0.006)
    truth["cls"] = [-1 if k % 4 == 3 else ("immune", "tumour").index(c) for k, c in enumerate(truth["class"])]
    for s in theirs:   # a blank class: unclassified (-1), scored for detection only
        np.testing.assert_array_equal(s.classes, truth.loc[truth["image"] == s.name + ".png", "cls"])
    assert "unclassified" in theirs.description


def test_user_folder_from_qupath_geojson(tmp_path):
    import json

    make_folder(tmp_path, n=2)
    (tmp_path / "points.csv").unlink()
    (tmp_path / "geojson").mkdir()
    square = [[[10, 5], [14, 5], [14, 9], [10, 9], [10, 5]]]   # a cell outline: centroid (12, 7)
    feats = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square},
              "properties": {"objectType": "cell", "classification": {"name": "tumour", "color": [200, 0, 0]}}},
             {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[3, 4], [20.5, 15]]},
              "properties": {"objectType": "annotation", "classification": {"name": "immune"}}},
             {"type": "Feature", "geometry": {"type": "Point", "coordinates": [25, 2]}, "properties": {}}]
    (tmp_path / "geojson" / "s0.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    io.write_geojson(tmp_path / "geojson" / "s1.png.geojson", [[1.0, 2.0]], classes=["tumour"])
    s0, s1 = datasets.load(tmp_path, "all")
    np.testing.assert_allclose(s0.points, [[12, 7], [3, 4], [20.5, 15], [25, 2]])
    assert s0.class_names == ("immune", "tumour")
    np.testing.assert_array_equal(s0.classes, [1, 0, 0, -1])
    np.testing.assert_allclose(s1.points, [[1, 2]])   # our own GeoJSON output reads back
    np.testing.assert_array_equal(s1.classes, [1])


def test_user_folder_point_files_errors(tmp_path):
    make_folder(tmp_path / "both")
    (tmp_path / "both" / "geojson").mkdir()
    with pytest.raises(ValueError, match="both points.csv and geojson/; keep one"):
        datasets.check_data_name(tmp_path / "both")
    (tmp_path / "none" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="points.csv .* points.tsv, or geojson"):
        datasets.check_data_name(tmp_path / "none")
    make_folder(tmp_path / "um")
    (tmp_path / "um" / "points.csv").unlink()
    (tmp_path / "um" / "points.tsv").write_text("Image\tClass\tCentroid X µm\tCentroid Y µm\ns0.png\ttumour\t1.5\t2\n")
    with pytest.raises(ValueError, match="points.tsv: QuPath centroids are in µm .* pixels"):
        datasets.load(tmp_path / "um", "all")
    (tmp_path / "um" / "points.tsv").write_text("Image\tClass\tCentroid X px\tCentroid Y px\n"
                                                "s0.png\ttumour\t1.5\tn/a\n")
    with pytest.raises(ValueError, match="column 'y' has a missing or non-numeric value at data row 1"):
        datasets.load(tmp_path / "um", "all")
