"""Prediction: classify with a published (or any trained) iteration, store predictions, query them.

Models run on ONNX Runtime; each iteration's model is loaded once and kept warm (LRU). A stored
prediction keeps the image (original, thumbnail) under the project's prefix, so that it can be
reviewed with QueryPredictions and moved into the training set with CreateImagesFromPredictions.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import delete, func, select

from .. import errors
from ..db.tables import Iteration, PredictionTagScore, StoredPrediction, utcnow
from ..domain.domains import find_domain
from ..domain.enums import DomainType, ImageCreateStatus, IterationStatus
from ..imaging import load_image
from ..imaging.ingest import ImageRejected, check_and_prepare
from ..inference.detector import DetectorRunner
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context
from .images import CreateResult, RegionIn, UploadEntry, create_images
from .iterations import find_published, iteration_tags, latest_completed, load_iteration
from .models import LoadedModel
from .projects import load_project, project_prefix

log = logging.getLogger(__name__)

MAX_QUERY_TAGS = 2
MAX_DELETE_PREDICTIONS = 64


@dataclass(frozen=True)
class PredictionItem:
    probability: float
    tag_id: uuid.UUID
    tag_name: str
    tag_type: str
    bounding_box: dict[str, float] | None = None


@dataclass(frozen=True)
class PredictionResult:
    id: uuid.UUID
    project_id: uuid.UUID
    iteration_id: uuid.UUID
    created: datetime
    predictions: list[PredictionItem]


def _max_bytes(ctx: Context) -> int:
    return int(ctx.settings.max_prediction_image_mb * 1024 * 1024)


def _resolve(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, published_name: str | None,
    iteration_id: uuid.UUID | None, task: str,
) -> tuple[Iteration, list[tuple[uuid.UUID, str, str]], uuid.UUID]:
    with ctx.db.read() as s:
        project = load_project(s, account_id, project_id)
        domain = find_domain(project.domain_id)
        is_detection = domain is not None and domain.type is DomainType.OBJECT_DETECTION
        if published_name is not None:
            it = find_published(s, project_id, published_name)
        elif iteration_id is not None:
            it = load_iteration(s, project_id, iteration_id)
        else:
            it = latest_completed(s, project_id)
        if it.status != IterationStatus.COMPLETED.value:
            raise errors.BadRequest("BadRequestIterationIsNotTrained", f"Iteration {it.id} is {it.status}, not trained.")
        if task == "classify" and is_detection:
            raise errors.BadRequest("BadRequestNotSupported", "This is an object detection project: use detect, not classify.")
        if task == "detect" and not is_detection:
            raise errors.BadRequest("BadRequestNotSupported", "This is a classification project: use classify, not detect.")
        tags = [(t.tag_id, t.name, t.type) for t in iteration_tags(s, it.id)]
        return it, tags, project.domain_id


def predict_image(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, data: bytes, task: str = "classify",
    published_name: str | None = None, iteration_id: uuid.UUID | None = None, store: bool = True,
    application: str | None = None,
) -> PredictionResult:
    """Predict one image; with ``store`` the image and result are kept for review."""
    if len(data) > _max_bytes(ctx):
        raise errors.PayloadTooLarge(
            "BadRequestImageSizeBytes", f"The image is {len(data)} bytes; prediction accepts at most {_max_bytes(ctx)}."
        )
    if application is not None and len(application) > 256:
        raise errors.BadRequest("BadRequestPredictionInvalidApplicationName", "application must be at most 256 characters.")
    iteration, tags, domain_id = _resolve(ctx, account_id=account_id, project_id=project_id,
                                          published_name=published_name, iteration_id=iteration_id, task=task)
    try:
        image = load_image(data)
    except ValueError as exc:
        raise errors.BadRequest("BadRequestImageFormat", "The data is not a readable image (JPEG, PNG, BMP, GIF, WebP).") from exc
    items = sorted(run_model(ctx.models.get(iteration, tags), image), key=lambda x: -x.probability)
    result = PredictionResult(uuid.uuid4(), project_id, iteration.id, utcnow(), items)
    if store:
        _store(ctx, result, data, domain_id, application)
    return result


def run_model(model: LoadedModel, image: Image.Image) -> list[PredictionItem]:
    """Predictions of one image: every tag's probability, or the detected boxes (NMS done)."""
    if isinstance(model.runner, DetectorRunner):
        out = []
        for d in model.runner.detect([image])[0]:
            tid, name, ttype = model.tags[d.label]
            box = {"left": d.left, "top": d.top, "width": d.width, "height": d.height}
            out.append(PredictionItem(float(d.score), tid, name, ttype, box))
        return out
    probs = model.runner.classify([image])[0]
    return [PredictionItem(float(p), tid, name, ttype) for p, (tid, name, ttype) in zip(probs, model.tags, strict=True)]


