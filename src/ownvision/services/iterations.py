"""Iterations: read, rename, delete, publish and unpublish."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import errors
from ..db.tables import Iteration, IterationTag, utcnow
from ..domain.enums import IterationStatus
from ..domain.limits import MAX_NAME_LENGTH
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context
from .projects import load_project, project_prefix

log = logging.getLogger(__name__)


def iteration_prefix(project_id: uuid.UUID, iteration_id: uuid.UUID) -> str:
    return f"{project_prefix(project_id)}iterations/{iteration_id}/"


def load_iteration(s: Session, project_id: uuid.UUID, iteration_id: uuid.UUID) -> Iteration:
    it = s.get(Iteration, iteration_id)
    if it is None or it.project_id != project_id:
        raise errors.NotFound("NotFoundIteration", f"Iteration {iteration_id} not found.")
    return it


def iteration_tags(s: Session, iteration_id: uuid.UUID) -> list[IterationTag]:
    q = select(IterationTag).where(IterationTag.iteration_id == iteration_id).order_by(IterationTag.position)
    return list(s.scalars(q))


def list_iterations(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID) -> list[Iteration]:
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        q = select(Iteration).where(Iteration.project_id == project_id).order_by(Iteration.created)
        return list(s.scalars(q))


def get_iteration(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID) -> Iteration:
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        return load_iteration(s, project_id, iteration_id)


def rename_iteration(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID, name: str | None
) -> Iteration:
    if name is None or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise errors.BadRequest("BadRequestIterationName", f"An iteration name needs 1 to {MAX_NAME_LENGTH} characters.")
    name = name.strip()
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        it = load_iteration(s, project_id, iteration_id)
        clash = s.scalar(select(Iteration.id).where(
            Iteration.project_id == project_id, Iteration.name == name, Iteration.id != iteration_id))
        if clash is not None:
            raise errors.BadRequest("BadRequestIterationNameNotUnique", f"Another iteration is named {name!r}.")
        it.name = name
        it.last_modified = utcnow()
        return it


def delete_iteration(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID) -> None:
    """Delete the iteration, its performance data and model files. A published one must be unpublished first."""
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        it = load_iteration(s, project_id, iteration_id)
        if it.publish_name:
            raise errors.BadRequest(
                "BadRequestIterationIsPublished",
                f"Iteration {iteration_id} is published as {it.publish_name!r}; unpublish it first.",
            )
        s.delete(it)
        record(s, account_id=account_id, action="iteration.delete", target_type="iteration", target_id=iteration_id)
    ctx.models.evict(iteration_id)
    ctx.blobs.delete_prefix(iteration_prefix(project_id, iteration_id))
    checkpoint_wal(ctx)
    log.info("iteration deleted project=%s iteration=%s", project_id, iteration_id)


def publish_iteration(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID,
    publish_name: str | None, prediction_id: str | None, overwrite: bool,
) -> bool:
    """Publish under ``publish_name``. Publishing it again under the same name is harmless."""
    if not publish_name or not publish_name.strip() or len(publish_name) > MAX_NAME_LENGTH or "/" in publish_name:
        raise errors.BadRequest("BadRequestInvalidPublishName", "publishName must be 1 to 256 characters, without '/'.")
    if not prediction_id or not prediction_id.strip():
        raise errors.BadRequest("BadRequestInvalidPublishTarget", "predictionId (the prediction resource) is required.")
    publish_name = publish_name.strip()
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        it = load_iteration(s, project_id, iteration_id)
        if it.status != IterationStatus.COMPLETED.value:
            raise errors.BadRequest("BadRequestIterationIsNotTrained",
                                    f"Iteration {iteration_id} is {it.status}; only a completed iteration can be published.")
        if it.publish_name == publish_name:
            it.original_publish_resource_id = prediction_id
            return True
        if it.publish_name:
            raise errors.BadRequest("BadRequestIterationIsPublished",
                                    f"Iteration {iteration_id} is already published as {it.publish_name!r}; unpublish it first.")
        holder = s.scalar(select(Iteration).where(
            Iteration.project_id == project_id, Iteration.publish_name == publish_name))
        if holder is not None:
            if not overwrite:
                raise errors.BadRequest(
                    "BadRequestInvalidPublishName",
                    f"{publish_name!r} is already used by iteration {holder.id}; pass overwrite=true to replace it.",
                )
            holder.publish_name = None
            holder.original_publish_resource_id = None
            s.flush()
        it.publish_name = publish_name
        it.original_publish_resource_id = prediction_id
        it.last_modified = utcnow()
    log.info("iteration published project=%s iteration=%s name=%s", project_id, iteration_id, publish_name)
    return True


def unpublish_iteration(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID) -> None:
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        it = load_iteration(s, project_id, iteration_id)
        if not it.publish_name:
            raise errors.BadRequest("BadRequestIterationNotPublished", f"Iteration {iteration_id} is not published.")
        it.publish_name = None
        it.original_publish_resource_id = None
        it.last_modified = utcnow()


def find_published(s: Session, project_id: uuid.UUID, publish_name: str) -> Iteration:
    it = s.scalar(select(Iteration).where(Iteration.project_id == project_id, Iteration.publish_name == publish_name))
    if it is None:
        raise errors.NotFound("NotFoundIteration", f"No iteration of project {project_id} is published as {publish_name!r}.")
    return it


def latest_completed(s: Session, project_id: uuid.UUID) -> Iteration:
    it = s.scalar(select(Iteration).where(
        Iteration.project_id == project_id, Iteration.status == IterationStatus.COMPLETED.value
    ).order_by(Iteration.trained_at.desc()).limit(1))
    if it is None:
        raise errors.BadRequest("BadRequestIterationIsNotTrained", "The project has no trained iteration yet.")
    return it
