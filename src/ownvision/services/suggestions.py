"""The smart labeler: suggested tags and regions for untagged images, and region proposals.

SuggestTagsAndRegions runs a trained iteration on untagged images and keeps the results;
QuerySuggestedImages lists them (computing suggestions for untagged images that have none yet, a
batch at a time) sorted by uncertainty, so a person labels the images the model is least sure of first.

Uncertainty is 1 - (p1 - p2), the margin between the two most probable tags, for classification; for
detection, the largest 1 - |2p - 1| over the suggested boxes (a box at 0.5 is the least certain).
GetImageRegionProposals proposes class-agnostic boxes: the latest trained detector's boxes of any tag,
or, without one, class-agnostic proposals from image segmentation (``ownvision.imaging.proposals``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .. import errors
from ..db.tables import Image as ImageRow
from ..db.tables import Iteration, Suggestion, utcnow
from ..domain.enums import IterationStatus
from ..imaging import load_image
from ..imaging.proposals import propose_regions
from .context import Context
from .iterations import iteration_tags, load_iteration
from .predictions import PredictionItem, run_model
from .projects import load_project

MAX_SUGGEST_IMAGES = 64
FILL_PER_QUERY = 64
MIN_PROBABILITY = 0.05


@dataclass(frozen=True)
class SuggestionView:
    image: ImageRow
    iteration_id: uuid.UUID
    created: Any
    predictions: list[dict[str, Any]]
    uncertainty: float


def _uncertainty(items: Sequence[PredictionItem], detection: bool) -> float:
    probs = sorted((p.probability for p in items), reverse=True)
    if detection:
        return max((1.0 - abs(2.0 * p - 1.0) for p in probs), default=0.0)
    if not probs:
        return 1.0
    second = probs[1] if len(probs) > 1 else 0.0
    return 1.0 - (probs[0] - second)


def _trained(s: Any, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID) -> Iteration:
    load_project(s, account_id, project_id)
    it = load_iteration(s, project_id, iteration_id)
    if it.status != IterationStatus.COMPLETED.value:
        raise errors.BadRequest("BadRequestIterationIsNotTrained", f"Iteration {iteration_id} is {it.status}, not trained.")
    return it


def _compute(ctx: Context, it: Iteration, tags: list[tuple[uuid.UUID, str, str]], images: Sequence[ImageRow]) -> None:
    model = ctx.models.get(it, tags)
    detection = model.task == "detection"
    rows = []
    for img in images:
        picture = load_image(ctx.blobs.get(img.resized_key))
        items = [p for p in run_model(model, picture) if p.probability >= MIN_PROBABILITY or not detection]
        items.sort(key=lambda p: -p.probability)
        preds = [{"probability": p.probability, "tagId": str(p.tag_id), "tagName": p.tag_name, "tagType": p.tag_type,
                  "boundingBox": p.bounding_box} for p in items]
        rows.append((img.id, preds, _uncertainty(items, detection)))
    with ctx.db.write() as s:
        for image_id, preds, unc in rows:
            if s.get(ImageRow, image_id) is None:
                continue  # deleted meanwhile
            existing = s.get(Suggestion, (image_id, it.id))
            if existing is None:
                s.add(Suggestion(image_id=image_id, iteration_id=it.id, project_id=it.project_id,
                                 predictions=preds, uncertainty=unc))
            else:
                existing.predictions, existing.uncertainty, existing.created = preds, unc, utcnow()


def suggest_tags_and_regions(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    image_ids: Sequence[uuid.UUID],
) -> list[SuggestionView]:
    if not image_ids:
        raise errors.BadRequest("BadRequestRequiredParamIsNull", "imageIds is required.")
    if len(image_ids) > MAX_SUGGEST_IMAGES:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_SUGGEST_IMAGES} images.")
    with ctx.db.read() as s:
        it = _trained(s, account_id, project_id, iteration_id)
        tags = [(t.tag_id, t.name, t.type) for t in iteration_tags(s, it.id)]
        images = {i.id: i for i in s.scalars(select(ImageRow).where(
            ImageRow.project_id == project_id, ImageRow.id.in_(list(image_ids))))}
    missing = [i for i in image_ids if i not in images]
    if missing:
        raise errors.NotFound("NotFoundImage", f"Image {missing[0]} not found.")
    _compute(ctx, it, tags, [images[i] for i in dict.fromkeys(image_ids)])
    with ctx.db.read() as s:
        rows = {r.image_id: r for r in s.scalars(select(Suggestion).where(
            Suggestion.iteration_id == it.id, Suggestion.image_id.in_(list(image_ids))))}
    return [SuggestionView(images[i], it.id, rows[i].created, rows[i].predictions, rows[i].uncertainty)
            for i in dict.fromkeys(image_ids) if i in rows]


def _fill(ctx: Context, it: Iteration, tags: list[tuple[uuid.UUID, str, str]]) -> None:
    """Compute suggestions for a batch of untagged images that have none from this iteration yet."""
    with ctx.db.read() as s:
        have = select(Suggestion.image_id).where(Suggestion.iteration_id == it.id)
        todo = list(s.scalars(select(ImageRow).where(
            ImageRow.project_id == it.project_id, ImageRow.tag_count == 0, ImageRow.id.not_in(have)
        ).order_by(ImageRow.created).limit(FILL_PER_QUERY)))
    if todo:
        _compute(ctx, it, tags, todo)


def _matching(s: Any, it: Iteration, tag_ids: Sequence[uuid.UUID], threshold: float) -> list[tuple[Suggestion, ImageRow]]:
    rows = s.execute(select(Suggestion, ImageRow).join(ImageRow, ImageRow.id == Suggestion.image_id).where(
        Suggestion.iteration_id == it.id, ImageRow.tag_count == 0)).all()
    wanted = {str(t) for t in tag_ids}
    out = []
    for sug, img in rows:
        if any(p["probability"] >= threshold and (not wanted or p["tagId"] in wanted) for p in sug.predictions):
            out.append((sug, img))
    return out


def query_suggested(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    tag_ids: Sequence[uuid.UUID], threshold: float, max_count: int, continuation: str | None, descending: bool,
) -> tuple[list[SuggestionView], str | None]:
    skip = _skip(continuation)
    with ctx.db.read() as s:
        it = _trained(s, account_id, project_id, iteration_id)
        tags = [(t.tag_id, t.name, t.type) for t in iteration_tags(s, it.id)]
    _fill(ctx, it, tags)
    with ctx.db.read() as s:
        rows = _matching(s, it, tag_ids, threshold)
    rows.sort(key=lambda r: (r[0].uncertainty, r[1].created), reverse=descending)
    page = rows[skip:skip + max_count]
    more = len(rows) > skip + max_count
    views = [SuggestionView(img, it.id, sug.created, sug.predictions, sug.uncertainty) for sug, img in page]
    return views, (_token(skip + max_count) if more else None)


def suggested_count(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    tag_ids: Sequence[uuid.UUID], threshold: float,
) -> dict[str, int]:
    with ctx.db.read() as s:
        it = _trained(s, account_id, project_id, iteration_id)
        tags = [(t.tag_id, t.name, t.type) for t in iteration_tags(s, it.id)]
    _fill(ctx, it, tags)
    wanted = [str(t) for t in tag_ids] or [str(t[0]) for t in tags]
    with ctx.db.read() as s:
        rows = _matching(s, it, [], threshold)
    return {t: sum(1 for sug, _img in rows if any(p["tagId"] == t and p["probability"] >= threshold
                                                   for p in sug.predictions)) for t in wanted}


def _skip(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(0, int(json.loads(base64.urlsafe_b64decode(token.encode()))["skip"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.BadRequest("BadRequestInvalid", "The continuation token is not valid.") from exc


def _token(skip: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"skip": skip}).encode()).decode()


# ---- region proposals --------------------------------------------------------------------------


def region_proposals(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, image_id: uuid.UUID
) -> list[tuple[float, dict[str, float]]]:
    """(confidence, box) proposals for an image of the project, best first."""
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        img = s.get(ImageRow, image_id)
        if img is None or img.project_id != project_id:
            raise errors.NotFound("NotFoundImage", f"Image {image_id} not found.")
        detector = s.scalar(select(Iteration).where(
            Iteration.project_id == project_id, Iteration.status == IterationStatus.COMPLETED.value
        ).order_by(Iteration.trained_at.desc()).limit(1))
        tags = [(t.tag_id, t.name, t.type) for t in iteration_tags(s, detector.id)] if detector else []
    picture = load_image(ctx.blobs.get(img.resized_key))
    if detector is not None and (detector.model_manifest or {}).get("task") == "detection":
        items = run_model(ctx.models.get(detector, tags), picture)
        found = [(p.probability, p.bounding_box) for p in items if p.bounding_box and p.probability >= MIN_PROBABILITY]
        if found:
            return sorted(found, key=lambda x: -x[0])[:50]  # type: ignore[arg-type,return-value]
    return propose_regions(picture)
