"""Classifier training on synthetic shapes (CPU, a few seconds each): accuracy, held-out, multilabel,
Advanced, input validation and cancellation."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack as DoesNotRaise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from ownvision.inference import ModelRunner  # noqa: E402
from ownvision.ml import TrainingCancelled  # noqa: E402
from ownvision.ml.classifier import (  # noqa: E402
    ClassifierConfig,
    TrainedClassifier,
    TrainingSample,
    train_classifier,
    validate_samples,
)

from .conftest import ImageSet  # noqa: E402


def _samples(images: ImageSet) -> list[TrainingSample]:
    return [TrainingSample(path, labels) for path, labels in zip(images.paths, images.labels, strict=True)]


@pytest.fixture(scope="module")
def regular(multiclass_set: ImageSet) -> tuple[TrainedClassifier, list[tuple[float, str]]]:
    events: list[tuple[float, str]] = []
    trained = train_classifier(
        _samples(multiclass_set), 3, ClassifierConfig(backbone="lite0", num_threads=2),
        progress=lambda f, m: events.append((f, m)),
    )
    return trained, events


def test_regular_classifies_held_out_images(regular: Any, multiclass_set: ImageSet) -> None:
    trained, _ = regular
    runner = ModelRunner(trained.onnx_model, trained.preprocess)
    probs = runner.classify(multiclass_set.test_images)
    assert probs.shape == (len(multiclass_set.test_images), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    expected = [labels[0] for labels in multiclass_set.test_labels]
    assert (probs.argmax(1) == expected).mean() == 1.0


def test_regular_held_out_covers_every_sample(regular: Any, multiclass_set: ImageSet) -> None:
    trained, _ = regular
    assert sorted(i for i, _ in trained.held_out) == list(range(len(multiclass_set.paths)))
    probs = np.array([p for _, p in trained.held_out])
    assert probs.shape == (len(multiclass_set.paths), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
    truth = [labels[0] for labels in multiclass_set.labels]
    assert (probs.argmax(1) == truth).mean() >= 0.9  # easy classes: cross-validation must find them


def test_regular_details_and_progress(regular: Any) -> None:
    trained, events = regular
    json.dumps(trained.details)  # JSON-able
    assert trained.details["mode"] == "regular" and trained.details["backbone"] == "lite0"
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert trained.preprocess.input_size == 224


def test_multilabel_predicts_every_shape(multilabel_set: ImageSet) -> None:
    trained = train_classifier(
        _samples(multilabel_set), 3, ClassifierConfig(backbone="lite0", multilabel=True, num_threads=2)
    )
    probs = ModelRunner(trained.onnx_model, trained.preprocess).classify(multilabel_set.test_images)
    expected = np.zeros_like(probs, dtype=bool)
    for row, labels in enumerate(multilabel_set.test_labels):
        expected[row, list(labels)] = True
    assert ((probs > 0.5) == expected).mean() >= 0.9
    assert (probs[expected].min() > probs[~expected].max()) or ((probs > 0.5) == expected).all()
    held = np.array([p for _, p in sorted(trained.held_out)])
    assert held.shape == (len(multilabel_set.paths), 3)
    assert not np.allclose(held.sum(1), 1.0)  # independent sigmoids, not a softmax


def test_advanced_stays_within_budget(multiclass_set: ImageSet) -> None:
    budget = 25.0
    start = time.monotonic()
    trained = train_classifier(
        _samples(multiclass_set), 3,
        ClassifierConfig(backbone="lite0", advanced=True, time_budget_s=budget, num_threads=2),
    )
    elapsed = time.monotonic() - start
    assert elapsed < budget + 10  # export may run a little over its reserve on a loaded machine
    assert trained.details["mode"] == "advanced"
    assert trained.details["chosen"] in {"regular", "finetuned", "finetuned_without_validation_fold"}
    probs = ModelRunner(trained.onnx_model, trained.preprocess).classify(multiclass_set.test_images)
    expected = [labels[0] for labels in multiclass_set.test_labels]
    assert (probs.argmax(1) == expected).mean() == 1.0
    assert sorted(i for i, _ in trained.held_out) == list(range(len(multiclass_set.paths)))


def test_cancellation_raises_promptly(multiclass_set: ImageSet) -> None:
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    start = time.monotonic()
    with pytest.raises(TrainingCancelled):
        train_classifier(_samples(multiclass_set), 3, ClassifierConfig(backbone="lite0"), should_stop=should_stop)
    assert time.monotonic() - start < 15


def test_unreadable_image_names_the_file(tmp_path: Path, multiclass_set: ImageSet) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    samples = _samples(multiclass_set)[:4] + [TrainingSample(bad, (1,))]
    with pytest.raises(ValueError, match="broken.jpg"):
        train_classifier(samples, 2, ClassifierConfig(backbone="lite0"))


def test_unknown_backbone_is_rejected(multiclass_set: ImageSet) -> None:
    with pytest.raises(ValueError, match="unknown backbone"):
        train_classifier(_samples(multiclass_set), 3, ClassifierConfig(backbone="resnet9000"))


P = Path("x.jpg")


@pytest.mark.parametrize(
    "samples, num_classes, multilabel, expectation",
    [
        ([TrainingSample(P, (0,)), TrainingSample(P, (1,))], 2, False, DoesNotRaise()),
        ([TrainingSample(P, (0,)), TrainingSample(P, (0,))], 1, False, pytest.raises(ValueError, match="at least 2 classes")),
        ([TrainingSample(P, (0,))], 2, False, pytest.raises(ValueError, match="at least 2 images")),
        ([TrainingSample(P, (0,)), TrainingSample(P, (2,))], 2, False, pytest.raises(ValueError, match="outside")),
        ([TrainingSample(P, (0,)), TrainingSample(P, (-1,))], 2, False, pytest.raises(ValueError, match="outside")),
        ([TrainingSample(P, (0, 1)), TrainingSample(P, (1,))], 2, False, pytest.raises(ValueError, match="exactly one")),
        ([TrainingSample(P, (0, 1)), TrainingSample(P, (1,))], 2, True, DoesNotRaise()),
        ([TrainingSample(P, ()), TrainingSample(P, (1,))], 2, True, pytest.raises(ValueError, match="no label")),
        ([TrainingSample(P, (0,)), TrainingSample(P, (0,))], 2, False, pytest.raises(ValueError, match="no training images")),
        ([TrainingSample(P, (0, 1)), TrainingSample(P, (0, 1))], 2, True, pytest.raises(ValueError, match="negatives")),
    ],
)
def test_validate_samples(samples: list[TrainingSample], num_classes: int, multilabel: bool, expectation: Any) -> None:
    with expectation:
        validate_samples(samples, num_classes, multilabel=multilabel)
