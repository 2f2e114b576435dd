import pytest

from sdrdin import TABLE2_ROWS, TABLE3_ROWS, VARIANTS, SDRDINConfig


def test_defaults_are_the_papers():
    c = SDRDINConfig()
    assert (c.input_size, c.patch_stride, c.radius) == (224, 120, 2.0)                 # section 2.2
    assert (c.learning_rate, c.batch_size, c.epochs) == (1e-3, 4, 100)                 # section 2.3
    assert (c.min_area, c.peak_window, c.dilate_radius, c.vote_box) == (50, 15, 2, 49)   # section 2.5
    assert (c.match_radius, c.n_splits, c.val_fraction) == (10.0, 3, 0.3)
    assert (c.base_filters, c.depth, c.stop_gradient, c.branches) == (16, 4, True, "both")


def test_one_variant_per_table_row():
    assert set(TABLE2_ROWS) | set(TABLE3_ROWS) == set(VARIANTS)
    v = {row: SDRDINConfig().variant(row) for row in VARIANTS}
    assert v["S-DRDIN"].stop_gradient and not v["S-DRDIN-gradient"].stop_gradient
    assert v["DRDIN-detection"].branches == "detection" and v["DRDIN-classification"].branches == "classification"
    assert v["U-Net"].model == "unet" and v["CONCORDe-Net"].model == "concordenet"
    assert SDRDINConfig.quick().n_splits == 1 and SDRDINConfig.quick().preset == "quick"


@pytest.mark.parametrize("bad, match", [
    (dict(branches="both_ways"), "branches"), (dict(model="yolo"), "model"), (dict(input_size=100), "divisible"),
    (dict(peak_window=14), "odd"), (dict(class_weighting="inverse"), "class_weighting"),
    (dict(patch_stride=0), "patch_stride"), (dict(val_fraction=1.0), "val_fraction"),
])
def test_bad_values_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        SDRDINConfig(**bad)


def test_config_round_trips(tmp_path):
    c = SDRDINConfig.quick().variant("S-DRDIN-gradient").with_overrides(epochs=3)
    c.save(tmp_path)
    assert SDRDINConfig.load(tmp_path) == c
