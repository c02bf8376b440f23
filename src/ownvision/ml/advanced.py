"""Advanced training: fine-tune the backbone tail within a wall-clock budget.

Plan (all times are measured while running, so the plan adapts to the machine and the data):

1. One pass over the images caches the frozen trunk's output (the input of the tail, see
   :data:`FINETUNE_FROM_BLOCK`) for the evaluation view and its mirror image, plus pooled features.
2. Extra random views (crop, flip, colour jitter) are cached while the caching stays within
   :data:`CACHE_SHARE` of the budget.
3. The Regular model (logistic head, k-fold CV) is fitted: it provides the held-out predictions and
   the fallback.
4. Fold 0 of that CV is the validation split. A logistic head fitted on the other folds gives the
   Regular validation score; the tail and head are fine-tuned on the same folds (warm-started from
   that head) for as many steps as half the remaining budget allows, keeping the best checkpoint by
   validation accuracy.
5. Only if fine-tuning beats the Regular score on the validation split is the run replayed on all
   samples up to the chosen step (same schedule); otherwise the Regular model is returned. If the
   replay cannot finish before the deadline, the validated fine-tuned model (trained without the
   validation fold) is used.
6. Export to ONNX.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ownvision.imaging import PreprocessSpec
from ownvision.ml.features import cache_features
from ownvision.ml.finetune import FinetuneConfig, evaluate, finetune
from ownvision.ml.linear_head import cross_validate, fit_linear_head, loss_fn, targets_matrix
from ownvision.ml.network import ClassifierNetwork, split_efficientnet
from ownvision.ml.onnx_export import export_onnx

if TYPE_CHECKING:
    from ownvision.ml.classifier import ClassifierConfig, Reporter, TrainedClassifier, TrainingSample

# First fine-tuned block per backbone: the trunk before it is frozen and cached.
FINETUNE_FROM_BLOCK: dict[str, int] = {"lite0": 6, "lite2": 6}
FINETUNE_CONFIG = FinetuneConfig()
CACHE_SHARE = 0.35  # at most this share of the budget goes to caching views
MAX_EXTRA_VIEWS = 4  # random views beyond the evaluation view and its mirror
MAX_EPOCHS = 40  # cap on fine-tuning length, in passes over the training images
MIN_STEPS = 20  # below this, fine-tuning is not attempted
EXPORT_RESERVE_S = 8.0  # time kept back for the ONNX export


def train_advanced(
    samples: Sequence[TrainingSample],
    num_classes: int,
    config: ClassifierConfig,
    backbone: nn.Module,
    spec: PreprocessSpec,
    reporter: Reporter,
) -> TrainedClassifier:
    """Advanced training; see the module docstring for the plan and
    :func:`ownvision.ml.classifier.train_classifier` for arguments and errors."""
    from ownvision.ml.classifier import TrainedClassifier, held_out_list

    budget = config.time_budget_s
    deadline = reporter.started + budget
    multilabel = config.multilabel

    def report(message: str) -> None:
        reporter.report(reporter.elapsed() / budget, message)

    at_block = FINETUNE_FROM_BLOCK.get(config.backbone, len(backbone.blocks) - 1)
    trunk, tail = split_efficientnet(backbone, at_block)
    paths = [s.path for s in samples]
    n = len(samples)
    tic = time.monotonic()
    base = cache_features(
        paths, spec, trunk, tail, views=(0, 1), keep_maps=True, seed=config.seed,
        check=reporter.check, on_batch=lambda done: report(f"features {done}/{n}"),
    )
    pass_s = time.monotonic() - tic
    per_view_s = pass_s / (2 * n)
    extra = int((CACHE_SHARE * budget - reporter.elapsed()) / max(1e-6, per_view_s * n))
    extra = max(0, min(MAX_EXTRA_VIEWS, extra))
    maps = base.maps
    if maps is None:  # keep_maps=True always returns maps
        raise RuntimeError("feature cache returned no maps")
    if extra:
        more = cache_features(
            paths, spec, trunk, tail, views=tuple(range(2, 2 + extra)), keep_maps=True,
            seed=config.seed + 1, check=reporter.check,
            on_batch=lambda done: report(f"augmented views {done}/{n}"),
        )
        if more.maps is None:
            raise RuntimeError("feature cache returned no maps")
        maps = torch.cat([maps, more.maps])
    tic = reporter.mark("features_s", tic)

    labels = [s.labels for s in samples]
    targets = torch.from_numpy(targets_matrix(labels, num_classes))
    features = base.features[0]
    report("cross-validating the head")
    cv = cross_validate(features, labels, num_classes, multilabel=multilabel, seed=config.seed, check=reporter.check)
    regular_head = fit_linear_head(features, targets, multilabel=multilabel, weight_decay=cv.weight_decay)
    tic = reporter.mark("head_s", tic)

    val_mask = torch.from_numpy(cv.folds == 0)
    train_idx, val_idx = torch.nonzero(~val_mask).squeeze(1), torch.nonzero(val_mask).squeeze(1)
    val = (maps[0, val_idx], targets[val_idx])
    split_head = fit_linear_head(
        features[train_idx], targets[train_idx], multilabel=multilabel, weight_decay=cv.weight_decay
    )
    regular_score, regular_metrics = evaluate(tail, split_head, val[0], val[1], multilabel)

    step_s = _time_step(tail, split_head, maps, targets, multilabel, FINETUNE_CONFIG.batch_size)
    left = deadline - time.monotonic() - EXPORT_RESERVE_S
    max_steps = int(MAX_EPOCHS * n / FINETUNE_CONFIG.batch_size) + 1
    steps = min(max_steps, int(left / 2 / step_s))
    details: dict[str, Any] = {
        "mode": "advanced",
        "backbone": config.backbone,
        "multilabel": multilabel,
        "num_samples": n,
        "num_classes": num_classes,
        "time_budget_s": budget,
        "finetune_from_block": at_block,
        "views": int(maps.shape[0]),
        "weight_decay": cv.weight_decay,
        "cv_folds": int(cv.folds.max()) + 1,
        "cv_scores": cv.scores,
        "cv_accuracy": cv.scores[f"{cv.weight_decay:g}"]["accuracy"],
        "validation_size": int(len(val_idx)),
        "regular_validation": {k: round(v, 4) for k, v in regular_metrics.items()},
        "planned_steps": steps,
        "seconds_per_step": round(step_s, 4),
        "finetune": asdict(FINETUNE_CONFIG),
    }
    final_tail, final_head, chosen = tail, regular_head, "regular"
    if steps >= MIN_STEPS and len(val_idx) > 0:
        report("fine-tuning (validation run)")
        search_deadline = time.monotonic() + left / 2 + 0.1 * left
        run = finetune(
            tail, split_head, maps[:, train_idx], targets[train_idx], multilabel=multilabel, steps=steps,
            config=FINETUNE_CONFIG, seed=config.seed, val=val, eval_every=max(5, steps // 10),
            deadline=min(search_deadline, deadline - EXPORT_RESERVE_S), check=reporter.check,
            on_step=lambda step: report(f"fine-tuning step {step}/{steps} (validation run)"),
        )
        tic = reporter.mark("finetune_validation_s", tic)
        details["finetune_history"] = run.history
        details["best_step"] = run.best_step
        if run.best_score is not None and run.best_score > regular_score and run.best_step > 0:
            final_tail, final_head, chosen = run.tail, run.head, "finetuned_without_validation_fold"
            replay_s = run.best_step * step_s * 1.1
            if time.monotonic() + replay_s < deadline - EXPORT_RESERVE_S:
                report("fine-tuning on all samples")
                full = finetune(
                    tail, regular_head, maps, targets, multilabel=multilabel, steps=steps,
                    config=FINETUNE_CONFIG, seed=config.seed, stop_after=run.best_step,
                    deadline=deadline - EXPORT_RESERVE_S, check=reporter.check,
                    on_step=lambda step: report(f"fine-tuning step {step}/{run.best_step}"),
                )
                if full.steps_run >= run.best_step:
                    final_tail, final_head, chosen = full.tail, full.head, "finetuned"
                reporter.mark("finetune_full_s", tic)
    else:
        details["skipped_finetune"] = "budget too small" if steps < MIN_STEPS else "no validation samples"
    details["chosen"] = chosen

    tic = time.monotonic()
    report("exporting to ONNX")
    network = ClassifierNetwork(trunk, final_tail, final_head, multilabel=multilabel)
    onnx_model = export_onnx(network, spec.input_size)
    reporter.mark("export_s", tic)
    reporter.report(1.0, "done")
    details["timings"] = {**reporter.timings, "total_s": round(reporter.elapsed(), 2)}
    return TrainedClassifier(onnx_model, spec, held_out_list(cv.held_out), details)


def _time_step(
    tail: nn.Module, head: nn.Linear, maps: torch.Tensor, targets: torch.Tensor, multilabel: bool, batch: int
) -> float:
    """Seconds of one forward/backward step on a batch of cached maps (best of 3, after a warm-up)."""
    import copy

    tail, head = copy.deepcopy(tail).train(), copy.deepcopy(head)
    idx = torch.arange(min(batch, maps.shape[1]))
    x = maps[0, idx].float()
    times = []
    for _ in range(4):
        tic = time.perf_counter()
        loss = loss_fn(head(tail(x)), targets[idx], multilabel)
        loss.backward()  # type: ignore[no-untyped-call]
        times.append(time.perf_counter() - tic)
    return float(np.min(times[1:])) * 1.15  # optimizer step and sampling overhead