def _item_json(p: PredictionItem) -> dict[str, Any]:
    return {"probability": p.probability, "tagId": str(p.tag_id), "tagName": p.tag_name,
            "tagType": p.tag_type, "boundingBox": p.bounding_box}


def _store(ctx: Context, result: PredictionResult, data: bytes, domain_id: uuid.UUID, application: str | None) -> None:
    try:
        ing = check_and_prepare(data, max_bytes=_max_bytes(ctx))
    except ImageRejected as rej:
        raise errors.BadRequest("BadRequestImageFormat", rej.message) from rej
    prefix = f"{project_prefix(result.project_id)}predictions/{result.id}/"
    original = f"{prefix}original.{ing.format}"
    ctx.blobs.put(original, ing.original)
    ctx.blobs.put(f"{prefix}thumbnail.jpg", ing.thumbnail)
    resized = original
    if ing.resized is not None:
        resized = f"{prefix}resized.{ing.resized_format}"
        ctx.blobs.put(resized, ing.resized)
    try:
        with ctx.db.write() as s:
            s.add(StoredPrediction(
                id=result.id, project_id=result.project_id, iteration_id=result.iteration_id, domain_id=domain_id,
                created=result.created, application=application, width=ing.width, height=ing.height,
                original_key=original, resized_key=resized, thumbnail_key=f"{prefix}thumbnail.jpg",
                sha256=ing.sha256, format=ing.format, size_bytes=len(data),
                predictions=[_item_json(p) for p in result.predictions],
            ))
            s.flush()  # the scores reference the prediction row
            best: dict[uuid.UUID, float] = {}
            for p in result.predictions:
                best[p.tag_id] = max(best.get(p.tag_id, 0.0), p.probability)
            for tag_id, prob in best.items():
                s.add(PredictionTagScore(prediction_id=result.id, tag_id=tag_id, probability=prob))
    except BaseException:
        ctx.blobs.delete_prefix(prefix)
        raise


# ---- stored predictions ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueryTag:
    id: uuid.UUID
    min_threshold: float
    max_threshold: float


@dataclass(frozen=True)
class PredictionQuery:
    session: str | None = None
    continuation: str | None = None
    max_count: int = 50
    order_by: str = "Newest"
    tags: Sequence[QueryTag] = ()
    iteration_id: uuid.UUID | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    application: str | None = None


