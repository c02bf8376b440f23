"""Detector training on synthetic scenes (CPU, short budget), ONNX parity, validation and cancellation."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import ExitStack as DoesNotRaise
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

torch = pytest.importorskip("torch")

from ownvision.evaluation.detection import detection_metrics  # noqa: E402
from ownvision.inference.detector import DetectorRunner, postprocess  # noqa: E402
from ownvision.ml import TrainingCancelled  # noqa: E402
from ownvision.ml.detector import (  # noqa: E402
    DetectionSample,
    DetectorConfig,
    TrainedDetector,
    held_out_split,
    train_detector,
)

SCENE = (256, 192)
COLOURS = ((220, 40, 40), (40, 80, 230), (30, 170, 60))  # class 0 red discs, 1 blue squares, 2 green triangles
Box = tuple[float, float, float, float]


def make_scene(rng: np.random.Generator, size: tuple[int, int] = SCENE) -> tuple[Image.Image, list[Box], list[int]]:
    """A textured background with 2-5 non-overlapping shapes of 14-56 px (some small) and a grey distractor."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.uniform(90, 170, 3)
    grad = rng.uniform(-40, 40, 3)
    pixels = base + grad * (xx / w)[..., None] + rng.normal(0, 18, (h, w, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    draw = ImageDraw.Draw(image)
    for _ in range(3):  # texture lines
        draw.line([tuple(rng.uniform(0, w, 2)), tuple(rng.uniform(0, h, 2))], fill=tuple(int(v) for v in rng.uniform(60, 200, 3)), width=2)
    boxes: list[Box] = []
    labels: list[int] = []
    taken: list[tuple[float, float, float, float]] = []
    for k in range(int(rng.integers(2, 6)) + 1):
        for _ in range(20):
            side = float(rng.uniform(14, 24) if rng.random() < 0.35 else rng.uniform(24, 56))
            x0, y0 = float(rng.uniform(2, w - side - 2)), float(rng.uniform(2, h - side - 2))
            if all(x0 > bx1 + 3 or x0 + side < bx0 - 3 or y0 > by1 + 3 or y0 + side < by0 - 3 for bx0, by0, bx1, by1 in taken):
                break
        else:
            continue
        taken.append((x0, y0, x0 + side, y0 + side))
        if k == 0:  # an unlabelled grey ellipse, so that "any blob" is not enough
            draw.ellipse([x0, y0, x0 + side, y0 + side * 0.6], fill=(128, 128, 128))
            continue
        c = int(rng.integers(3))
        fill = tuple(int(np.clip(v + rng.normal(0, 20), 0, 255)) for v in COLOURS[c])
        if c == 0:
            draw.ellipse([x0, y0, x0 + side, y0 + side], fill=fill)
        elif c == 1:
            draw.rectangle([x0, y0, x0 + side, y0 + side], fill=fill)
        else:
            draw.polygon([(x0 + side / 2, y0), (x0 + side, y0 + side), (x0, y0 + side)], fill=fill)
        boxes.append((x0 / w, y0 / h, side / w, side / h))
        labels.append(c)
    return image, boxes, labels


def write_scenes(folder: Path, n: int, seed: int) -> list[DetectionSample]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        image, boxes, labels = make_scene(rng)
        path = folder / f"scene_{seed}_{i}.jpg"
        image.save(path, quality=92)
        samples.append(DetectionSample(path, tuple(boxes), tuple(labels)))
    return samples


CONFIG = DetectorConfig(time_budget_s=45.0, seed=0, num_threads=2, input_long_side=256, max_epochs=60)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[DetectionSample], list[DetectionSample]]:
    folder = tmp_path_factory.mktemp("scenes")
    return write_scenes(folder, 48, seed=1), write_scenes(folder, 16, seed=2)


@pytest.fixture(scope="module")
def trained(scenes: tuple[list[DetectionSample], list[DetectionSample]]) -> Iterator[tuple[TrainedDetector, list[tuple[float, str]]]]:
    calls: list[tuple[float, str]] = []
    result = train_detector(scenes[0], 3, CONFIG, progress=lambda f, m: calls.append((f, m)))
    yield result, calls


def _truth(samples: list[DetectionSample]) -> list[list[tuple[int, Box]]]:
    return [list(zip(s.labels, s.boxes, strict=True)) for s in samples]


def test_train_detector_finds_shapes_in_new_scenes(trained: Any, scenes: Any) -> None:
    result, _ = trained
    test = scenes[1]
    runner = DetectorRunner(result.onnx_model, result.spec, num_threads=2)
    found = runner.detect([Image.open(s.path) for s in test])
    dets = [[(d.label, d.score, (d.left, d.top, d.width, d.height)) for d in per] for per in found]
    metrics = detection_metrics(_truth(test), dets, 3, iou_threshold=0.5)
    assert metrics.mean_average_precision >= 0.7, (metrics, result.details)
    # Small objects (< 25 px on a 256 px wide scene) are found too.
    small_truth = [[(c, b) for c, b in per if b[2] * SCENE[0] < 25] for per in _truth(test)]
    small = detection_metrics(small_truth, dets, 3, iou_threshold=0.5, score_threshold=0.3)
    assert sum(m.ground_truth for m in small.per_class) >= 5
    assert small.recall >= 0.6, small


def test_train_detector_held_out_predictions(trained: Any, scenes: Any) -> None:
    result, _ = trained
    train = scenes[0]
    indices = [i for i, _ in result.held_out]
    assert len(indices) == len(set(indices)) == round(0.2 * len(train))
    assert all(0 <= i < len(train) for i in indices)
    for _, rows in result.held_out:
        for label, score, (left, top, width, height) in rows:
            assert 0 <= label < 3 and 0 < score <= 1
            assert 0 <= left <= 1 and 0 <= top <= 1 and left + width <= 1 + 1e-6 and top + height <= 1 + 1e-6
    truth = [list(zip(train[i].labels, train[i].boxes, strict=True)) for i in indices]
    held = detection_metrics(truth, [rows for _, rows in result.held_out], 3)
    assert held.mean_average_precision >= 0.4, held


def test_train_detector_spec_details_and_progress(trained: Any) -> None:
    result, calls = trained
    spec = json.loads(json.dumps(result.spec))
    assert spec["input_width"] == 256 and spec["input_height"] == 192
    assert spec["num_classes"] == 3 and sum(spec["level_sizes"]) == 24 * 32 + 12 * 16 + 6 * 8
    json.dumps(result.details)
    assert result.details["seconds"] <= CONFIG.time_budget_s + 5
    fractions = [f for f, _ in calls]
    assert fractions and all(0 <= f <= 1 for f in fractions) and fractions[-1] == 1.0


def _random_network(num_classes: int, input_hw: tuple[int, int]) -> Any:
    from ownvision.ml.backbones import create_backbone
    from ownvision.ml.detection.network import build_detector

    torch.manual_seed(0)
    net = build_detector(create_backbone("lite0", pretrained=False), num_classes, input_hw, width=32)
    head = net.trainable.head.head
    with torch.no_grad():  # give the untrained head real boxes and spread-out scores
        head.regression_head.bbox_reg.bias.uniform_(0.5, 3.0)
        head.classification_head.cls_logits.weight.normal_(0, 0.3)
        head.classification_head.cls_logits.bias.fill_(-1.0)
    return net.eval()


def test_onnx_export_matches_torch_and_postprocessing_matches_torchvision() -> None:
    from ownvision.ml.detection.export import export_detector
    from ownvision.ml.detection.loop import Criterion
    from ownvision.ml.detection.network import grid_sizes

    hw = (96, 128)
    net = _random_network(2, hw)
    spec = {
        "input_height": hw[0], "input_width": hw[1], "mean": [127.0] * 3, "std": [128.0] * 3, "num_classes": 2,
        "level_sizes": [a * b for a, b in grid_sizes(hw)], "score_threshold": 0.2, "nms_iou": 0.5,
        "max_detections": 50, "topk_candidates": 100,
    }
    runner = DetectorRunner(export_detector(net, hw), spec, num_threads=2)
    images = [Image.fromarray(np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8)) for i in range(3)]
    batch = np.stack([runner.preprocess(im) for im in images])
    scores, boxes = runner.run(batch)
    with torch.no_grad():
        t_scores, t_boxes = net(torch.from_numpy(batch))
        raw = net.trainable(net.trunk(torch.from_numpy(batch)))
    np.testing.assert_allclose(scores, t_scores.numpy(), atol=1e-4)
    np.testing.assert_allclose(boxes, t_boxes.numpy(), atol=1e-4)
    criterion = Criterion(net.trainable.head, score_thresh=0.2, nms_thresh=0.5, detections_per_img=50, topk_candidates=100)
    for ours, theirs in zip(runner.detect(images), criterion.detect(raw), strict=True):
        assert len(ours) == len(theirs["scores"]) > 3
        np.testing.assert_allclose(sorted(d.score for d in ours), sorted(theirs["scores"].tolist()), atol=1e-4)
        mine = sorted((d.label, round(d.left, 3), round(d.top, 3)) for d in ours)
        ref = sorted((int(c), round(b[0], 3), round(b[1], 3)) for c, b in zip(theirs["labels"].tolist(), theirs["boxes"].tolist()))
        assert mine == ref


