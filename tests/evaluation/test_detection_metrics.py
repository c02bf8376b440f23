"""Detection metrics against hand-computed cases, and a cross-check with pycocotools when installed."""

from __future__ import annotations

import math
from contextlib import ExitStack as DoesNotRaise
from typing import Any

import numpy as np
import pytest

from ownvision.evaluation.detection import average_precision, detection_metrics, iou_matrix

A = (0.1, 0.1, 0.2, 0.2)
B = (0.6, 0.6, 0.2, 0.2)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (A, A, 1.0),
        (A, B, 0.0),
        ((0.0, 0.0, 0.4, 0.4), (0.0, 0.0, 0.4, 0.2), 0.5),
        ((0.0, 0.0, 0.4, 0.4), (0.2, 0.0, 0.4, 0.4), 0.08 / 0.24),
        ((0.0, 0.0, 1.0, 1.0), (1.0, 0.0, 1.0, 1.0), 0.0),  # touching edges
        ((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0), 0.0),  # empty boxes
    ],
)
def test_iou_matrix_pairs(a: tuple[float, ...], b: tuple[float, ...], expected: float) -> None:
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_iou_matrix_shape() -> None:
    assert iou_matrix(np.array([A, B, A]), np.array([A, B])).shape == (3, 2)
    assert iou_matrix(np.zeros((0, 4)), np.array([A])).shape == (0, 1)


@pytest.mark.parametrize(
    "tp, n_gt, expected",
    [
        ([1, 0], 1, 1.0),
        ([0, 1, 1], 2, 2 / 3),  # envelope: 2/3 at both recall steps
        ([1, 0, 1], 2, 0.5 * 1 + 0.5 * 2 / 3),
        ([1], 3, 1 / 3),
        ([], 2, 0.0),
        ([0, 0], 2, 0.0),
        ([1, 1, 0, 0, 1], 4, 0.5 + 0.25 * 3 / 5),
    ],
)
def test_average_precision_hand_computed(tp: list[int], n_gt: int, expected: float) -> None:
    hits = np.array(tp, dtype=bool)
    cum = np.cumsum(hits)
    recall = cum / n_gt
    precision = cum / np.arange(1, len(hits) + 1) if len(hits) else np.zeros(0)
    assert average_precision(recall, precision) == pytest.approx(expected)


# (ground truth, detections, expected mAP, expected precision@0.5, expected recall@0.5)
CASES: list[tuple[str, Any, Any, float, float, float]] = [
    ("perfect", [[(0, A)]], [[(0, 0.9, A)]], 1.0, 1.0, 1.0),
    ("extra false positive below", [[(0, A)]], [[(0, 0.9, A), (0, 0.8, B)]], 1.0, 0.5, 1.0),
    ("false positive ranked first", [[(0, A)], [(0, A)]], [[(0, 0.9, B), (0, 0.8, A)], [(0, 0.7, A)]], 2 / 3, 2 / 3, 1.0),
    ("duplicate is a false positive", [[(0, A)]], [[(0, 0.9, A), (0, 0.8, A)]], 1.0, 0.5, 1.0),
    ("wrong class", [[(0, A)]], [[(1, 0.9, A)]], 0.0, 0.0, 0.0),
    ("missed boxes", [[(0, A), (0, B)], [(0, A)]], [[(0, 0.9, A)], []], 1 / 3, 1.0, 1 / 3),
    ("IoU exactly at threshold", [[(0, (0.0, 0.0, 0.4, 0.4))]], [[(0, 0.9, (0.0, 0.0, 0.4, 0.2))]], 1.0, 1.0, 1.0),
    ("IoU just below threshold", [[(0, (0.0, 0.0, 0.4, 0.4))]], [[(0, 0.9, (0.0, 0.0, 0.4, 0.19))]], 0.0, 0.0, 0.0),
    ("score threshold cuts a true positive", [[(0, A), (0, B)]], [[(0, 0.9, A), (0, 0.4, B)]], 1.0, 1.0, 0.5),
    ("detection in the wrong image", [[(0, A)], []], [[], [(0, 0.9, A)]], 0.0, 0.0, 0.0),
    (
        "best unmatched box is claimed",  # the 2nd detection overlaps both, the better one is taken already
        [[(0, (0.0, 0.0, 0.4, 0.4)), (0, (0.1, 0.0, 0.4, 0.4))]],
        [[(0, 0.9, (0.1, 0.0, 0.4, 0.4)), (0, 0.8, (0.05, 0.0, 0.4, 0.4))]],
        1.0, 1.0, 1.0,
    ),
    ("two classes averaged", [[(0, A), (1, B)]], [[(0, 0.9, A), (1, 0.8, A)]], 0.5, 0.5, 0.5),
]


@pytest.mark.parametrize("name, truth, dets, m_ap, precision, recall", CASES, ids=[c[0] for c in CASES])
def test_detection_metrics_cases(name: str, truth: Any, dets: Any, m_ap: float, precision: float, recall: float) -> None:
    m = detection_metrics(truth, dets, num_classes=2)
    assert m.mean_average_precision == pytest.approx(m_ap)
    assert m.precision == pytest.approx(precision)
    assert m.recall == pytest.approx(recall)


