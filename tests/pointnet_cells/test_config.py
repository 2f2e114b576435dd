import pytest

from pointnet_cells import PointNetConfig
from pointnet_cells.config import Q_VALUES, TABLE1_ROWS, TABLE2_ROWS, VARIANTS


def test_defaults_are_the_papers():
    c = PointNetConfig()
    assert (c.alpha, c.beta, c.gamma, c.q, c.lam) == (0.05, 0.6, 0.1, 0.4, 2e-3)
    assert (c.learning_rate, c.weight_decay, c.match_radius) == (1e-4, 1e-4, 12.0)
    assert (c.anchor_stride, c.anchor_shift, c.density_kernel, c.density_sigma) == (32, 8.0, 7, 6.0)
    assert (c.bce_weight, c.iou_weight) == (0.8, 0.2) and c.data == "synthetic:pdl1"
    assert Q_VALUES == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def test_rows_of_both_tables():
    assert TABLE2_ROWS == ("Baseline", "Baseline+PFA", "Baseline+PFA+IC")
    assert TABLE1_ROWS == ("FCRN-A", "FCRN-B", "UNet", "ResUNet", "DeepLab v3+", "Zhang", "P2PNet", "ours")
    base = PointNetConfig()
    assert VARIANTS["P2PNet"] == VARIANTS["Baseline"] and VARIANTS["ours"] == VARIANTS["Baseline+PFA+IC"]
    b = base.variant("Baseline")
    assert (b.pfa, b.heads, b.cls_loss) == (False, "single", "ce")
    o = base.variant("ours")
    assert (o.pfa, o.heads, o.cls_loss) == (True, "independent", "gce")
    assert base.variant("DeepLab v3+").density_net == "deeplabv3plus" and base.variant("Zhang").model == "zhang"


def test_quick_preset_and_round_trip(tmp_path):
    q = PointNetConfig.quick()
    assert q.preset == "quick" and q.width < 1 and q.crop_size % 32 == 0
    q.save(tmp_path)
    assert PointNetConfig.load(tmp_path) == q


def test_peak_distance_search_starts_at_its_natural_limit():
    # issue 25: the density rows' best distance was 2, the grid's lowest, and so on an edge of the search;
    # from 1 px (calibrate's natural limit) a best first value is no edge, and quick keeps the grid
    for cfg in (PointNetConfig(), PointNetConfig.quick()):
        assert cfg.min_distances[0] == 1 and list(cfg.min_distances) == sorted(set(cfg.min_distances))


@pytest.mark.parametrize("kv, match", [
    ({"heads": "two"}, "heads"), ({"cls_loss": "mae"}, "cls_loss"), ({"q": 0.0}, "q must"),
    ({"crop_size": 100}, "multiple of 32"), ({"heads": "single", "cls_loss": "gce"}, "gce"),
    ({"anchor_shift": 16.0}, "anchor_shift"), ({"density_kernel": 6}, "odd"), ({"model": "yolo"}, "model"),
    ({"beta": -1.0}, "beta"), ({"min_distances": ()}, "min_distances"), ({"checkpoint_every": 0}, "checkpoint_every"),
])
def test_bad_values_are_refused(kv, match):
    with pytest.raises(ValueError, match=match):
        PointNetConfig().with_overrides(**kv)