def _decode_continuation(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return max(0, int(data["skip"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.BadRequest("BadRequestPredictionInvalidQueryParameters", "The continuation token is not valid.") from exc


def _encode_continuation(skip: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"skip": skip}).encode()).decode()


def query_predictions(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, query: PredictionQuery
) -> tuple[list[StoredPrediction], str | None]:
    """A page of stored predictions and the continuation for the next page (None at the end)."""
    if len(query.tags) > MAX_QUERY_TAGS:
        raise errors.BadRequest("BadRequestPredictionTagsExceededCount", f"At most {MAX_QUERY_TAGS} tags per query.")
    if not 1 <= query.max_count <= 256:
        raise errors.BadRequest("BadRequestPredictionResultsExceededCount", "maxCount must be between 1 and 256.")
    skip = _decode_continuation(query.continuation)
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt = select(StoredPrediction).where(StoredPrediction.project_id == project_id)
        if query.iteration_id is not None:
            stmt = stmt.where(StoredPrediction.iteration_id == query.iteration_id)
        if query.application:
            stmt = stmt.where(StoredPrediction.application == query.application)
        if query.start_time is not None:
            stmt = stmt.where(StoredPrediction.created >= query.start_time)
        if query.end_time is not None:
            stmt = stmt.where(StoredPrediction.created <= query.end_time)
        for t in query.tags:
            stmt = stmt.where(StoredPrediction.id.in_(select(PredictionTagScore.prediction_id).where(
                PredictionTagScore.tag_id == t.id,
                PredictionTagScore.probability >= t.min_threshold,
                PredictionTagScore.probability <= t.max_threshold,
            )))
        order = StoredPrediction.created.asc() if query.order_by == "Oldest" else StoredPrediction.created.desc()
        rows = list(s.scalars(stmt.order_by(order, StoredPrediction.id).offset(skip).limit(query.max_count + 1)))
    more = len(rows) > query.max_count
    return rows[:query.max_count], (_encode_continuation(skip + query.max_count) if more else None)


def delete_predictions(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    if not ids:
        raise errors.BadRequest("BadRequestPredictionIdsMissing", "ids is required.")
    if len(ids) > MAX_DELETE_PREDICTIONS:
        raise errors.BadRequest("BadRequestPredictionIdsExceededCount", f"At most {MAX_DELETE_PREDICTIONS} ids.")
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        found = list(s.scalars(select(StoredPrediction.id).where(
            StoredPrediction.project_id == project_id, StoredPrediction.id.in_(list(ids)))))
        s.execute(delete(StoredPrediction).where(StoredPrediction.id.in_(found)))
        if found:
            record(s, account_id=account_id, action="predictions.delete", target_type="project", target_id=project_id,
                   detail=f"predictions={len(found)}")
    for pid in found:
        ctx.blobs.delete_prefix(f"{project_prefix(project_id)}predictions/{pid}/")
    if found:
        checkpoint_wal(ctx)


def create_images_from_predictions(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID,
    entries: Sequence[tuple[uuid.UUID | None, list[uuid.UUID], list[RegionIn]]],
    tag_ids: Sequence[uuid.UUID], metadata: dict[str, str] | None,
) -> list[CreateResult]:
    """Move stored prediction images into the training set (the prediction is removed once stored)."""
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        ids = [e[0] for e in entries if e[0] is not None]
        rows = {p.id: p for p in s.scalars(select(StoredPrediction).where(
            StoredPrediction.project_id == project_id, StoredPrediction.id.in_(ids)))}
    uploads = []
    for pred_id, tags, regions in entries:
        row = rows.get(pred_id) if pred_id is not None else None
        if row is None:
            uploads.append(UploadEntry(data=None, tag_ids=tags, regions=regions, error=ImageCreateStatus.ERROR_SOURCE,
                                       error_message=f"Stored prediction {pred_id} not found."))
            continue
        uploads.append(UploadEntry(data=ctx.blobs.get(row.original_key), tag_ids=tags, regions=regions))
    results = create_images(ctx, account_id=account_id, project_id=project_id, entries=uploads,
                            tag_ids=tag_ids, metadata=metadata)
    moved = [pred_id for (pred_id, _t, _r), res in zip(entries, results, strict=True)
             if pred_id is not None and res.status in (ImageCreateStatus.OK, ImageCreateStatus.OK_DUPLICATE)]
    if moved:
        delete_predictions(ctx, account_id=account_id, project_id=project_id, ids=moved)
    return results


def purge_old_predictions(ctx: Context, *, older_than_days: int) -> int:
    """Delete stored predictions older than the retention period; returns how many."""
    if older_than_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=older_than_days)
    with ctx.db.write() as s:
        old = list(s.execute(select(StoredPrediction.id, StoredPrediction.project_id).where(
            StoredPrediction.created < cutoff).limit(1000)))
        s.execute(delete(StoredPrediction).where(StoredPrediction.id.in_([r[0] for r in old])))
        if old:
            record(s, account_id=None, actor="retention", action="predictions.purge", target_type="predictions",
                   detail=f"predictions={len(old)} older_than_days={older_than_days}")
    for pid, project_id in old:
        ctx.blobs.delete_prefix(f"{project_prefix(project_id)}predictions/{pid}/")
    if old:
        checkpoint_wal(ctx)
        log.info("purged %d stored predictions older than %d days", len(old), older_than_days)
    return len(old)


def count_predictions(ctx: Context, *, project_id: uuid.UUID) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(StoredPrediction).where(
            StoredPrediction.project_id == project_id)) or 0)
