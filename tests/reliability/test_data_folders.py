"""A user's data folder is never silently mixed up: stem collisions, overlapping splits, duplicate rows."""

import numpy as np
import pytest

from common.datasets import load
from common.io import write_image


def _folder(root, names=("a.png", "b.png", "c.png", "d.png"), rows=None):
    (root / "images").mkdir(parents=True)
    for n in names:
        write_image(root / "images" / n, np.full((40, 40, 3), 200, np.uint8))
    rows = rows or ["image,x,y"] + [f"{n},{10 + k},{12 + k}" for k, n in enumerate(names)]
    (root / "points.csv").write_text("\n".join(rows) + "\n")
    return root


def test_two_images_with_the_same_stem_are_refused(tmp_path):
    _folder(tmp_path, ("img03.png", "img03.tif", "b.png"))
    with pytest.raises(ValueError, match="differ only in the extension.*img03.png, img03.tif"):
        load(str(tmp_path), split="all")


def test_overlapping_splits_are_refused_naming_the_images(tmp_path):
    _folder(tmp_path)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "train.txt").write_text("a\nb\nc\n")
    (tmp_path / "splits" / "val.txt").write_text("d\n")
    (tmp_path / "splits" / "test.txt").write_text("c\n")
    with pytest.raises(ValueError, match="1 image.* in both train.txt and test.txt \\(c\\)"):
        load(str(tmp_path), split="train")
    (tmp_path / "splits" / "test.txt").write_text("d\nd\n")
    with pytest.raises(ValueError, match="in both val.txt and test.txt|lists image"):
        load(str(tmp_path), split="train")


def test_duplicate_annotation_rows_are_dropped_with_a_warning(tmp_path):
    rows = ["image,x,y", "a.png,10,10", "a.png,10,10", "a.png,20,20", "b.png,5,5", "b.png,5.3,5"]
    _folder(tmp_path, ("a.png", "b.png"), rows)
    with pytest.warns(UserWarning) as record:
        samples = load(str(tmp_path), split="all")
    text = " ".join(str(w.message) for w in record)
    assert "dropped 1 exact duplicate" in text and "closer than 1 px" in text
    by_name = {s.name: s for s in samples}
    assert len(by_name["a"].points) == 2 and len(by_name["b"].points) == 2
