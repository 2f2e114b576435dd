import numpy as np
import pytest

from common.labels import disk_mask
from sdrdin.inference import SDRDINPredictor, locate
from sdrdin.model import SDRDIN
from sdrdin.paper import load
from tests.sdrdin.helpers import tiny


def test_post_processing_splits_touching_blobs_and_drops_small_noise():
    """Two touching cells of radius 7 (centres 12 px apart) and a 3 px speck; section 2.5 constants."""
    m = disk_mask([[30, 40], [42, 40]], (80, 80), 7.5).astype(np.float32) * 0.9
    m[5:7, 70:72] = 0.95                                      # 4 px: under min_area 50
    pts = locate(m, 0.5, tiny(min_area=50, peak_window=7, dilate_radius=2))
    assert len(pts) == 2
    np.testing.assert_allclose(sorted(pts[:, 0]), [30, 42], atol=2.5)
    np.testing.assert_allclose(pts[:, 1], [40, 40], atol=1.5)


def test_the_concordenet_row_takes_component_centres_and_others_the_blob_pipeline():
    from sdrdin.inference import method_of, thresholds

    m = disk_mask([[30, 40], [42, 40]], (80, 80), 7.5).astype(np.float32) * 0.9   # touching cells
    assert method_of(tiny("CONCORDe-Net")) == "components" and method_of(tiny("S-DRDIN")) == "blobs"
    assert len(locate(m, 0.5, tiny("CONCORDe-Net"))) == 1           # one component: CONCORDe-Net's own rule
    assert len(locate(m, 0.5, tiny("S-DRDIN", min_area=50, peak_window=7))) == 2
    t = thresholds(24)
    assert t[0] == pytest.approx(1e-4) and t[-1] == pytest.approx(0.99) and np.all(np.diff(np.log(t)) > 0)


def test_quick_preset_departs_from_section_2_5_and_the_paper_preset_does_not():
    from sdrdin import SDRDINConfig

    q, p = SDRDINConfig.quick(), SDRDINConfig()
    assert (q.min_area, q.peak_window, q.vote_box) == (10, 7, 3)
    assert (p.min_area, p.peak_window, p.vote_box) == (50, 15, 49)
    assert q.batch_size == p.batch_size == 4 and q.learning_rate == p.learning_rate


def _predictor(**kw):
    cfg = tiny(**kw)
    net = SDRDIN(3, 32, 4, 3)
    return SDRDINPredictor(net, cfg, class_names=("a", "b", "c"), classifier=net)


def test_class_is_the_argmax_of_the_mean_probability_in_the_box():
    """Eq. 3: in the 9x9 box, class b has a high probability on a few pixels but class c a moderate one on
    all of them: the mean picks c (a per-pixel majority would too; the max would pick b)."""
    pred = _predictor(min_area=1, peak_window=3, vote_box=9)
    det = np.zeros((40, 40), np.float32)
    det[19:22, 19:22] = 0.9
    cls = np.zeros((40, 40, 4), np.float32)
    cls[..., 3] = 1.0                                          # background elsewhere
    cls[16:25, 16:25] = (0.1, 0.2, 0.6, 0.1)
    cls[20, 20] = (0.0, 0.95, 0.05, 0.0)
    d = pred.detect({"det": det, "class": cls}, np.zeros((40, 40, 3), np.uint8), threshold=0.5)
    assert len(d) == 1 and d.class_names == ("a", "b", "c")
    assert d.classes[0] == 2
    np.testing.assert_allclose(d.class_probabilities.sum(1), 1.0)
    assert d.scores[0] == pytest.approx(0.9)


def test_the_papers_49_box_reaches_24_px_from_the_cell_and_no_further():
    """Eq. 3 with the paper's 49 x 49 box: class-c pixels 24 px from the cell vote, 25 px away do not."""
    pred = _predictor(min_area=1, peak_window=3, vote_box=49)
    det = np.zeros((100, 100), np.float32)
    det[49:52, 49:52] = 0.9                                    # one cell centred at (50, 50)
    cls = np.zeros((100, 100, 4), np.float32)
    cls[..., 3] = 1.0
    cls[50, 50] = (0.6, 0.0, 0.0, 0.4)                         # the cell itself: class a
    cls[50, 26] = cls[50, 74] = (0.0, 0.0, 0.5, 0.5)           # 24 px left and right: class c, inside the box
    d = pred.detect({"det": det, "class": cls}, np.zeros((100, 100, 3), np.uint8), threshold=0.5)
    assert d.classes.tolist() == [2]                           # 2 x 0.5 beats 0.6
    cls[50, 25] = cls[50, 75] = (0.0, 0.0, 0.5, 0.5)
    cls[50, 26] = cls[50, 74] = (0.0, 0.0, 0.0, 1.0)
    d = pred.detect({"det": det, "class": cls}, np.zeros((100, 100, 3), np.uint8), threshold=0.5)
    assert d.classes.tolist() == [0]


def test_detection_only_pipeline_gives_points_without_classes():
    net = SDRDIN(3, 32, 4, 3, branches="detection")
    pred = SDRDINPredictor(net, tiny(min_area=1, peak_window=3))
    det = np.zeros((32, 32), np.float32)
    det[10:13, 10:13] = 0.8
    d = pred.detect({"det": det}, np.zeros((32, 32, 3), np.uint8), threshold=0.5)
    assert len(d) == 1 and d.classes is None


def test_bad_pipelines_are_refused():
    with pytest.raises(ValueError, match="detection output"):
        SDRDINPredictor(SDRDIN(3, 32, 4, 3, branches="classification"), tiny())
    with pytest.raises(ValueError, match="2 class names"):
        net = SDRDIN(3, 32, 4, 3)
        SDRDINPredictor(net, tiny(), class_names=("a", "b"), classifier=net)
    with pytest.raises(FileNotFoundError, match="no run folder, model file or preset named"):
        load("/nonexistent/run")


def test_a_trained_run_loads_and_predicts_the_same(splits, tmp_path):
    from sdrdin.train import train

    tr, va, te = splits
    pred = train(tiny("S-DRDIN"), tr, va, tmp_path / "run", verbose=0)
    back = load(tmp_path / "run")
    a, b = pred.predict(te[0].image), back.predict(te[0].image)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.classes, b.classes)
    assert b.class_names == tuple(tr.class_names)
    # large images are tiled on the pooling grid with the receptive field as margin: same maps as one pass
    big = np.tile(te[0].image, (4, 4, 1))
    one = back.maps(big)["det"]
    back.tile_size, back.batch_size = 128, 2
    assert back.margin >= back.reach
    tiled = back.maps(big)["det"]
    np.testing.assert_allclose(tiled, one, atol=1e-5)
