"""Regression tests of the bad inputs that gave silent wrong results, a crash or a late error (issue 24):
each now gives the correct result or one clear line before any training or file writing."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from common.datasets import Sample, SampleList, align_classes, load
from common.evaluation import score
from common.inference import Detections
from common.io import write_image
from tests.conftest import paper_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _folder(root, rows, images=("a", "b", "c"), size=64, splits=None):
    os.makedirs(root / "images", exist_ok=True)
    for name in images:
        write_image(root / "images" / f"{name}.png", np.full((size, size, 3), 200, np.uint8))
    (root / "points.csv").write_text("\n".join(rows) + "\n")
    if splits:
        os.makedirs(root / "splits", exist_ok=True)
        for k, names in splits.items():
            (root / "splits" / f"{k}.txt").write_text("".join(f"{n}\n" for n in names))
    return root


# -- classes ----------------------------------------------------------------------------------------------


def test_unclassified_cells_are_class_minus_one_not_a_class(tmp_path):
    rows = ["image,x,y,class", "a.png,10,10,tumour", "a.png,20,20,-1", "a.png,30,30,", "b.png,5,5,unclassified",
            "b.png,9,9,stroma", "c.png,3,3,tumour"]
    data = load(_folder(tmp_path / "f", rows), "all")
    assert data.class_names == ("stroma", "tumour") and data.classified
    a = next(s for s in data if s.name == "a")
    assert list(a.classes) == [1, -1, -1]
    assert "unclassified cells (class -1)" in data.description
    only = load(_folder(tmp_path / "g", ["image,x,y,class", "a.png,10,10,-1", "b.png,5,5,"]), "all")
    assert not only.classified and all((s.classes < 0).all() for s in only)


def test_a_dot_within_half_a_pixel_of_the_border_is_clipped_with_a_note(tmp_path):
    rows = ["image,x,y", "a.png,10,63.93", "b.png,-0.7,5", "c.png,5,5"]
    with pytest.warns(UserWarning, match="within half a pixel beyond the image border"):
        data = load(_folder(tmp_path / "f", rows), "all")
    pts = np.concatenate([s.points for s in data])
    assert pts.min() >= 0 and pts.max() <= 63
    with pytest.raises(ValueError, match="outside"):
        load(_folder(tmp_path / "g", ["image,x,y", "a.png,10,65"]), "all")


def test_classes_are_matched_by_name_not_by_position():
    img = np.zeros((60, 60, 3), np.uint8)
    truth = Sample(img, [[10, 10], [40, 40]], [0, 1], ("WBC", "RBC"))   # the data lists its classes in another order
    det = Detections([[10, 10], [40, 40]], [1, 0], [0.9, 0.9], class_names=("RBC", "WBC"))
    assert score([det], [truth], [5]).iloc[0]["Class F1"] == 1.0
    swapped = Sample(img, [[10, 10], [40, 40]], [1, 0], ("WBC", "RBC"))
    assert score([det], [swapped], [5]).iloc[0]["Class F1"] == 0.0
    extra = Sample(img, [[10, 10]], [0], ("Eosinophil", "RBC"))
    with pytest.raises(ValueError, match=r"class\(es\) \['Eosinophil'\] that the model does not know"):
        score([det], [extra], [5])
    aligned = align_classes(SampleList([truth]), ("RBC", "WBC", "Platelets"))
    assert aligned[0].class_names == ("RBC", "WBC", "Platelets") and list(aligned[0].classes) == [1, 0]


def test_box_ap_matches_classes_by_name():
    from common.boxes import detection_ap

    img = np.zeros((80, 80, 3), np.uint8)
    boxes = np.array([[5, 5, 25, 25], [40, 40, 70, 70]], float)
    det = Detections((boxes[:, :2] + boxes[:, 2:]) / 2, [0, 1], [0.9, 0.8], class_names=("RBC", "WBC"), boxes=boxes)
    voc_order = Sample(img, (boxes[:, :2] + boxes[:, 2:]) / 2, [1, 0], ("WBC", "RBC"), boxes=boxes)   # sorted names
    ap = detection_ap([det], [voc_order], ("RBC", "WBC"))
    assert ap.loc["mAP", "AP"] == 1.0


# -- folder readers ---------------------------------------------------------------------------------------


def test_ultralytics_label_files_that_name_no_image_are_refused(tmp_path):
    from yolo_transfer.data import load_yolo_folder

    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "data.yaml").write_text("names: [a, b]\n")
    write_image(tmp_path / "images" / "train" / "img1.png", np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "labels" / "train" / "img1.txt").write_text("0.0 0.5 0.5 0.2 0.2\n")   # a class written 0.0
    (tmp_path / "labels" / "train" / "IMG_1.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    with pytest.raises(ValueError, match="1 label file\\(s\\) name no image.*IMG_1.txt"):
        load_yolo_folder(tmp_path, "train")
    (tmp_path / "labels" / "train" / "IMG_1.txt").unlink()
    s = load_yolo_folder(tmp_path, "train")[0]
    assert list(s.classes) == [0]
    (tmp_path / "labels" / "train" / "img1.txt").write_text("0.5 0.5 0.5 0.2 0.2\n")
    with pytest.raises(ValueError, match="class id must be a whole number"):
        load_yolo_folder(tmp_path, "train")


def test_a_voc_coordinate_of_zero_states_the_one_based_rule(tmp_path):
    from common.io import read_voc_xml

    xml = ("<annotation><size><width>50</width><height>50</height></size><object><name>RBC</name><bndbox>"
           "<xmin>0</xmin><ymin>3</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")
    (tmp_path / "a.xml").write_text(xml)
    with pytest.raises(ValueError, match="xmin> is 0.*start at 1"):
        read_voc_xml(tmp_path / "a.xml")


# -- commands ---------------------------------------------------------------------------------------------


def test_evaluate_on_an_empty_split_is_refused(tmp_path, capsys):
    rows = ["image,x,y", "a.png,10,10", "b.png,20,20", "c.png,30,30"]
    folder = _folder(tmp_path / "f", rows, splits={"train": ["a"], "val": ["b"], "test": []})
    run = tmp_path / "run"
    run.mkdir()
    from awarenet.config import AwareNetConfig

    AwareNetConfig.quick().save(run)
    (run / "model.keras").write_bytes(b"")
    assert paper_cli("awarenet")(["evaluate", "--model", str(run), "--data", str(folder), "--split", "test"]) == 2
    assert "no images: nothing to evaluate" in capsys.readouterr().err


def test_data_of_classes_the_run_does_not_know_is_refused_before_inference(tmp_path, capsys):
    rows = ["image,x,y,class", "a.png,10,10,x", "b.png,20,20,y", "c.png,30,30,z"]
    folder = _folder(tmp_path / "f", rows, splits={"train": ["a"], "val": ["b"], "test": ["c"]})
    run = tmp_path / "run"
    run.mkdir()
    from sdrdin.config import SDRDINConfig

    SDRDINConfig.quick().save(run)
    (run / "data.json").write_text(json.dumps({"class_names": ["CD8+", "CD4+"]}))
    code = ("import sys\nfrom common.cli import main\n"
            f"rc = main(['sdrdin', 'evaluate', '--model', {str(run)!r}, '--data', {str(folder)!r}])\n"
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow'\nsys.exit(rc)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2, res.stderr
    assert "class(es) ['z'] that the run" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_full_disk_during_training_is_one_line_not_a_crash(tmp_path):
    """The best weights were an HDF5 file written by h5py: on a full disk its objects failed again at exit,
    printing tracebacks and ending in a segmentation fault. They are NumPy arrays now."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode:
        pytest.skip("a small file system cannot be mounted here (needs root and mount)")
    try:
        res = subprocess.run([sys.executable, "-m", "awarenet", "train", "--data", "synthetic:images=4:size=96",
                              "--quick", "--set", "input_size=32", "--set", "steps_per_epoch=2", "--epochs", "2",
                              "--out", str(mnt / "run")], capture_output=True, text=True, cwd=ROOT)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    err = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "No space left on device" in err[0] and "could not write" in err[0], res.stderr
    assert "Traceback" not in res.stderr and "h5py" not in res.stderr