def test_numpy_postprocess_handles_empty_outputs() -> None:
    assert postprocess(np.zeros((5, 2)), np.zeros((5, 4)), level_sizes=[4, 1], score_threshold=0.1, nms_iou=0.5,
                       max_detections=3, topk_candidates=10) == []


@pytest.fixture()
def one_image(tmp_path: Path) -> Path:
    path = tmp_path / "a.png"
    Image.new("RGB", (64, 48), "white").save(path)
    return path


@pytest.mark.parametrize(
    "case, num_classes, change, expectation",
    [
        ("no samples", 2, "empty", pytest.raises(ValueError, match="no training images")),
        ("no classes", 0, None, pytest.raises(ValueError, match="num_classes")),
        ("label too big", 2, {"labels": (2,)}, pytest.raises(ValueError, match="label 2")),
        ("negative label", 2, {"labels": (-1,)}, pytest.raises(ValueError, match="label -1")),
        ("box count mismatch", 2, {"labels": (0, 1)}, pytest.raises(ValueError, match="labels")),
        ("empty box", 2, {"boxes": ((0.1, 0.1, 0.0, 0.2),)}, pytest.raises(ValueError, match="positive size")),
        ("nan box", 2, {"boxes": ((math.nan, 0.1, 0.1, 0.2),)}, pytest.raises(ValueError, match="positive size")),
        ("no boxes at all", 2, {"boxes": (), "labels": ()}, pytest.raises(ValueError, match="no image has a box")),
        ("unreadable image", 2, {"path": Path("/nonexistent/x.jpg")}, pytest.raises(ValueError, match="cannot decode")),
    ],
)
def test_train_detector_rejects_unusable_input(
    one_image: Path, case: str, num_classes: int, change: Any, expectation: Any
) -> None:
    sample = DetectionSample(one_image, ((0.1, 0.1, 0.5, 0.5),), (0,))
    if change == "empty":
        samples = []
    elif case == "no boxes at all":
        samples = [replace(sample, **change), replace(sample, **change)]
    else:
        samples = [replace(sample, **(change or {})), sample]
    with expectation:
        train_detector(samples, num_classes, DetectorConfig(time_budget_s=5, input_long_side=64, max_epochs=1))


