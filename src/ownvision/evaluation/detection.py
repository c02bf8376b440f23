"""Object-detection quality: per-class average precision, mAP, and precision/recall at a score threshold.

Boxes are ``(left, top, width, height)`` (normalised or in pixels: only ratios matter) and IoU is
computed on continuous coordinates (no "+1" pixel convention).

Matching (COCO-style greedy): per class, detections are visited from the highest score down (ties keep
their input order); a detection is a true positive when some still-unmatched ground-truth box of the
same class in the same image has IoU >= ``iou_threshold`` with it, and it then claims the one with the
highest IoU; otherwise it is a false positive (a duplicate of an already matched box included).

Average precision is the area under the all-point interpolated precision-recall curve (Pascal VOC
2010+): precision is replaced by its running maximum from the right and summed over every recall step.
(COCO's 101-point sampling gives values within ~0.01 of it.) A class without ground truth has no AP
(``nan``) and is left out of the mean; a class with ground truth but no detections has AP 0.

Precision and recall at ``score_threshold`` count the detections with ``score >= score_threshold``;
the overall figures pool the counts of all classes (micro average), as Custom Vision reports them.

    >>> gt = [[(0, (0.1, 0.1, 0.2, 0.2))]]
    >>> dets = [[(0, 0.9, (0.1, 0.1, 0.2, 0.2)), (0, 0.8, (0.6, 0.6, 0.2, 0.2))]]
    >>> m = detection_metrics(gt, dets, num_classes=1)
    >>> (m.mean_average_precision, m.precision, m.recall)
    (1.0, 0.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]
GroundTruth = Sequence[Sequence[tuple[int, Box]]]
"""Per image: ``(class, (left, top, width, height))`` for every true box."""
Detections = Sequence[Sequence[tuple[int, float, Box]]]
"""Per image: ``(class, score, (left, top, width, height))`` for every predicted box."""


@dataclass(frozen=True)
class ClassMetrics:
    """Figures of one class.

    Attributes:
        average_precision: AP at the IoU threshold (``nan`` without ground truth).
        precision: TP / (TP + FP) among detections at or above the score threshold (0 if none).
        recall: TP / ground-truth boxes at the score threshold (0 without ground truth).
        ground_truth: Number of true boxes.
        detections: Number of detections (all scores).
    """

    average_precision: float
    precision: float
    recall: float
    ground_truth: int
    detections: int


@dataclass(frozen=True)
class DetectionMetrics:
    """Outcome of :func:`detection_metrics`.

    Attributes:
        per_class: One entry per class index.
        mean_average_precision: Mean AP over classes with ground truth (``nan`` if none has any).
        precision: Micro-averaged precision at the score threshold.
        recall: Micro-averaged recall at the score threshold.
    """

    per_class: list[ClassMetrics]
    mean_average_precision: float
    precision: float
    recall: float


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(left, top, width, height)`` boxes ``a`` [N, 4] and ``b`` [M, 4] -> [N, M]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0, ax1, ay1 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0.0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0.0, None)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC 2010+) of a precision-recall curve.

    Args:
        recall: Cumulative recall after each detection, non-decreasing [D].
        precision: Cumulative precision after each detection [D].

    Returns:
        ``sum_i (r_i - r_{i-1}) * max_{j >= i} p_j``; 0 for an empty curve.
    """
    if len(recall) == 0:
        return 0.0
    r = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64)])
    p = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64)])
    envelope = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1]) + 1
    return float(np.sum((r[steps] - r[steps - 1]) * envelope[steps]))


def match_class(
    truth: Sequence[np.ndarray], detections: Sequence[tuple[int, float, Box]], iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching of one class's detections to its ground truth.

    Args:
        truth: Per image, the class's true boxes ``[G_i, 4]``.
        detections: ``(image index, score, box)`` of the class, any order.
        iou_threshold: Minimum IoU for a match.

    Returns:
        ``(scores [D], is_true_positive [D])`` in visiting order (score descending, stable).
    """
    if not detections:
        return np.zeros(0), np.zeros(0, dtype=bool)
    scores = np.array([d[1] for d in detections], dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    matched = [np.zeros(len(t), dtype=bool) for t in truth]
    tp = np.zeros(len(order), dtype=bool)
    for rank, k in enumerate(order):
        image, _, box = detections[k]
        gt = truth[image]
        if len(gt) == 0:
            continue
        ious = iou_matrix(np.asarray([box]), gt)[0]
        ious[matched[image]] = -1.0
        best = int(np.argmax(ious))
        if ious[best] >= iou_threshold:
            matched[image][best] = True
            tp[rank] = True
    return scores[order], tp


def detection_metrics(
    ground_truth: GroundTruth,
    detections: Detections,
    num_classes: int,
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
) -> DetectionMetrics:
    """Per-class AP, mAP and precision/recall at a score threshold.

    Args:
        ground_truth: Per image, ``(class, box)`` of every true box.
        detections: Per image (same order and length), ``(class, score, box)`` of every detection.
        num_classes: K; classes are ``0..K-1``.
        iou_threshold: Overlap needed for a true positive.
        score_threshold: Detections counted by precision and recall.

    Raises:
        ValueError: Different numbers of images, or a class outside ``0..K-1``.
    """
    if len(ground_truth) != len(detections):
        raise ValueError(f"ground truth covers {len(ground_truth)} images but detections cover {len(detections)}")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    truth: list[list[list[Box]]] = [[[] for _ in ground_truth] for _ in range(num_classes)]
    dets: list[list[tuple[int, float, Box]]] = [[] for _ in range(num_classes)]
    for i, (gts, ds) in enumerate(zip(ground_truth, detections, strict=True)):
        for c, box in gts:
            _check_class(c, num_classes)
            truth[c][i].append(tuple(box))  # type: ignore[arg-type]
        for c, score, box in ds:
            _check_class(c, num_classes)
            dets[c].append((i, float(score), tuple(box)))  # type: ignore[arg-type]
    per_class: list[ClassMetrics] = []
    tp_all = det_all = gt_all = 0
    for c in range(num_classes):
        arrays = [np.asarray(t, dtype=np.float64).reshape(-1, 4) for t in truth[c]]
        n_gt = sum(len(a) for a in arrays)
        scores, tp = match_class(arrays, dets[c], iou_threshold)
        cum_tp = np.cumsum(tp)
        if n_gt:
            recall = cum_tp / n_gt
            precision = cum_tp / np.arange(1, len(tp) + 1)
            ap = average_precision(recall, precision)
        else:
            ap = math.nan
        kept = int(np.sum(scores >= score_threshold))
        tp_at = int(cum_tp[kept - 1]) if kept else 0
        per_class.append(ClassMetrics(ap, _ratio(tp_at, kept), _ratio(tp_at, n_gt), n_gt, len(scores)))
        tp_all, det_all, gt_all = tp_all + tp_at, det_all + kept, gt_all + n_gt
    aps = [m.average_precision for m in per_class if m.ground_truth]
    return DetectionMetrics(
        per_class=per_class,
        mean_average_precision=float(np.mean(aps)) if aps else math.nan,
        precision=_ratio(tp_all, det_all),
        recall=_ratio(tp_all, gt_all),
    )


def _check_class(c: int, num_classes: int) -> None:
    if not 0 <= c < num_classes:
        raise ValueError(f"class {c} is outside 0..{num_classes - 1}")


def _ratio(num: int, den: int) -> float:
    return float(num) / den if den else 0.0
