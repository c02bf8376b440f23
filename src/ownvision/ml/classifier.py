"""Image classification training: the entry point the worker calls.

Regular training (``advanced=False``), as fast as it can:
    1. One pass over the images: ``preprocess`` (the evaluation recipe) -> frozen pretrained backbone
       -> pooled features ``[N, 1280]``.
    2. A logistic-regression head (:mod:`ownvision.ml.linear_head`), its weight decay picked by
       k-fold cross-validation on the cached features; the out-of-fold probabilities are the
       held-out predictions, and the head refitted on all samples is the model.
    3. Export backbone + head + softmax/sigmoid to ONNX.

Advanced training (``advanced=True``) fine-tunes the last block(s) of the backbone within
``time_budget_s`` (:mod:`ownvision.ml.advanced`); it falls back to the Regular model whenever
fine-tuning does not beat it on a validation split.

Held-out predictions (``TrainedClassifier.held_out``) always come from the k-fold cross-validation
of the logistic head (scheme in :mod:`ownvision.ml.linear_head`): every sample is predicted by a head
that did not see it. For an Advanced model that kept its fine-tuned weights these estimates come from
the Regular model family and are therefore slightly pessimistic.

Example:
    >>> samples = [TrainingSample(Path("cat1.jpg"), (0,)), TrainingSample(Path("dog1.jpg"), (1,)), ...]
    >>> trained = train_classifier(samples, 2, ClassifierConfig(backbone="lite0"))
    >>> ModelRunner(trained.onnx_model, trained.preprocess).classify([image])   # [1, 2]
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ownvision.imaging import PreprocessSpec
from ownvision.ml.backbones import create_backbone, get_backbone_spec
from ownvision.ml.errors import TrainingCancelled
from ownvision.ml.features import cache_features
from ownvision.ml.linear_head import cross_validate, fit_linear_head, targets_matrix
from ownvision.ml.network import ClassifierNetwork, split_efficientnet
from ownvision.ml.onnx_export import export_onnx

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]


@dataclass(frozen=True)
class TrainingSample:
    """One training image.

    Attributes:
        path: Image file (JPEG/PNG/BMP/WebP...); decoded with Pillow, EXIF-transposed, made RGB.
        labels: Class indices in ``0..num_classes-1``: exactly one for multiclass, one or more for
            multilabel.
    """

    path: Path
    labels: tuple[int, ...]


@dataclass(frozen=True)
class ClassifierConfig:
    """What to train.

    Attributes:
        backbone: Registry name (``"lite0"`` for compact domains, ``"lite2"`` otherwise).
        multilabel: Independent sigmoid outputs instead of one softmax.
        advanced: Fine-tune the backbone tail within ``time_budget_s``.
        time_budget_s: Wall-clock budget of Advanced training, including feature extraction and
            export. The single mandatory pass over the images is never skipped, so a budget shorter
            than that pass yields the Regular model (late). Regular ignores it.
        seed: Seed of folds, augmentation and batch order.
        num_threads: ``torch.set_num_threads`` value; None leaves torch's default.
    """

    backbone: str = "lite2"
    multilabel: bool = False
    advanced: bool = False
    time_budget_s: float = 60.0
    seed: int = 0
    num_threads: int | None = None


@dataclass
class TrainedClassifier:
    """A trained model and its evaluation.

    Attributes:
        onnx_model: ONNX bytes: input ``input`` float32 ``[B, 3, H, W]`` (from ``preprocess``),
            output ``probabilities`` ``[B, C]`` (softmax, or sigmoid for multilabel); dynamic batch
            axis; opset 17.
        preprocess: The preprocessing the model expects.
        held_out: ``(sample index, per-class probabilities)`` for every sample, each predicted by a
            model that did not train on it (k-fold cross-validation of the logistic head).
        details: Small JSON-able training log.
    """

    onnx_model: bytes
    preprocess: PreprocessSpec
    held_out: list[tuple[int, list[float]]]
    details: dict[str, Any] = field(default_factory=dict)


class Reporter:
    """Progress and cancellation plumbing shared by the training stages.

    Args:
        progress: Receives ``(fraction in [0, 1], message)``; fractions never decrease.
        should_stop: Polled by :meth:`check`.
    """

    def __init__(self, progress: ProgressFn | None, should_stop: StopFn | None) -> None:
        self._progress = progress
        self._should_stop = should_stop
        self._last = 0.0
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}

    def check(self) -> None:
        """Raise :class:`TrainingCancelled` if the caller asked to stop."""
        if self._should_stop is not None and self._should_stop():
            raise TrainingCancelled("training was cancelled")

    def report(self, fraction: float, message: str) -> None:
        """Report progress (clamped to be monotonic) and check for cancellation."""
        self._last = max(self._last, min(1.0, fraction))
        if self._progress is not None:
            self._progress(self._last, message)
        self.check()

    def elapsed(self) -> float:
        """Seconds since training started."""
        return time.monotonic() - self.started

    def mark(self, stage: str, since: float) -> float:
        """Record ``now - since`` as the duration of ``stage`` and return now."""
        now = time.monotonic()
        self.timings[stage] = round(now - since, 2)
        return now


def train_classifier(
    samples: Sequence[TrainingSample],
    num_classes: int,
    config: ClassifierConfig,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> TrainedClassifier:
    """Train an image classifier and export it to ONNX.

    Args:
        samples: Training images with their class indices.
        num_classes: C; every class needs at least one sample.
        config: Backbone, task type, Regular/Advanced and budget.
        progress: Receives ``(fraction 0..1, message)``.
        should_stop: Polled regularly; when it returns True training stops promptly.

    Returns:
        The ONNX model, its preprocessing, held-out predictions for every sample and a log.

    Raises:
        ValueError: Unusable input (fewer than 2 classes, a class without samples, a bad label, an
            unreadable image, an unknown backbone).
        TrainingCancelled: ``should_stop()`` returned True.
    """
    validate_samples(samples, num_classes, multilabel=config.multilabel)
    backbone_spec = get_backbone_spec(config.backbone)
    if config.time_budget_s <= 0:
        raise ValueError(f"time_budget_s must be positive, got {config.time_budget_s}")
    reporter = Reporter(progress, should_stop)
    previous_threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        torch.manual_seed(config.seed)
        reporter.report(0.0, f"loading backbone {config.backbone}")
        backbone = create_backbone(config.backbone)
        spec = backbone_spec.preprocess_spec()
        if config.advanced:
            from ownvision.ml.advanced import train_advanced  # keeps the Regular path lean

            return train_advanced(samples, num_classes, config, backbone, spec, reporter)
        return _train_regular(samples, num_classes, config, backbone, spec, reporter)
    finally:
        if config.num_threads is not None:
            torch.set_num_threads(previous_threads)


def _train_regular(
    samples: Sequence[TrainingSample],
    num_classes: int,
    config: ClassifierConfig,
    backbone: torch.nn.Module,
    spec: PreprocessSpec,
    reporter: Reporter,
) -> TrainedClassifier:
    trunk, tail = split_efficientnet(backbone, len(backbone.blocks))
    n = len(samples)
    tic = time.monotonic()
    cache = cache_features(
        [s.path for s in samples],
        spec,
        trunk,
        tail,
        seed=config.seed,
        check=reporter.check,
        on_batch=lambda done: reporter.report(0.85 * done / n, f"features {done}/{n}"),
    )
    tic = reporter.mark("features_s", tic)
    labels = [s.labels for s in samples]
    features = cache.features[0]
    reporter.report(0.86, "cross-validating the head")
    cv = cross_validate(
        features, labels, num_classes, multilabel=config.multilabel, seed=config.seed, check=reporter.check
    )
    targets = torch.from_numpy(targets_matrix(labels, num_classes))
    head = fit_linear_head(features, targets, multilabel=config.multilabel, weight_decay=cv.weight_decay)
    tic = reporter.mark("head_s", tic)
    reporter.report(0.95, "exporting to ONNX")
    network = ClassifierNetwork(trunk, tail, head, multilabel=config.multilabel)
    onnx_model = export_onnx(network, spec.input_size)
    reporter.mark("export_s", tic)
    reporter.report(1.0, "done")
    details = {
        "mode": "regular",
        "backbone": config.backbone,
        "multilabel": config.multilabel,
        "num_samples": n,
        "num_classes": num_classes,
        "head": "logistic regression (L-BFGS)",
        "weight_decay": cv.weight_decay,
        "cv_folds": int(cv.folds.max()) + 1,
        "cv_scores": cv.scores,
        "cv_accuracy": cv.scores[f"{cv.weight_decay:g}"]["accuracy"],
        "timings": {**reporter.timings, "total_s": round(reporter.elapsed(), 2)},
    }
    return TrainedClassifier(onnx_model, spec, held_out_list(cv.held_out), details)


def held_out_list(probs: Any) -> list[tuple[int, list[float]]]:
    """``[N, C]`` probabilities -> ``[(index, [p_0, ..., p_C-1]), ...]`` with Python floats."""
    return [(i, [round(float(p), 6) for p in row]) for i, row in enumerate(probs)]


def validate_samples(samples: Sequence[TrainingSample], num_classes: int, *, multilabel: bool) -> None:
    """Reject unusable training input with a message that says what is wrong.

    Raises:
        ValueError: Fewer than 2 classes, a sample without labels (or with several in multiclass),
            a label outside ``0..num_classes-1``, or a class without any sample.
    """
    if num_classes < 2:
        raise ValueError(f"training needs at least 2 classes, got num_classes={num_classes}")
    if len(samples) < 2:
        raise ValueError(f"training needs at least 2 images, got {len(samples)}")
    seen = [0] * num_classes
    for i, sample in enumerate(samples):
        if not sample.labels:
            raise ValueError(f"sample {i} ({sample.path}) has no label")
        if not multilabel and len(sample.labels) != 1:
            raise ValueError(
                f"sample {i} ({sample.path}) has {len(sample.labels)} labels; multiclass needs exactly one"
            )
        for label in sample.labels:
            if not isinstance(label, numbers.Integral) or isinstance(label, bool) or not 0 <= label < num_classes:
                raise ValueError(f"sample {i} ({sample.path}) has label {label!r} outside 0..{num_classes - 1}")
            seen[label] += 1
    empty = [c for c, count in enumerate(seen) if count == 0]
    if empty:
        raise ValueError(f"classes {empty} have no training images; every class needs at least one")
    if multilabel:
        full = [c for c, count in enumerate(seen) if count == len(samples)]
        if len(full) == num_classes:
            raise ValueError("every image carries every label; multilabel training needs negatives")
