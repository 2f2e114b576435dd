import numpy as np
import pytest

from common.boxes import as_boxes, average_precision, box_iou, count_errors, detection_ap, match_boxes
from common.datasets import Sample
from common.inference import Detections

NAMES = ("a", "b")


def _truth(boxes, classes, size=200):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return Sample(np.zeros((size, size, 3), np.uint8), (boxes[:, :2] + boxes[:, 2:]) / 2, np.asarray(classes),
                  NAMES, boxes=boxes)


def _det(boxes, classes, scores):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return Detections((boxes[:, :2] + boxes[:, 2:]) / 2, np.asarray(classes), np.asarray(scores, float),
                      class_names=NAMES, boxes=boxes)


def test_iou_of_hand_made_boxes():
    a = [[0, 0, 10, 10]]
    assert box_iou(a, [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]).tolist() == [[1.0, 50 / 150, 0.0]]


def test_ap_of_a_hand_computed_example():
    """Two images, three ground truths of class a; five ranked detections: TP, FP, TP, FP(duplicate), TP.
    Precision 1, 1/2, 2/3, 2/4, 3/5 at recall 1/3, 1/3, 2/3, 2/3, 1: the envelope gives
    AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 0.7556 (VOC all-point)."""
    t1 = _truth([[0, 0, 20, 20], [50, 50, 80, 80]], [0, 0])
    t2 = _truth([[100, 100, 140, 140]], [0])
    d1 = _det([[1, 1, 20, 20], [150, 150, 170, 170], [52, 50, 80, 80], [0, 0, 19, 21]], [0, 0, 0, 0],
              [0.9, 0.8, 0.7, 0.6])
    d2 = _det([[100, 101, 140, 140]], [0], [0.5])
    ap = detection_ap([d1, d2], [t1, t2])
    assert ap.loc["a", "AP"] == pytest.approx(1 / 3 + 2 / 9 + 1 / 5)
    assert (ap.loc["a", "TP"], ap.loc["a", "FP"], ap.loc["a", "ground truth"]) == (3, 2, 3)
    assert np.isnan(ap.loc["b", "AP"]) and ap.loc["mAP", "AP"] == pytest.approx(ap.loc["a", "AP"])
    # a detection of the wrong class is no match
    wrong = _det([[1, 1, 20, 20]], [1], [0.9])
    assert detection_ap([wrong, _det([], [], [])], [t1, t2]).loc["a", "AP"] == 0.0


def test_voc_rule_a_detection_takes_its_best_truth_or_is_a_false_positive():
    gt = [[0, 0, 10, 10]]
    assert match_boxes([[0, 0, 10, 10], [0, 0, 10, 9]], [0.5, 0.9], gt).tolist() == [False, True]
    assert match_boxes([[0, 0, 10, 10]], [0.5], np.zeros((0, 4))).tolist() == [False]
    assert average_precision([0.5, 1.0], [1.0, 1.0]) == 1.0


def test_two_overlapping_truths_voc_devkit_against_coco():
    """Hand-computed: truths A = [0, 0, 10, 10] and B = [0, 2, 10, 12]; d1 = A (score 0.9) takes A;
    d2 = [0, 0.5, 10, 10.5] (0.8) overlaps A by 95 / 105 = 0.905 and B by 85 / 115 = 0.739. The VOC
    devkit takes d2's best truth, A, already taken: a false positive. COCO falls back to B: a TP."""
    gt = [[0, 0, 10, 10], [0, 2, 10, 12]]
    det = [[0, 0, 10, 10], [0, 0.5, 10, 10.5]]
    assert box_iou(np.array(det[1:]), np.array(gt)).round(3).tolist() == [[0.905, 0.739]]
    assert match_boxes(det, [0.9, 0.8], gt, rule="voc").tolist() == [True, False]
    assert match_boxes(det, [0.9, 0.8], gt, rule="coco").tolist() == [True, True]
    # VOC counts an overlap of exactly the threshold as no match (">"), COCO as a match (">=")
    half = [[0, 0, 10, 5]]                                     # IoU with A = 50 / 100
    assert match_boxes(half, [1.0], gt[:1], rule="voc").tolist() == [False]
    assert match_boxes(half, [1.0], gt[:1], rule="coco").tolist() == [True]
    with pytest.raises(ValueError, match="rule must be one of"):
        match_boxes(det, [0.9, 0.8], gt, rule="yolo")


