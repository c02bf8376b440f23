"""Time-budgeted optimisation of the detector on cached trunk maps, and prediction.

The loss, the assignment of feature-map locations to boxes (centre sampling, one scale range per
pyramid level) and the post-processing (score threshold, per-level top-k, class-wise NMS) are
torchvision's ``FCOS``; this module only feeds it batches. The learning rate warms up linearly, then
follows a cosine over the phase's progress, measured as the larger of elapsed/allowed time and
steps/``max_steps``, so a phase ends on schedule whatever the machine's speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS

from ownvision.ml.detection.data import FeatureCache, make_batch, stack_view
from ownvision.ml.detection.network import STRIDES, PyramidHead, TrainableDetector


@dataclass(frozen=True)
class PhaseConfig:
    """One training phase.

    Attributes:
        seconds: Wall-clock allowance.
        lr: Peak learning rate of the head and pyramid (AdamW).
        body_lr: Peak learning rate of trainable backbone blocks.
        weight_decay: AdamW weight decay.
        batch_size: Images per step.
        warmup_steps: Linear warm-up steps.
        max_steps: Optional step cap (small data sets converge long before the time is up).
        hflip: Random left-right mirroring.
        vflip: Random top-bottom mirroring.
    """

    seconds: float
    lr: float = 1e-3
    body_lr: float = 2e-4
    weight_decay: float = 1e-4
    batch_size: int = 8
    warmup_steps: int = 50
    max_steps: int | None = None
    hflip: bool = True
    vflip: bool = False


@dataclass(frozen=True)
class PhaseResult:
    steps: int
    seconds: float
    loss: float  # mean loss over the last 20 steps


class _Channels(nn.Module):
    """Stands in for FCOS's backbone, which only needs to announce its width."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels


class Criterion:
    """torchvision ``FCOS`` loss and post-processing bound to a :class:`PyramidHead`.

    Args:
        head: The pyramid head (its ``FCOSHead`` and anchors are shared, not copied).
        score_thresh: Minimum detection score kept by :meth:`detect`.
        nms_thresh: IoU above which a lower-scored box of the same class is suppressed.
        detections_per_img: Boxes kept per image after NMS.
        topk_candidates: Candidates per level before NMS.
    """

    def __init__(
        self, head: PyramidHead, *, score_thresh: float, nms_thresh: float, detections_per_img: int, topk_candidates: int
    ) -> None:
        generator = AnchorGenerator(tuple((s,) for s in STRIDES), ((1.0,),) * len(STRIDES))
        self.fcos = FCOS(
            _Channels(head.head.classification_head.cls_logits.in_channels),
            head.num_classes,
            anchor_generator=generator,
            head=head.head,
            score_thresh=score_thresh,
            nms_thresh=nms_thresh,
            detections_per_img=detections_per_img,
            topk_candidates=topk_candidates,
        )
        self.head = head

    def loss(self, outputs: dict[str, torch.Tensor], targets: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """Sum of FCOS focal, GIoU and centre-ness losses, each averaged over positive locations."""
        anchors = [self.head.anchors] * len(targets)
        losses = self.fcos.compute_loss(targets, outputs, anchors, self.head.level_sizes)
        return sum(losses.values(), torch.zeros(()))

    def detect(self, outputs: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Raw outputs of B images -> per image ``boxes`` [D, 4] normalised xyxy, ``scores`` [D], ``labels`` [D]."""
        batch = outputs["cls_logits"].shape[0]
        split = {k: list(v.split(self.head.level_sizes, dim=1)) for k, v in outputs.items()}
        anchors = [list(self.head.anchors.split(self.head.level_sizes))] * batch
        dets = self.fcos.postprocess_detections(split, anchors, [self.head.input_hw] * batch)
        h, w = self.head.input_hw
        scale = torch.tensor([w, h, w, h], dtype=torch.float32)
        return [{**d, "boxes": d["boxes"] / scale} for d in dets]


def make_optimizer(model: TrainableDetector, config: PhaseConfig) -> torch.optim.Optimizer:
    """AdamW with the backbone blocks at ``body_lr`` and the rest at ``lr`` (``initial_lr`` per group)."""
    body = [p for p in model.body.parameters() if p.requires_grad]
    head = [p for p in model.head.parameters() if p.requires_grad]
    groups = [{"params": head, "initial_lr": config.lr}]
    if body:
        groups.append({"params": body, "initial_lr": config.body_lr})
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def run_phase(
    model: TrainableDetector,
    criterion: Criterion,
    cache: FeatureCache,
    indices: Sequence[int],
    config: PhaseConfig,
    rng: np.random.Generator,
    *,
    check: Callable[[], None] | None = None,
    report: Callable[[float, float], None] | None = None,
) -> PhaseResult:
    """Train ``model`` on ``cache`` images ``indices`` for ``config.seconds``.

    Args:
        model: Trainable part; updated in place.
        criterion: Loss.
        cache: Trunk maps and targets.
        indices: Training images (indices into the cache).
        config: Schedule and augmentation.
        rng: Batch order and flips.
        check: Called every step (raise there to cancel).
        report: Called about once a second with ``(progress 0..1, recent loss)``.
    """
    if not indices:
        raise ValueError("a training phase needs at least one image")
    optimizer = make_optimizer(model, config)
    model.train()
    start = time.monotonic()
    last_report = start
    order: list[int] = []
    recent: list[float] = []
    step = 0
    batch_size = min(config.batch_size, len(indices))
    while True:
        elapsed = time.monotonic() - start
        progress = elapsed / config.seconds if config.seconds > 0 else 1.0
        if config.max_steps is not None:
            progress = max(progress, step / max(1, config.max_steps))
        if progress >= 1.0:
            break
        if check is not None:
            check()
        if len(order) < batch_size:
            order.extend(int(i) for i in rng.permutation(np.asarray(indices)))
        batch, order = order[:batch_size], order[batch_size:]
        factor = min(1.0, (step + 1) / config.warmup_steps) * 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        maps, targets = make_batch(cache, batch, rng, hflip=config.hflip, vflip=config.vflip)
        loss = criterion.loss(model(maps), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 10.0)
        optimizer.step()
        recent = (recent + [float(loss.detach())])[-20:]
        step += 1
        now = time.monotonic()
        if report is not None and now - last_report >= 1.0:
            report(min(1.0, progress), float(np.mean(recent)))
            last_report = now
    model.eval()
    return PhaseResult(steps=step, seconds=time.monotonic() - start, loss=float(np.mean(recent)) if recent else math.nan)


def predict(
    model: TrainableDetector,
    criterion: Criterion,
    cache: FeatureCache,
    indices: Sequence[int],
    *,
    batch_size: int = 8,
    check: Callable[[], None] | None = None,
) -> list[dict[str, torch.Tensor]]:
    """Detections for cached images (unflipped view), post-processed like the served model.

    Returns:
        Per image ``{"boxes": [D, 4] normalised xyxy, "scores": [D], "labels": [D]}``.
    """
    model.eval()
    out: list[dict[str, torch.Tensor]] = []
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            if check is not None:
                check()
            chunk = list(indices[start : start + batch_size])
            out.extend(criterion.detect(model(stack_view(cache, chunk))))
    return out
