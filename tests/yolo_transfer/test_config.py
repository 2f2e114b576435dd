import pytest

from yolo_transfer import YoloConfig


def test_paper_defaults_quick_preset_and_rows(tmp_path):
    cfg = YoloConfig()
    assert (cfg.model, cfg.input_size, cfg.ignore_thresh, cfg.learning_rate, cfg.anchors) == ("yolov3", 416, 0.5,
                                                                                              1e-3, "kmeans")
    assert cfg.stage_modules == (("darknet",), ("multiscale",), ("multiscale", "detection"))
    assert cfg.multiscale_sizes == tuple(range(320, 609, 32)) and cfg.n_scales == 3
    q = YoloConfig.quick()
    assert q.model == "tiny" and q.n_scales == 2 and q.preset == "quick"
    assert q.variant("scratch").transfer is False and q.variant("transfer").transfer is True
    q.save(tmp_path)
    assert YoloConfig.load(tmp_path) == q


@pytest.mark.parametrize("field, value, message", [
    ("model", "yolov5", "model"), ("input_size", 100, "multiple of 32"), ("anchors", "auto", "anchors"),
    ("stage_modules", (("darknet",), ("neck",), ("detection",)), "stage_modules"),
    ("multiscale_sizes", (320, 330), "multiscale_sizes"), ("ignore_thresh", 1.5, "ignore_thresh"),
    ("objectness_prior", 1.0, "objectness_prior"), ("bn_momentum", 1.0, "bn_momentum"),
    ("scale", (2.0, 1.0), "scale"), ("max_boxes", 0, "max_boxes")])
def test_bad_values_get_clear_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        YoloConfig().with_overrides(**{field: value})
