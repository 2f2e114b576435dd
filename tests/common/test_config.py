"""The config base: presets, variants, typed overrides, JSON round trips, save/load."""

import json
from dataclasses import dataclass

import pytest

from common.config import PaperConfig, parse_key_values


@dataclass
class ToyConfig(PaperConfig):
    PAPER = "toy"
    TABLE = "Table 9"
    QUICK = {"epochs": 2, "lr": 0.1}
    VARIANTS = {"Big": {"width": 2.0}, "NoWeights": {"scheme": None}}
    EPOCH_FIELDS = ("epochs", "head_epochs")

    data: str = "synthetic:toy"
    epochs: int = 100
    head_epochs: int = 50
    lr: float = 1e-3
    width: float = 1.0
    scheme: str | None = "exp1"
    radii: tuple = (5.0, 8.0)
    flag: bool = False
    head_lr: float = 1e-4
    head_units: int = 200

    def validate(self):
        if self.width <= 0:
            raise ValueError(f"width must be > 0, got {self.width}")


def test_quick_variant_and_describe():
    q = ToyConfig.quick()
    assert q.epochs == 2 and q.lr == 0.1 and q.preset == "quick" and q.overrides == {}
    big = q.variant("Big")
    assert big.width == 2.0 and big.variant_name == "Big"
    assert big.describe() == "ToyConfig.quick(), row Big"
    with pytest.raises(ValueError, match="unknown Table 9 row 'Small'"):
        q.variant("Small")


def test_typed_overrides_are_checked_and_recorded():
    c = ToyConfig().with_text_overrides(["lr=1e-2", "radii=[3, 4]", "scheme=none", "flag=true", "epochs=7"])
    assert (c.lr, c.radii, c.scheme, c.flag, c.epochs) == (0.01, (3, 4), None, True, 7)
    assert c.overrides == {"lr": 0.01, "radii": [3, 4], "scheme": None, "flag": True, "epochs": 7}
    assert "overrides lr=0.01" in c.describe()
    assert ToyConfig().with_overrides(lr=1).lr == 1.0 and isinstance(ToyConfig().with_overrides(lr=1).lr, float)
    with pytest.raises(ValueError, match="unknown ToyConfig field 'lrr'; did you mean lr"):
        ToyConfig().with_overrides(lrr=1)
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        ToyConfig().with_text_overrides(["epochs=1.5"])
    with pytest.raises(ValueError, match="flag must be true/false"):
        ToyConfig().with_text_overrides(["flag=yes"])
    with pytest.raises(ValueError, match="lr must be a number"):
        ToyConfig().with_text_overrides(["lr=fast"])
    with pytest.raises(ValueError, match="radii must be a list"):
        ToyConfig().with_overrides(radii=3)
    with pytest.raises(ValueError, match="lr cannot be None"):
        ToyConfig().with_overrides(lr=None)
    with pytest.raises(ValueError, match="width must be > 0"):
        ToyConfig().with_overrides(width=-1)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_key_values(["lr"])
    with pytest.raises(ValueError, match="twice"):
        parse_key_values(["lr=1", "lr=2"])


def test_epoch_cap_reaches_every_epoch_field():
    c = ToyConfig().cap_epochs(3)
    assert (c.epochs, c.head_epochs) == (3, 3) and c.overrides["epochs_cap"] == 3
    assert ToyConfig.quick().cap_epochs(10).epochs == 2   # a cap never raises the count
    assert ToyConfig().cap_epochs(None) == ToyConfig()
    with pytest.raises(ValueError, match="epochs must be a positive"):
        ToyConfig().cap_epochs(0)


def test_group_by_prefix():
    assert ToyConfig().group("head_") == {"epochs": 50, "lr": 1e-4, "units": 200}
    with pytest.raises(ValueError, match="no fields"):
        ToyConfig().group("tail_")


def test_json_round_trip_keeps_tuples_and_save_load(tmp_path):
    c = ToyConfig.quick().variant("Big").with_overrides(radii=(1.0, 2.0))
    d = json.loads(c.to_json())
    assert d["paper"] == "toy" and d["radii"] == [1.0, 2.0]
    back = ToyConfig.from_dict(d)
    assert back == c and isinstance(back.radii, tuple)
    c.save(tmp_path)
    assert ToyConfig.load(tmp_path) == c
    assert oct((tmp_path / "config.json").stat().st_mode & 0o777) != oct(0o600)   # follows the umask


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        ToyConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("")
    with pytest.raises(ValueError, match="config.json: not a readable config"):
        ToyConfig.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"paper": "mapde", "width": 1.0}))
    with pytest.raises(ValueError, match="for the 'mapde' package, not 'toy'"):
        ToyConfig.load(tmp_path)


def test_every_table_says_where_its_choices_were_made():
    # The selection protocol (issue 25): a quick table's provenance says how the preset's values were chosen.
    with pytest.raises(ValueError, match="ToyConfig.CHOICES is empty"):
        ToyConfig.quick().choices_note()
    paper = ToyConfig().choices_note()
    assert paper.startswith("the paper's values") and paper.endswith("calibrated on the validation split only")

    @dataclass
    class Chosen(ToyConfig):
        CHOICES = "epochs chosen on validation at seeds 1-3"

    note = Chosen.quick(lr=0.2).choices_note()
    assert note.startswith("quick preset: epochs chosen on validation at seeds 1-3") and "overrides set by the " \
        "command: lr" in note


def test_every_paper_states_its_quick_choices():
    from common import contract

    for name in contract.names():
        cls = contract.get(name).config_class()
        assert len(cls.CHOICES) > 30, f"{cls.__name__}.CHOICES must say how the quick preset was chosen"
        assert cls.quick().choices_note().startswith("quick preset: ")
