

def test_synthetic_alias_names_the_papers_own_kind_and_refuses_an_empty_name():
    import pytest

    from awarenet.reproduce import data_name as awarenet_data
    from common.reproduce import synthetic_alias
    from mapde.reproduce import data_name as mapde_data
    from sdrdin.reproduce import data_name as sdrdin_data

    assert (awarenet_data("synthetic"), mapde_data("synthetic"), sdrdin_data("synthetic")) == (
        "synthetic:mihc", "synthetic:he", "synthetic:mihc6")
    assert synthetic_alias("crchisto", "he") == "crchisto" and synthetic_alias("synthetic:he", "mihc") == "synthetic:he"
    for bad in ("", None):
        with pytest.raises(ValueError, match="data must be a dataset name or folder"):
            synthetic_alias(bad, "he")