@pytest.mark.parametrize(
    "config, expectation",
    [
        (DetectorConfig(backbone="nope"), pytest.raises(ValueError, match="unknown backbone")),
        (DetectorConfig(time_budget_s=0), pytest.raises(ValueError, match="time_budget_s")),
        (DetectorConfig(time_budget_s=-1), pytest.raises(ValueError, match="time_budget_s")),
    ],
)
def test_train_detector_rejects_bad_config(one_image: Path, config: DetectorConfig, expectation: Any) -> None:
    with expectation:
        train_detector([DetectionSample(one_image, ((0.1, 0.1, 0.5, 0.5),), (0,))], 1, config)


def test_train_detector_cancels_promptly(scenes: Any) -> None:
    polls = []

    def should_stop() -> bool:
        polls.append(time.monotonic())
        return len(polls) > 3

    start = time.monotonic()
    with pytest.raises(TrainingCancelled):
        train_detector(scenes[0], 3, replace(CONFIG, time_budget_s=120), should_stop=should_stop)
    assert time.monotonic() - start < 15


def test_train_detector_tiny_data_set(scenes: Any) -> None:
    # Two images: one held out, the other trains; the call succeeds and fits its budget.
    result = train_detector(scenes[0][:2], 3, replace(CONFIG, time_budget_s=15, max_epochs=5))
    assert len(result.held_out) == 1 and result.onnx_model[:4] != b""
    assert result.details["seconds"] < 20


@pytest.mark.parametrize(
    "labels, num_classes, expected_count, must_cover",
    [
        ([[0]], 1, 0, []),
        ([[0], [0]], 1, 1, [0]),
        ([[0]] * 8 + [[1]] * 2, 2, 2, [0, 1]),  # the rare class gets a held-out image
        ([[0]] * 9 + [[1]], 2, 2, [0]),  # a single-image class stays in training
        ([[0, 1]] * 5 + [[2]] * 15, 3, 4, [0, 1, 2]),
    ],
)
def test_held_out_split(labels: list[list[int]], num_classes: int, expected_count: int, must_cover: list[int]) -> None:
    held = held_out_split(labels, num_classes, np.random.default_rng(0))
    assert len(held) == expected_count == len(set(held))
    for c in must_cover:
        assert any(c in labels[i] for i in held)
    if [[1]] == labels[-1:] and sum(1 for row in labels if 1 in row) == 1:
        assert len(labels) - 1 not in held


def test_detection_sample_scenes_are_sane(tmp_path: Path) -> None:
    samples = write_scenes(tmp_path, 5, seed=9)
    with DoesNotRaise():
        for s in samples:
            assert len(s.boxes) == len(s.labels) >= 1
            assert all(0 <= b[0] and b[0] + b[2] <= 1 and 0 <= b[1] and b[1] + b[3] <= 1 for b in s.boxes)