def test_box_checks():
    with pytest.raises(ValueError, match="zero or negative area"):
        as_boxes([[5, 5, 5, 9]])
    with pytest.raises(ValueError, match="outside"):
        as_boxes([[5, 5, 50, 9]], shape=(20, 20))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        as_boxes([[1, 2, 3]])
    with pytest.raises(ValueError, match="boxes for"):
        Detections(np.zeros((2, 2)), None, [1, 1], boxes=[[0, 0, 1, 1]])


def test_counts_per_class():
    t = _truth([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0, 0, 1])
    d = _det([[0, 0, 10, 10], [60, 60, 70, 70]], [0, 0], [0.9, 0.2])
    c = count_errors([d], [t], threshold=0.5)
    assert c.loc["a", "count MAE"] == 1 and c.loc["b", "count MAE"] == 1
    assert c.loc["a", "total count error"] == pytest.approx(-0.5)


def test_ap_agrees_with_pycocotools_on_the_same_detections():
    """pycocotools at IoU 0.5 with a fine recall grid (so its 101-point sampling converges to the
    all-point area), every detection kept and one area range: the same AP per class. Ground truths are
    kept apart, and the COCO matching rule is used."""
    coco_mod = pytest.importorskip("pycocotools.coco", reason="pycocotools is a test dependency")
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(0)
    truths, dets, images, annots, results = [], [], [], [], []
    for img in range(12):
        cells = rng.permutation(36)[:rng.integers(3, 12)]
        xy = np.stack([cells % 6 * 60 + 5, cells // 6 * 60 + 5], 1).astype(float)
        wh = rng.uniform(15, 45, (len(xy), 2))
        gt = np.concatenate([xy, xy + wh], 1)
        gc = rng.integers(0, 2, len(gt))
        keep = rng.uniform(size=len(gt)) < 0.8
        noisy = gt[keep] + rng.normal(0, 3, (keep.sum(), 4))
        extra = np.concatenate([xy[:3] + 20, xy[:3] + 40], 1)          # false positives
        db = np.concatenate([noisy, extra, gt[:2] + 1])                   # and duplicates
        dc = np.concatenate([np.where(rng.uniform(size=keep.sum()) < 0.9, gc[keep], 1 - gc[keep]),
                             rng.integers(0, 2, 3), gc[:2]])
        ds = rng.uniform(0.01, 1, len(db))
        db[:, 2:] = np.maximum(db[:, 2:], db[:, :2] + 1)
        truths.append(_truth(gt, gc, size=400))
        dets.append(_det(db, dc, ds))
        images.append({"id": img, "width": 400, "height": 400})
        for b, c in zip(gt, gc):
            annots.append({"id": len(annots) + 1, "image_id": img, "category_id": int(c), "iscrowd": 0,
                           "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})
        for b, c, s in zip(db, dc, ds):
            results.append({"image_id": img, "category_id": int(c), "score": float(s),
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    gt_api = coco_mod.COCO()
    gt_api.dataset = {"images": images, "annotations": annots, "categories": [{"id": 0}, {"id": 1}]}
    gt_api.createIndex()
    ev = COCOeval(gt_api, gt_api.loadRes(results), "bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.recThrs = np.linspace(0, 1, 100001)
    ev.params.maxDets = [1000]
    ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
    ev.evaluate()
    ev.accumulate()
    prec = ev.eval["precision"][0, :, :, 0, 0]          # (recall, class)
    theirs = [float(np.mean(np.where(prec[:, k] < 0, 0, prec[:, k]))) for k in range(2)]
    ours = detection_ap(dets, truths, rule="coco")
    assert [ours.loc[n, "AP"] for n in NAMES] == pytest.approx(theirs, abs=2e-4)


def test_box_intersection_and_area():
    from common.boxes import box_area, box_intersection

    a = [[0, 0, 10, 10], [5, 5, 7, 9]]
    assert box_area(a).tolist() == [100.0, 8.0]
    assert box_intersection(a, [[5, 0, 15, 10], [20, 20, 30, 30]]).tolist() == [[50.0, 0.0], [8.0, 0.0]]