def test_a_failed_checkpoint_names_the_file(tmp_path, monkeypatch):
    import errno

    from common import io as cio

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cio.os, "replace", full)
    with pytest.raises(OSError, match="could not write .*x.json: No space left on device"):
        cio.atomic_write_text(str(tmp_path / "x.json"), "{}")
    assert os.listdir(tmp_path) == []


# -- checks before work ------------------------------------------------------------------------------------


def test_point_model_crops_denser_than_its_proposals_are_refused_naming_the_scale():
    from pointnet_cells.config import PointNetConfig
    from pointnet_cells.data import check_crop_density

    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 127, (60, 2))                     # 60 cells in a 128 px image: denser than 40x
    dense = Sample(np.zeros((128, 128, 3), np.uint8), pts, np.zeros(60, int), ("a",), name="dense")
    cfg = PointNetConfig.quick().with_overrides(crop_size=64)
    with pytest.raises(ValueError, match=r"image 'dense' has \d+ cells in one 64 px crop.*--set image_scale="):
        check_crop_density([dense], cfg)
    msg = ""
    try:
        check_crop_density([dense], cfg)
    except ValueError as exc:
        msg = str(exc)
    fits = float(msg.split("image_scale=")[1].split()[0])
    check_crop_density([dense], cfg.with_overrides(image_scale=fits))   # the suggested scale fits


