"""Precision, recall and average precision per tag, as Custom Vision reports them.

A tag is *predicted* for an image when its probability is at least the threshold (in multiclass
projects as well). Per tag: precision = TP / (TP + FP), recall = TP / (TP + FN), and average precision
is the area under the tag's precision-recall curve over all thresholds (scikit-learn's
``average_precision_score``: the step-wise sum, no interpolation). Overall precision and recall pool
the counts of all tags (micro average); overall average precision is the mean of the per-tag APs
(mAP) over tags that have positive images.

    >>> m = classification_metrics([[0], [1]], np.array([[0.9, 0.1], [0.4, 0.6]]), threshold=0.5)
    >>> (m.precision, m.recall, m.average_precision)
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score


@dataclass(frozen=True)
class TagMetrics:
    precision: float
    recall: float
    average_precision: float
    positives: int


@dataclass(frozen=True)
class Metrics:
    per_tag: list[TagMetrics]
    precision: float
    recall: float
    average_precision: float


def _ratio(num: int, den: int) -> float:
    return float(num) / den if den else 0.0


def classification_metrics(truth: Sequence[Sequence[int]], scores: np.ndarray, *, threshold: float) -> Metrics:
    """Metrics of ``scores`` [N, C] against ``truth`` (the class indices of each of the N images)."""
    n, c = scores.shape if scores.ndim == 2 else (0, 0)
    if len(truth) != n:
        raise ValueError(f"truth has {len(truth)} rows but scores has {n}")
    y = np.zeros((n, c), dtype=bool)
    for i, labels in enumerate(truth):
        for k in labels:
            y[i, k] = True
    pred = scores >= threshold
    per_tag: list[TagMetrics] = []
    tp_all = fp_all = fn_all = 0
    aps: list[float] = []
    for k in range(c):
        tp = int(np.sum(pred[:, k] & y[:, k]))
        fp = int(np.sum(pred[:, k] & ~y[:, k]))
        fn = int(np.sum(~pred[:, k] & y[:, k]))
        positives = int(y[:, k].sum())
        ap = float(average_precision_score(y[:, k], scores[:, k])) if positives else 0.0
        if positives:
            aps.append(ap)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        per_tag.append(TagMetrics(_ratio(tp, tp + fp), _ratio(tp, tp + fn), ap, positives))
    return Metrics(per_tag, _ratio(tp_all, tp_all + fp_all), _ratio(tp_all, tp_all + fn_all),
                   float(np.mean(aps)) if aps else 0.0)
