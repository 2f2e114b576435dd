import json

import numpy as np
import pandas as pd

from common.io import write_image
from tests.conftest import paper_cli

cli = paper_cli("mapde")



def test_train_each_model_and_predict_with_each_method(tmp_path, user_folder, capsys):
    data, _ = user_folder("he", 5, 256)
    tiny = ["--quick", "--epochs", "1", "--set", "width=0.03125", "--set", "steps_per_epoch=2", "--verbose", "0"]
    run = tmp_path / "run"
    assert cli(["train", "--data", str(data), *tiny, "--out", str(run)]) == 0
    pp = json.loads((run / "postprocess.json").read_text())
    assert pp["method"] == "deconv" and set(pp["params"]) == {"deconv", "deconv:label_estimate", "peak", "feat"}
    assert pp["params"]["deconv"]["deconv_input"] == "raw"
    img = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    write_image(tmp_path / "big.png", img)
    for method in ("deconv", "peak", "feat"):
        out = tmp_path / f"pred_{method}"
        assert cli(["predict", str(tmp_path / "big.png"), "--model", str(run), "--out", str(out),
                    "--method", method]) == 0
        pts = pd.read_csv(out / "big_cells.csv")
        assert ((pts["x"] < 420) & (pts["y"] < 300)).all()
    assert cli(["predict", str(tmp_path / "big.png"), "--model", str(run), "--out", str(tmp_path / "le"),
                "--deconv-input", "label_estimate"]) == 0
    sc = tmp_path / "sccnn"
    assert cli(["train", "--row", "SCCNN", "--data", str(data), *tiny, "--set", "sccnn_patches=256",
                "--out", str(sc)]) == 0
    assert json.loads((sc / "postprocess.json").read_text())["method"] == "peak"
    assert json.loads((sc / "config.json").read_text())["variant_name"] == "SCCNN"
    assert cli(["predict", str(tmp_path / "big.png"), "--model", str(sc), "--out", str(tmp_path / "x"),
                "--method", "deconv"]) == 2
    assert "locates cells by ['peak']" in capsys.readouterr().err


def test_reproduce_set_overrides_config_fields(capsys):
    assert cli(["reproduce", "--quick", "--set", "widht=0.1"]) == 2
    assert "unknown MapDeConfig field 'widht'; did you mean width" in capsys.readouterr().err
    assert cli(["reproduce", "--quick", "--set", "width"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli(["reproduce", "--quick", "--set", "width=9"]) == 2
    assert "width must be in (0, 4]" in capsys.readouterr().err
    assert cli(["reproduce", "--quick", "--set", "min_distances=3"]) == 2
    assert "min_distances must be a list" in capsys.readouterr().err
