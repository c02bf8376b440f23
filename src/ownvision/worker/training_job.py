"""Runs one training job: read the iteration's snapshot, train with ``ownvision.ml``, store the model.

Classification projects train a classifier (``ml.classifier``), object detection projects a detector
(``ml.detector``). Results are written only if the iteration still exists and is still training; if
it was deleted meanwhile (with its project or on its own), the files written for it are removed again.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..db.tables import Image, Iteration, IterationImage, IterationTag, Job, utcnow
from ..domain.domains import Domain, find_domain
from ..domain.enums import ClassificationType, DomainType, IterationStatus, TrainingType
from ..services.context import Context
from ..services.iterations import iteration_prefix, iteration_tags

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0


class _Progress:
    """Writes training progress to the iteration at most once a second."""

    def __init__(self, ctx: Context, iteration_id: uuid.UUID) -> None:
        self.ctx, self.iteration_id, self.last = ctx, iteration_id, 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self.last = now
        with self.ctx.db.write() as s:
            it = s.get(Iteration, self.iteration_id)
            if it is not None and it.status == IterationStatus.TRAINING.value:
                it.progress = max(0.0, min(1.0, float(fraction)))
                it.progress_message = message[:500]


@dataclass
class _Snapshot:
    iteration_id: uuid.UUID
    project_id: uuid.UUID
    domain: Domain
    multilabel: bool
    advanced: bool
    budget_s: float
    tags: list[IterationTag]  # the model's classes, in output order
    rows: list[tuple[uuid.UUID, list[str], list[dict[str, Any]], str]]  # image id, tag ids, regions, blob key


@dataclass
class _Outcome:
    onnx_model: bytes
    manifest: dict[str, Any]
    held_out: dict[uuid.UUID, list[dict[str, Any]]]  # image id -> predictions in wire form
    details: dict[str, Any]


def _fail(ctx: Context, iteration_id: uuid.UUID, reason: str) -> bool:
    """Mark the iteration Failed with ``reason``; False when it is gone or no longer training."""
    with ctx.db.write() as s:
        it = s.get(Iteration, iteration_id)
        if it is None or it.status != IterationStatus.TRAINING.value:
            return False
        it.status = IterationStatus.FAILED.value
        it.training_error_details = reason
        it.last_modified = utcnow()
        return True


def _fail_or_forget(ctx: Context, snap: _Snapshot, reason: str) -> None:
    """A training that broke off: fail its iteration, or, if it was deleted meanwhile, say so and clean up.

    Deleting a project removes its image files, so a training of it usually breaks off reading one.
    """
    if not _fail(ctx, snap.iteration_id, reason):
        ctx.blobs.delete_prefix(iteration_prefix(snap.project_id, snap.iteration_id))
        log.info("iteration %s was deleted during training; it stopped (%s)", snap.iteration_id, reason)


def _load(ctx: Context, job: Job) -> _Snapshot | None:
    assert job.iteration_id is not None
    with ctx.db.read() as s:
        it = s.get(Iteration, job.iteration_id)
        if it is None or it.status != IterationStatus.TRAINING.value:
            return None
        domain = find_domain(it.domain_id)
        if domain is None:
            raise ValueError(f"unknown domain {it.domain_id}")
        tags = [t for t in iteration_tags(s, it.id) if t.image_count > 0]
        rows = [
            (image_id, list(tag_ids), list(regions or []), key)
            for image_id, tag_ids, regions, key in s.execute(
                select(IterationImage.image_id, IterationImage.tag_ids, IterationImage.regions, Image.resized_key)
                .join(Image, Image.id == IterationImage.image_id)
                .where(IterationImage.iteration_id == it.id).order_by(Image.created, Image.id)
            )
        ]
        default_budget = (ctx.settings.detection_regular_budget_s
                          if domain.type is DomainType.OBJECT_DETECTION else 60.0)
        return _Snapshot(
            iteration_id=it.id, project_id=it.project_id, domain=domain,
            multilabel=it.classification_type == ClassificationType.MULTILABEL.value,
            advanced=it.training_type == TrainingType.ADVANCED.value,
            budget_s=float(job.payload.get("budget_s") or 0.0) or default_budget,
            tags=tags, rows=rows,
        )


def run_training(ctx: Context, job: Job, alive: Callable[[], bool]) -> None:
    from ..ml import TrainingCancelled

    try:
        snap = _load(ctx, job)
    except ValueError as exc:
        assert job.iteration_id is not None
        _fail(ctx, job.iteration_id, f"Training failed: {exc}")
        return
    if snap is None:
        log.info("iteration %s is gone or no longer training; nothing to do", job.iteration_id)
        return
    started = time.monotonic()
    progress = _Progress(ctx, snap.iteration_id)
    with tempfile.TemporaryDirectory(prefix="ownvision-train-") as tmp:
        train = _train_detector if snap.domain.type is DomainType.OBJECT_DETECTION else _train_classifier
        try:
            outcome = train(ctx, snap, Path(tmp), progress, lambda: not alive())
        except TrainingCancelled:
            log.info("training of iteration %s cancelled", snap.iteration_id)
            return
        except (ValueError, FileNotFoundError) as exc:
            _fail_or_forget(ctx, snap, f"Training failed: {exc}")
            return
        except Exception as exc:
            _fail_or_forget(ctx, snap, f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
            raise
    _save(ctx, snap, outcome, time.monotonic() - started, alive)


def _local_file(ctx: Context, key: str, tmp: Path) -> Path:
    path = ctx.blobs.local_path(key)
    if path is not None:
        return Path(path)
    dest = tmp / key.replace("/", "_")
    dest.write_bytes(ctx.blobs.get(key))
    return dest


def _train_classifier(ctx: Context, snap: _Snapshot, tmp: Path, progress: _Progress,
                      should_stop: Callable[[], bool]) -> _Outcome:
    from ..ml.classifier import ClassifierConfig, TrainingSample, train_classifier

    index = {str(t.tag_id): i for i, t in enumerate(snap.tags)}
    images: list[uuid.UUID] = []
    samples = []
    for image_id, tag_ids, _regions, key in snap.rows:
        labels = tuple(index[t] for t in tag_ids if t in index)
        if labels:
            images.append(image_id)
            samples.append(TrainingSample(path=_local_file(ctx, key, tmp), labels=labels))
    config = ClassifierConfig(backbone=snap.domain.backbone, multilabel=snap.multilabel, advanced=snap.advanced,
                              time_budget_s=snap.budget_s, num_threads=ctx.settings.train_threads)
    log.info("training classifier for iteration %s: %d images, %d tags, %s, %s", snap.iteration_id, len(samples),
             len(snap.tags), config.backbone, "advanced" if snap.advanced else "regular")
    result = train_classifier(samples, len(snap.tags), config, progress=progress, should_stop=should_stop)
    held_out = {
        images[i]: [{"tagId": str(t.tag_id), "probability": float(p)} for t, p in zip(snap.tags, probs, strict=True)]
        for i, probs in result.held_out
    }
    manifest = {"task": "classification", "multilabel": snap.multilabel, "preprocess": result.preprocess.to_dict(),
                "tags": [str(t.tag_id) for t in snap.tags], "backbone": snap.domain.backbone}
    return _Outcome(result.onnx_model, manifest, held_out, dict(result.details))


def _train_detector(ctx: Context, snap: _Snapshot, tmp: Path, progress: _Progress,
                    should_stop: Callable[[], bool]) -> _Outcome:
    from ..ml.detector import DetectionSample, DetectorConfig, train_detector

    index = {str(t.tag_id): i for i, t in enumerate(snap.tags)}
    images: list[uuid.UUID] = []
    samples = []
    for image_id, _tag_ids, regions, key in snap.rows:
        boxes = [r for r in regions if r["tagId"] in index]
        if not boxes:
            continue
        images.append(image_id)
        samples.append(DetectionSample(
            path=_local_file(ctx, key, tmp),
            boxes=tuple((float(r["left"]), float(r["top"]), float(r["width"]), float(r["height"])) for r in boxes),
            labels=tuple(index[r["tagId"]] for r in boxes),
        ))
    config = DetectorConfig(backbone=snap.domain.backbone, advanced=snap.advanced, time_budget_s=snap.budget_s,
                            num_threads=ctx.settings.train_threads)
    log.info("training detector for iteration %s: %d images, %d tags, %s, %s, budget %.0f s", snap.iteration_id,
             len(samples), len(snap.tags), config.backbone, "advanced" if snap.advanced else "regular", snap.budget_s)
    result = train_detector(samples, len(snap.tags), config, progress=progress, should_stop=should_stop)
    held_out = {
        images[i]: [
            {"tagId": str(snap.tags[label].tag_id), "probability": float(score),
             "boundingBox": {"left": box[0], "top": box[1], "width": box[2], "height": box[3]}}
            for label, score, box in dets
        ]
        for i, dets in result.held_out
    }
    manifest = {"task": "detection", "detector": result.spec, "tags": [str(t.tag_id) for t in snap.tags],
                "backbone": snap.domain.backbone}
    return _Outcome(result.onnx_model, manifest, held_out, dict(result.details))


def _save(ctx: Context, snap: _Snapshot, outcome: _Outcome, elapsed: float, alive: Callable[[], bool]) -> None:
    model_key = f"{iteration_prefix(snap.project_id, snap.iteration_id)}model.onnx"
    ctx.blobs.put(model_key, outcome.onnx_model)
    saved = False
    with ctx.db.write() as s:
        it = s.get(Iteration, snap.iteration_id)
        if it is not None and it.status == IterationStatus.TRAINING.value and alive():
            for row in s.scalars(select(IterationImage).where(IterationImage.iteration_id == snap.iteration_id)):
                row.held_out = outcome.held_out.get(row.image_id)
            it.model_key, it.model_manifest, it.details = model_key, outcome.manifest, outcome.details
            it.status = IterationStatus.COMPLETED.value
            it.trained_at = it.last_modified = utcnow()
            it.training_time_in_minutes = max(1, math.ceil(elapsed / 60))
            it.progress, it.progress_message = 1.0, "Completed"
            saved = True
    if not saved:
        ctx.blobs.delete_prefix(iteration_prefix(snap.project_id, snap.iteration_id))
        log.info("iteration %s was deleted during training; its files were removed", snap.iteration_id)
        return
    log.info("iteration %s completed in %.1f s", snap.iteration_id, elapsed)
