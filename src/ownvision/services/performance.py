"""GetIterationPerformance, GetImagePerformances, GetImagePerformanceCount.

Figures are computed on demand from the held-out predictions that training stored for each image
(every image was predicted by a model that did not train on it), so any threshold can be asked for.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from .. import errors
from ..db.tables import Image, IterationImage
from ..domain.enums import IterationStatus, OrderBy
from ..evaluation.detection import detection_metrics
from ..evaluation.metrics import classification_metrics
from .context import Context
from .iterations import iteration_tags, load_iteration
from .projects import load_project


@dataclass(frozen=True)
class TagPerformance:
    id: uuid.UUID
    name: str
    precision: float
    recall: float
    average_precision: float


@dataclass(frozen=True)
class IterationPerformance:
    per_tag: list[TagPerformance]
    precision: float
    recall: float
    average_precision: float


@dataclass(frozen=True)
class ImagePerformance:
    id: uuid.UUID
    created: datetime
    width: int
    height: int
    resized_key: str
    thumbnail_key: str
    tags: list[tuple[uuid.UUID, str]]
    regions: list[dict[str, Any]]
    predictions: list[dict[str, Any]]


def _completed(s: Any, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID) -> Any:
    load_project(s, account_id, project_id)
    it = load_iteration(s, project_id, iteration_id)
    if it.status != IterationStatus.COMPLETED.value:
        raise errors.BadRequest("BadRequestIterationIsNotTrained", f"Iteration {iteration_id} is {it.status}, not trained.")
    return it


def iteration_performance(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    threshold: float, overlap_threshold: float,
) -> IterationPerformance:
    with ctx.db.read() as s:
        it = _completed(s, account_id, project_id, iteration_id)
        tags = iteration_tags(s, iteration_id)
        rows = list(s.scalars(select(IterationImage).where(
            IterationImage.iteration_id == iteration_id, IterationImage.held_out.is_not(None))))
    detection = (it.model_manifest or {}).get("task") == "detection"
    index = {str(t.tag_id): i for i, t in enumerate(tags)}
    if detection:
        return _detection_performance(tags, index, rows, threshold, overlap_threshold)
    scores = np.zeros((len(rows), len(tags)), dtype=np.float64)
    truth: list[list[int]] = []
    for r, row in enumerate(rows):
        for p in row.held_out or []:
            k = index.get(p["tagId"])
            if k is not None:
                scores[r, k] = p["probability"]
        truth.append([index[t] for t in row.tag_ids if t in index])
    m = classification_metrics(truth, scores, threshold=threshold)
    per_tag = [
        TagPerformance(t.tag_id, t.name, tm.precision, tm.recall, tm.average_precision)
        for t, tm in zip(tags, m.per_tag, strict=True)
    ]
    return IterationPerformance(per_tag, m.precision, m.recall, m.average_precision)


def _box(d: dict[str, Any]) -> tuple[float, float, float, float]:
    return (float(d["left"]), float(d["top"]), float(d["width"]), float(d["height"]))


def _detection_performance(tags: Sequence[Any], index: dict[str, int], rows: Sequence[IterationImage],
                           threshold: float, overlap_threshold: float) -> IterationPerformance:
    truth = [[(index[r["tagId"]], _box(r)) for r in row.regions or [] if r["tagId"] in index] for row in rows]
    dets = [[(index[p["tagId"]], float(p["probability"]), _box(p["boundingBox"]))
             for p in row.held_out or [] if p["tagId"] in index and p.get("boundingBox")] for row in rows]
    m = detection_metrics(truth, dets, len(tags), iou_threshold=overlap_threshold, score_threshold=threshold)

    def finite(x: float) -> float:
        return 0.0 if math.isnan(x) else float(x)

    per_tag = [
        TagPerformance(t.tag_id, t.name, cm.precision, cm.recall, finite(cm.average_precision))
        for t, cm in zip(tags, m.per_class, strict=True)
    ]
    return IterationPerformance(per_tag, m.precision, m.recall, finite(m.mean_average_precision))


def _performance_query(iteration_id: uuid.UUID) -> Any:
    return (select(IterationImage, Image).join(Image, Image.id == IterationImage.image_id)
            .where(IterationImage.iteration_id == iteration_id, IterationImage.held_out.is_not(None)))


def _has_any_tag(row: IterationImage, tag_ids: Sequence[uuid.UUID]) -> bool:
    wanted = {str(t) for t in tag_ids}
    return not wanted or bool(wanted & set(row.tag_ids))


def image_performances(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    tag_ids: Sequence[uuid.UUID], order_by: str, skip: int, take: int,
) -> list[ImagePerformance]:
    with ctx.db.read() as s:
        _completed(s, account_id, project_id, iteration_id)
        names = {t.tag_id: t.name for t in iteration_tags(s, iteration_id)}
        q = _performance_query(iteration_id)
        q = q.order_by(Image.created.asc() if order_by == OrderBy.OLDEST.value else Image.created.desc(), Image.id)
        rows = [(r, img) for r, img in s.execute(q).all() if _has_any_tag(r, tag_ids)]
    out = []
    for row, img in rows[skip:skip + take]:
        out.append(ImagePerformance(
            id=img.id, created=img.created, width=img.width, height=img.height,
            resized_key=img.resized_key, thumbnail_key=img.thumbnail_key,
            tags=[(uuid.UUID(t), names.get(uuid.UUID(t), "")) for t in row.tag_ids],
            regions=list(row.regions or []),
            predictions=[dict(p, tagName=names.get(uuid.UUID(p["tagId"]), "")) for p in row.held_out or []],
        ))
    return out


def image_performance_count(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    tag_ids: Sequence[uuid.UUID],
) -> int:
    with ctx.db.read() as s:
        _completed(s, account_id, project_id, iteration_id)
        rows = s.scalars(select(IterationImage).where(
            IterationImage.iteration_id == iteration_id, IterationImage.held_out.is_not(None)))
        return sum(1 for r in rows if _has_any_tag(r, tag_ids))
