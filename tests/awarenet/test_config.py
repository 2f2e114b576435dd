import json

import pytest

from awarenet import AwareNetConfig
from awarenet.config import TABLE2_ROWS


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weight_scheme="linear"), "weight_scheme"),
        (dict(model="resnet"), "model"),
        (dict(depth=1), "depth"),
        (dict(input_size=100, depth=4), "divisible"),
        (dict(classifier_patch=30), "classifier_patch"),
        (dict(epochs=0), "epochs"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AwareNetConfig(**kwargs)


def test_paper_defaults_quick_preset_and_rows():
    cfg = AwareNetConfig()
    assert (cfg.input_size, cfg.base_filters, cfg.depth, cfg.radius, cfg.learning_rate, cfg.batch_size,
            cfg.epochs, cfg.match_radius, cfg.dice_eps) == (256, 16, 4, 4.0, 1e-4, 16, 300, 10.0, 1e-5)
    q = AwareNetConfig.quick()
    assert q.preset == "quick" and q.learning_rate == 1e-3 and q.input_size == 96 and not q.overrides
    assert TABLE2_ROWS == ("ExpWeightType1", "RatioWeight", "ExpWeightType2", "CONCORDe-Net", "U-net")


def test_config_variants_and_json_round_trip():
    cfg = AwareNetConfig.quick()
    assert cfg.variant("U-net").weight_scheme is None and cfg.variant("RatioWeight").weight_scheme == "ratio"
    assert cfg.variant("CONCORDe-Net").model == "concordenet"
    assert cfg.variant("U-net").variant_name == "U-net"
    with pytest.raises(ValueError, match="unknown Table 2 row"):
        cfg.variant("ExpWeightType3")
    assert AwareNetConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ValueError, match="unknown AwareNetConfig field"):
        AwareNetConfig.from_dict({"lr": 1})


def test_epoch_cap_reaches_every_trained_model():
    cfg = AwareNetConfig().cap_epochs(2)
    assert (cfg.epochs, cfg.counter_epochs, cfg.classifier_epochs) == (2, 2, 2)
    assert cfg.overrides == {"epochs_cap": 2}


def test_classifier_group():
    g = AwareNetConfig().group("classifier_")
    assert g == {"patch": 28, "base": 16, "depth": 3, "dense": 200, "dropout": 0.3, "lr": 1e-4, "batch": 32,
                 "epochs": 300, "patience": 30}