def test_yolo_images_with_more_boxes_than_the_targets_hold_are_refused_first():
    from yolo_transfer.data import check_boxes

    s = load("synthetic:blood", "train", n_images=2, size=128)
    most = max(len(x.boxes) for x in s)
    with pytest.raises(ValueError, match=f"has {most} boxes, more than max_boxes 2: pass --set max_boxes={most}"):
        check_boxes(s, "training", max_boxes=2)


def test_sdrdin_refuses_small_images_and_missing_classes_before_writing(tmp_path, capsys):
    from sdrdin.config import SDRDINConfig
    from sdrdin.train import check_trainable

    tiny = load("synthetic:mihc6", "train", n_images=2, size=64)
    with pytest.raises(ValueError, match="smaller than the 96x96 network input"):
        check_trainable(SDRDINConfig.quick(), tiny, tiny)
    rows = ["image,x,y", "a.png,10,10", "b.png,20,20", "c.png,30,30", "d.png,5,5"]
    folder = _folder(tmp_path / "f", rows, images=("a", "b", "c", "d"), size=128,
                     splits={"train": ["a", "b"], "val": ["c"], "test": ["d"]})
    out = tmp_path / "run"
    assert paper_cli("sdrdin")(["train", "--data", str(folder), "--quick", "--out", str(out)]) == 2
    assert "needs a class per cell" in capsys.readouterr().err and not out.exists()


def test_config_values_that_are_not_finite_or_not_positive_are_refused():
    from pointnet_cells.config import PointNetConfig
    from sdrdin.config import SDRDINConfig
    from yolo_transfer.config import YoloConfig

    for cfg, item in ((SDRDINConfig.quick(), "learning_rate=Infinity"), (PointNetConfig.quick(), "alpha=NaN"),
                      (YoloConfig.quick(), "jitter=NaN")):
        with pytest.raises(ValueError, match="finite number"):
            cfg.with_text_overrides([item])
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        SDRDINConfig.quick().with_text_overrides(["batch_size=0"])


def test_predict_outputs_never_collide_with_counts_csv(tmp_path):
    from common.paper_cli import COUNTS_FILE, output_names

    names = output_names([str(tmp_path / "counts.png"), str(tmp_path / "counts_cells.png")])
    files = {f for stem in names for f in (f"{stem}_cells.csv", f"{stem}.geojson", f"{stem}_overlay.jpg")}
    assert COUNTS_FILE not in files and len(files) == 6


def test_points_csv_blank_class_reads_as_unclassified(tmp_path):
    from common.io import read_points_csv

    (tmp_path / "p.csv").write_text("image,x,y,class\na.png,1,1,\na.png,2,2,2.0\na.png,3,3,Unclassified\n")
    assert list(read_points_csv(tmp_path / "p.csv")["class"]) == ["", "2", ""]
    assert isinstance(pd.read_csv(tmp_path / "p.csv"), pd.DataFrame)