def test_detection_metrics_class_without_ground_truth_is_left_out() -> None:
    m = detection_metrics([[(0, A)]], [[(0, 0.9, A), (1, 0.8, B)]], num_classes=2)
    assert math.isnan(m.per_class[1].average_precision)
    assert m.per_class[1].detections == 1 and m.per_class[1].ground_truth == 0
    assert m.mean_average_precision == 1.0
    assert m.precision == pytest.approx(0.5)  # the class-1 detection still counts against precision


def test_detection_metrics_iou_threshold_changes_matches() -> None:
    truth, dets = [[(0, (0.0, 0.0, 0.4, 0.4))]], [[(0, 0.9, (0.0, 0.0, 0.4, 0.3))]]  # IoU 0.75
    assert detection_metrics(truth, dets, 1, iou_threshold=0.7).mean_average_precision == 1.0
    assert detection_metrics(truth, dets, 1, iou_threshold=0.8).mean_average_precision == 0.0


def test_detection_metrics_empty() -> None:
    m = detection_metrics([[], []], [[], []], num_classes=3)
    assert math.isnan(m.mean_average_precision)
    assert (m.precision, m.recall) == (0.0, 0.0)


@pytest.mark.parametrize(
    "truth, dets, num_classes, iou, expectation",
    [
        ([[]], [[], []], 1, 0.5, pytest.raises(ValueError, match="images")),
        ([[(2, A)]], [[]], 2, 0.5, pytest.raises(ValueError, match="class 2")),
        ([[]], [[(-1, 0.5, A)]], 2, 0.5, pytest.raises(ValueError, match="class -1")),
        ([[]], [[]], 1, 0.0, pytest.raises(ValueError, match="iou_threshold")),
        ([[]], [[]], 1, 1.0, DoesNotRaise()),
    ],
)
def test_detection_metrics_rejects_bad_input(truth: Any, dets: Any, num_classes: int, iou: float, expectation: Any) -> None:
    with expectation:
        detection_metrics(truth, dets, num_classes, iou_threshold=iou)


def _random_scene(rng: np.random.Generator, n_images: int, num_classes: int) -> tuple[list[Any], list[Any]]:
    truth, dets = [], []
    for _ in range(n_images):
        gts = []
        for _ in range(rng.integers(0, 6)):
            w, h = rng.uniform(0.05, 0.3, 2)
            gts.append((int(rng.integers(num_classes)), (float(rng.uniform(0, 1 - w)), float(rng.uniform(0, 1 - h)), float(w), float(h))))
        ds = []
        for c, (x, y, w, h) in gts:
            if rng.random() < 0.8:  # a jittered hit
                j = rng.normal(0, 0.03, 4)
                ds.append((c, float(rng.uniform(0.2, 1)), (x + j[0], y + j[1], max(0.01, w + j[2]), max(0.01, h + j[3]))))
        for _ in range(rng.integers(0, 4)):  # clutter
            ds.append((int(rng.integers(num_classes)), float(rng.uniform(0, 0.8)), (float(rng.uniform(0, 0.7)), float(rng.uniform(0, 0.7)), 0.2, 0.2)))
        truth.append(gts)
        dets.append(ds)
    return truth, dets


def test_detection_metrics_agree_with_pycocotools() -> None:
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    rng = np.random.default_rng(0)
    truth, dets = _random_scene(rng, 60, 2)
    size = 1000.0  # pixels, so that COCO's area ranges do not matter ("all")
    gt_json: dict[str, Any] = {"images": [], "annotations": [], "categories": [{"id": 1}, {"id": 2}]}
    results = []
    for i, (gts, ds) in enumerate(zip(truth, dets, strict=True)):
        gt_json["images"].append({"id": i, "width": size, "height": size})
        for c, b in gts:
            box = [v * size for v in b]
            gt_json["annotations"].append({"id": len(gt_json["annotations"]) + 1, "image_id": i, "category_id": c + 1,
                                           "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
        for c, s, b in ds:
            results.append({"image_id": i, "category_id": c + 1, "bbox": [v * size for v in b], "score": s})
    coco = coco_mod.COCO()
    coco.dataset = gt_json
    coco.createIndex()
    ev = cocoeval.COCOeval(coco, coco.loadRes(results), "bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.maxDets = [1000, 1000, 1000]
    ev.evaluate()
    ev.accumulate()
    ours = detection_metrics(truth, dets, 2, iou_threshold=0.5)
    for c in range(2):
        prec = ev.eval["precision"][0, :, c, 0, -1]  # 101 recall points, area "all"
        theirs = float(np.mean(np.where(prec > -1, prec, 0.0)))
        assert ours.per_class[c].average_precision == pytest.approx(theirs, abs=0.02)  # 101-point vs all-point
