"""Fine-tuning the backbone tail and the head on cached trunk maps (Advanced training).

The trunk stays frozen and its outputs for several augmented views of every image are cached once
(:mod:`ownvision.ml.features`), so each step only runs the tail (the last blocks, the 1x1 head conv
and pooling) and the linear head. Batch-norm statistics stay frozen (batches are small and the
pretrained statistics are good); their affine parameters train. The learning rate follows a linear
warm-up and a cosine decay over the planned number of steps; a wall-clock deadline can cut the run
short, and the best checkpoint by validation score is returned.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ownvision.ml.linear_head import loss_fn, probabilities


@dataclass(frozen=True)
class FinetuneConfig:
    """Optimiser settings.

    Attributes:
        tail_lr: Peak AdamW learning rate of the tail.
        head_lr: Peak AdamW learning rate of the head.
        weight_decay: Decoupled weight decay (AdamW).
        label_smoothing: Multiclass target smoothing.
        batch_size: Samples per step (each a random view of a random image).
        warmup_steps: Linear warm-up length.
    """

    tail_lr: float = 3e-4
    head_lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    batch_size: int = 32
    warmup_steps: int = 10


@dataclass
class FinetuneResult:
    """Outcome of :func:`finetune`.

    Attributes:
        tail: Tail with the best weights (eval mode).
        head: Head with the best weights.
        best_step: Step of the best checkpoint (the final step when there is no validation).
        best_score: Validation score of that checkpoint, None without validation.
        steps_run: Steps actually run (fewer than planned when the deadline hit).
        seconds_per_step: Measured mean step time.
        history: ``{"step", "score", "accuracy", "log_loss"}`` for each evaluation.
    """

    tail: nn.Module
    head: nn.Linear
    best_step: int
    best_score: tuple[float, float] | None
    steps_run: int
    seconds_per_step: float
    history: list[dict[str, Any]] = field(default_factory=list)


def evaluate(
    tail: nn.Module, head: nn.Linear, maps: torch.Tensor, targets: torch.Tensor, multilabel: bool
) -> tuple[tuple[float, float], dict[str, float]]:
    """Score a tail and head on cached maps.

    Args:
        tail: ``[B, Ck, h, w] -> [B, D]``.
        head: ``[B, D] -> [B, C]``.
        maps: float16 ``[N, Ck, h, w]``.
        targets: ``[N, C]`` one-hot / multi-hot.
        multilabel: Loss type.

    Returns:
        ``(score, metrics)``: ``score`` orders checkpoints (higher is better): ``(accuracy,
        -log_loss)`` for multiclass, ``(-log_loss, accuracy)`` for multilabel, where accuracy is
        per-label at 0.5.
    """
    probs = predict(tail, head, maps, multilabel)
    p = probs.clamp(1e-6, 1 - 1e-6)
    if multilabel:
        nll = float(-(targets * p.log() + (1 - targets) * (1 - p).log()).mean())
        acc = float(((probs > 0.5) == (targets > 0.5)).float().mean())
        return (-nll, acc), {"accuracy": acc, "log_loss": nll}
    nll = float(-(targets * p.log()).sum(1).mean())
    acc = float((probs.argmax(1) == targets.argmax(1)).float().mean())
    return (acc, -nll), {"accuracy": acc, "log_loss": nll}


def predict(
    tail: nn.Module, head: nn.Linear, maps: torch.Tensor, multilabel: bool, batch_size: int = 64
) -> torch.Tensor:
    """Probabilities ``[N, C]`` for cached maps ``[N, Ck, h, w]`` (tail and head in eval mode)."""
    was_training = tail.training
    tail.eval()
    with torch.no_grad():
        out = [
            probabilities(head(tail(maps[i : i + batch_size].float())), multilabel)
            for i in range(0, len(maps), batch_size)
        ]
    tail.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, head.out_features)


def _freeze_batchnorm(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def finetune(
    tail: nn.Module,
    head: nn.Linear,
    maps: torch.Tensor,
    targets: torch.Tensor,
    *,
    multilabel: bool,
    steps: int,
    config: FinetuneConfig = FinetuneConfig(),
    seed: int = 0,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    eval_every: int = 25,
    deadline: float | None = None,
    stop_after: int | None = None,
    check: Callable[[], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> FinetuneResult:
    """Fine-tune copies of ``tail`` and ``head`` on cached trunk maps.

    Args:
        tail: Pretrained tail ``[B, Ck, h, w] -> [B, D]``; not modified (a copy is trained).
        head: Initial head ``nn.Linear(D, C)``, e.g. the logistic-regression fit; not modified.
        maps: float16 ``[V, N, Ck, h, w]``: V cached views of N training images.
        targets: ``[N, C]`` one-hot / multi-hot float targets.
        multilabel: Sigmoid BCE if True, softmax cross-entropy otherwise.
        steps: Planned steps (sets the learning-rate schedule).
        config: Optimiser settings.
        seed: Seed of batch sampling.
        val: Optional ``(maps [M, Ck, h, w], targets [M, C])`` to pick the best checkpoint.
        eval_every: Steps between validations.
        deadline: ``time.monotonic()`` value at which to stop early.
        stop_after: Stop after this many steps while keeping the schedule of ``steps`` (to replay a
            run up to the step validation chose).
        check: Called every step (raise there to cancel).
        on_step: Called with the step number after each step.

    Returns:
        The best (by validation) or last (without validation) weights and the training log.
    """
    tail = copy.deepcopy(tail)
    head = copy.deepcopy(head)
    views, n = maps.shape[0], maps.shape[1]
    if multilabel or config.label_smoothing <= 0:
        soft = targets
    else:
        soft = targets * (1 - config.label_smoothing) + config.label_smoothing / targets.shape[1]
    decay, no_decay = [], []
    for p in tail.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "lr": config.tail_lr, "weight_decay": config.weight_decay},
            {"params": no_decay, "lr": config.tail_lr, "weight_decay": 0.0},
            {"params": list(head.parameters()), "lr": config.head_lr, "weight_decay": config.weight_decay},
        ]
    )
    peaks = [g["lr"] for g in optimizer.param_groups]
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, Any]] = []
    best_score: tuple[float, float] | None = None
    best_state = (copy.deepcopy(tail.state_dict()), copy.deepcopy(head.state_dict()))
    best_step = 0
    if val is not None:
        best_score, metrics = evaluate(tail, head, val[0], val[1], multilabel)
        history.append({"step": 0, **_rounded(metrics)})
    tail.train()
    _freeze_batchnorm(tail)
    step = 0
    started = time.monotonic()
    last = steps if stop_after is None else max(0, min(steps, stop_after))
    for step in range(1, last + 1):
        if check is not None:
            check()
        if deadline is not None and time.monotonic() >= deadline:
            step -= 1
            break
        factor = _schedule(step, steps, config.warmup_steps)
        for group, peak in zip(optimizer.param_groups, peaks, strict=True):
            group["lr"] = peak * factor
        idx = torch.randint(0, n, (min(config.batch_size, n),), generator=generator)
        view = torch.randint(0, views, (len(idx),), generator=generator)
        x = maps[view, idx].float()
        loss = loss_fn(head(tail(x)), soft[idx], multilabel)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if on_step is not None:
            on_step(step)
        if val is not None and (step % eval_every == 0 or step == last):
            score, metrics = evaluate(tail, head, val[0], val[1], multilabel)
            history.append({"step": step, "loss": round(float(loss), 4), **_rounded(metrics)})
            _freeze_batchnorm(tail)
            if best_score is None or score > best_score:
                best_score, best_step = score, step
                best_state = (copy.deepcopy(tail.state_dict()), copy.deepcopy(head.state_dict()))
    elapsed = time.monotonic() - started
    if val is None:
        best_step = step
    else:
        tail.load_state_dict(best_state[0])
        head.load_state_dict(best_state[1])
    return FinetuneResult(
        tail=tail.eval(),
        head=head,
        best_step=best_step,
        best_score=best_score,
        steps_run=step,
        seconds_per_step=elapsed / max(1, step),
        history=history,
    )


def _schedule(step: int, total: int, warmup: int) -> float:
    if step <= warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items()}
