"""Reading a project of this server page by page: for archives, data exports and ImportProject.

Every page is read in its own short transaction, so a large project is never held in memory and
never holds a transaction open for long (a checkpoint after a deletion would wait for it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, or_, select

from .. import errors
from ..db.tables import Image, Iteration, IterationImage, Project, StoredPrediction, Tag
from ..domain.enums import IterationStatus
from ..imaging.ingest import IngestedImage
from .context import Context
from .iterations import iteration_tags
from .project_copy import ImageLoader, ModelLoader
from .records import image_record, iteration_record, project_record, snapshot_record, tag_record

PAGE = 256


def image_pages(ctx: Context, project_id: uuid.UUID, page: int = PAGE) -> Iterator[list[Image]]:
    """The project's images, oldest first, with their tags, regions and metadata loaded."""
    last: tuple[Any, uuid.UUID] | None = None
    while True:
        with ctx.db.read() as s:
            q = select(Image).where(Image.project_id == project_id)
            if last is not None:
                q = q.where(or_(Image.created > last[0], and_(Image.created == last[0], Image.id > last[1])))
            rows = list(s.scalars(q.order_by(Image.created, Image.id).limit(page)))
        if not rows:
            return
        yield rows
        last = (rows[-1].created, rows[-1].id)


def snapshot_pages(ctx: Context, iteration_id: uuid.UUID, page: int = 1024) -> Iterator[list[IterationImage]]:
    last: uuid.UUID | None = None
    while True:
        with ctx.db.read() as s:
            q = select(IterationImage).where(IterationImage.iteration_id == iteration_id)
            if last is not None:
                q = q.where(IterationImage.image_id > last)
            rows = list(s.scalars(q.order_by(IterationImage.image_id).limit(page)))
        if not rows:
            return
        yield rows
        last = rows[-1].image_id


def prediction_pages(ctx: Context, project_id: uuid.UUID, page: int = PAGE) -> Iterator[list[StoredPrediction]]:
    last: tuple[Any, uuid.UUID] | None = None
    while True:
        with ctx.db.read() as s:
            q = select(StoredPrediction).where(StoredPrediction.project_id == project_id)
            if last is not None:
                q = q.where(or_(StoredPrediction.created > last[0],
                                and_(StoredPrediction.created == last[0], StoredPrediction.id > last[1])))
            rows = list(s.scalars(q.order_by(StoredPrediction.created, StoredPrediction.id).limit(page)))
        if not rows:
            return
        yield rows
        last = (rows[-1].created, rows[-1].id)


def project_row(ctx: Context, project_id: uuid.UUID) -> Project:
    with ctx.db.read() as s:
        p = s.get(Project, project_id)
    if p is None:
        raise errors.NotFound("NotFoundProject", f"Project {project_id} not found.")
    return p


def tag_rows(ctx: Context, project_id: uuid.UUID) -> list[Tag]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Tag).where(Tag.project_id == project_id).order_by(Tag.created, Tag.name)))


def iteration_rows(ctx: Context, project_id: uuid.UUID) -> list[Iteration]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Iteration).where(Iteration.project_id == project_id).order_by(Iteration.created)))


def relative_key(project_id: uuid.UUID, key: str) -> str:
    """A blob key relative to its project's prefix (the file's path inside an archive)."""
    prefix = f"projects/{project_id}/"
    if not key.startswith(prefix):
        raise ValueError(f"blob {key!r} is not under {prefix!r}")
    return key[len(prefix):]


class LiveProjectSource:
    """A project of this server as a :class:`~.project_copy.ProjectSource` (blobs copied as they are)."""

    def __init__(self, ctx: Context, project_id: uuid.UUID) -> None:
        self.ctx, self.project_id = ctx, project_id

    def project(self) -> dict[str, Any]:
        return project_record(project_row(self.ctx, self.project_id))

    def tags(self) -> list[dict[str, Any]]:
        return [tag_record(t) for t in tag_rows(self.ctx, self.project_id)]

    def image_pages(self) -> Iterator[list[tuple[dict[str, Any], ImageLoader]]]:
        for rows in image_pages(self.ctx, self.project_id, page=64):
            yield [(image_record(img, None), self._loader(img)) for img in rows]

    def _loader(self, img: Image) -> ImageLoader:
        blobs = self.ctx.blobs

        def load() -> IngestedImage:
            resized = blobs.get(img.resized_key) if img.resized_key != img.original_key else None
            return IngestedImage(
                original=blobs.get(img.original_key), format=img.format, width=img.width, height=img.height,
                sha256=img.sha256, resized=resized, resized_format=img.resized_key.rsplit(".", 1)[-1],
                thumbnail=blobs.get(img.thumbnail_key),
            )

        return load

    def iterations(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], ModelLoader]]:
        for it in iteration_rows(self.ctx, self.project_id):
            if it.status != IterationStatus.COMPLETED.value or not it.model_key:
                continue
            with self.ctx.db.read() as s:
                tags = iteration_tags(s, it.id)
            snapshot = [snapshot_record(r) for rows in snapshot_pages(self.ctx, it.id) for r in rows]
            key = it.model_key
            yield iteration_record(it, tags, None), snapshot, lambda key=key: self.ctx.blobs.get(key)  # type: ignore[misc]
