import pytest

from mapde import MapDeConfig
from mapde.config import PAPER_ROWS, TABLE1_ROWS


def test_config_presets_rows_and_errors():
    cfg = MapDeConfig()
    assert (cfg.input_size, cfg.width, cfg.radius, cfg.filter_size, cfg.pos_weight, cfg.learning_rate,
            cfg.lr_decay, cfg.epochs, cfg.deconv_iterations, cfg.match_radius) == (252, 1.0, 5.0, 11, 1000.0, 1e-3,
                                                                                  0.05, 100, 2, 6.0)
    assert PAPER_ROWS == ("Proposed", "MapDe-Peak", "MapDe-feat(L-1)", "Micro-Net-Peak", "SCCNN")
    assert TABLE1_ROWS == PAPER_ROWS + ("Proposed (label estimate)",)
    assert cfg.variant("Micro-Net-Peak").model == "micronet" and cfg.variant("Proposed").locate == "deconv"
    assert MapDeConfig.from_dict(cfg.quick().to_dict()) == cfg.quick()
    with pytest.raises(ValueError, match="252"):
        MapDeConfig(input_size=256)
    with pytest.raises(ValueError, match="unknown Table 1 row"):
        cfg.variant("U-net")
    with pytest.raises(ValueError, match="needs the MapDe model"):
        MapDeConfig(model="micronet", locate="deconv")
    with pytest.raises(ValueError, match="unknown MapDeConfig"):
        MapDeConfig.from_dict({"lr": 1})


def test_deconv_input_is_the_papers_raw_output_by_default():
    cfg = MapDeConfig()
    assert cfg.deconv_input == "raw" and cfg.variant("Proposed").deconv_input == "raw"
    assert cfg.variant("Proposed (label estimate)").deconv_input == "label_estimate"
    with pytest.raises(ValueError, match="deconv_input"):
        MapDeConfig(deconv_input="sigmoid")


def test_quick_preset_and_epoch_cap():
    q = MapDeConfig.quick()
    assert q.preset == "quick" and q.learning_rate == 0.05 and q.width == 0.0625
    capped = q.cap_epochs(3)
    assert (capped.epochs, capped.sccnn_epochs) == (3, 3) and "MapDeConfig.quick()" in capped.describe()
    assert MapDeConfig().group("sccnn_")["patch"] == 31
