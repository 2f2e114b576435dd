import pytest

from common import contract


def test_synthetic_names_the_papers_own_kind_and_refuses_an_empty_name():
    names = {p: contract.get(p).data_name("synthetic") for p in ("awarenet", "mapde", "sdrdin")}
    assert names == {"awarenet": "synthetic:mihc", "mapde": "synthetic:he", "sdrdin": "synthetic:mihc6"}
    mapde = contract.get("mapde")
    assert mapde.data_name("crchisto") == "crchisto" and mapde.data_name("synthetic:mihc") == "synthetic:mihc"
    assert mapde.data_name("synthetic:images=3:size=256") == "synthetic:he:images=3:size=256"
    for bad in ("", None):
        with pytest.raises(ValueError, match="data must be a dataset name or folder"):
            mapde.data_name(bad)


def test_synthetic_sizes_in_the_name_replace_the_papers():
    mapde = contract.get("mapde")
    default = mapde.load_split("synthetic", "train", 0)
    assert len(default) == mapde.synthetic_splits["train"][0]
    small = mapde.load_split("synthetic:images=2:size=64", "val", 0)
    assert len(small) == 2 and small[0].image.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="images must be a whole number"):
        mapde.load_split("synthetic:images=x", "val", 0)


def test_tuned_columns_name_the_values_on_an_edge():
    from common.reproduce import tuned_columns

    assert tuned_columns({"threshold": 0.4, "F1": 0.8, "edge": []}) == {"threshold": 0.4, "on edge": "-"}
    assert tuned_columns({"threshold": 1, "min_distance": 3, "edge": ["threshold", "min_distance"]}) == \
        {"threshold": 1.0, "min_distance": 3, "on edge": "threshold, min_distance"}
    assert tuned_columns({"threshold": 0.01, "edge": "lowest"})["on edge"] == "lowest"
    assert tuned_columns({"threshold": 0.5, "edge": None})["on edge"] == "-"
