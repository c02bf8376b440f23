"""Model exports (ExportIteration / GetExports): validate, queue an export job, list, delete.

An export is one row of ``exports`` (status ``Exporting`` -> ``Done`` | ``Failed``) and one job of kind
``export`` whose payload names the row; a worker builds the bundle (``worker/export_job.py``) and
stores the zip under ``projects/<project>/iterations/<iteration>/exports/<export id>/``, so that
deleting the iteration, the project or the account removes it with everything else.

Exporting a platform and flavor again replaces the previous package of that platform and flavor:
GetExports lists one export per platform and flavor, the latest.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import errors
from ..db.tables import Export, Iteration, Job, utcnow
from ..domain.domains import find_domain
from ..domain.enums import IterationStatus
from ..exporters import Exporter, get_exporter
from .audit import record
from .context import Context
from .iterations import iteration_prefix, load_iteration
from .projects import load_project

log = logging.getLogger(__name__)

JOB_EXPORT = "export"
EXPORTING, DONE, FAILED = "Exporting", "Done", "Failed"


@dataclass(frozen=True)
class ExportView:
    """An export as GetExports shows it (``blob_key`` is set only when it is Done)."""

    id: uuid.UUID
    platform: str
    flavor: str | None
    status: str
    blob_key: str | None
    size_bytes: int
    error: str | None
    created: datetime
    finished: datetime | None


def export_prefix(project_id: uuid.UUID, iteration_id: uuid.UUID, export_id: uuid.UUID) -> str:
    """The blob folder of one export package."""
    return f"{iteration_prefix(project_id, iteration_id)}exports/{export_id}/"


def resolve_platform(platform: str | None, flavor: str | None) -> tuple[Exporter, str | None]:
    """The exporter and the canonical flavor (its default applied) for the request's parameters.

    Raises:
        BadRequest: No platform, an unknown or unsupported one, or a flavor it does not take.
    """
    if platform is None or not platform.strip():
        raise errors.BadRequest("BadRequestRequiredParamIsNull", "platform is required (e.g. platform=ONNX).")
    try:
        exporter = get_exporter(platform.strip())
        canonical = exporter.check_flavor(flavor.strip() if flavor else None)
    except ValueError as exc:
        raise errors.BadRequest("BadRequestExportValidationFailed", str(exc)) from exc
    return exporter, canonical or exporter.default_flavor


def _check_exportable(it: Iteration, exporter: Exporter) -> None:
    if it.status == IterationStatus.TRAINING.value:
        raise errors.BadRequest(
            "BadRequestExportWhileTraining", f"Iteration {it.id} is still training; export it once it has completed."
        )
    if it.status != IterationStatus.COMPLETED.value or not it.model_key or not it.model_manifest:
        raise errors.BadRequest(
            "BadRequestExportValidationFailed",
            f"Iteration {it.id} is {it.status}; only a completed iteration can be exported.",
        )
    domain = find_domain(it.domain_id)
    if domain is None or not domain.exportable:
        name = domain.name if domain else str(it.domain_id)
        raise errors.BadRequest(
            "BadRequestExportValidationFailed",
            f"Iteration {it.id} was trained on the domain {name!r}, which is not exportable: only compact domains "
            "export. Change the project's domain to a compact one, train again, and export that iteration.",
        )
    if exporter.platform not in domain.exportable_platforms:
        raise errors.BadRequest(
            "BadRequestExportValidationFailed",
            f"The domain {domain.name!r} does not export to {exporter.platform}; it exports to "
            f"{', '.join(domain.exportable_platforms)}.",
        )


def start_export(
    ctx: Context,
    *,
    account_id: uuid.UUID,
    project_id: uuid.UUID,
    iteration_id: uuid.UUID,
    platform: str | None,
    flavor: str | None,
) -> ExportView:
    """Queue an export of the iteration; replaces a finished export of the same platform and flavor.

    Raises:
        NotFound: The project or iteration.
        BadRequest: ``BadRequestExportValidationFailed`` (platform, flavor, domain, untrained iteration),
            ``BadRequestExportWhileTraining``, ``BadRequestExportAlreadyInProgress``.
    """
    exporter, canonical = resolve_platform(platform, flavor)
    replaced: list[str] = []
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        it = load_iteration(s, project_id, iteration_id)
        _check_exportable(it, exporter)
        previous = _same_kind(s, iteration_id, exporter.platform, canonical)
        if any(e.status == EXPORTING for e in previous):
            label = exporter.platform + (f"/{canonical}" if canonical else "")
            raise errors.BadRequest(
                "BadRequestExportAlreadyInProgress",
                f"Iteration {iteration_id} is already queued for export to {label}.",
            )
        for e in previous:
            replaced.append(export_prefix(project_id, iteration_id, e.id))
            s.delete(e)
        export = Export(
            project_id=project_id,
            iteration_id=iteration_id,
            platform=exporter.platform,
            flavor=canonical,
            status=EXPORTING,
            created=utcnow(),
        )
        s.add(export)
        s.flush()
        s.add(
            Job(
                kind=JOB_EXPORT, project_id=project_id, iteration_id=iteration_id, payload={"export_id": str(export.id)}
            )
        )
        record(
            s,
            account_id=account_id,
            action="iteration.export",
            target_type="iteration",
            target_id=iteration_id,
            detail=f"platform={exporter.platform} flavor={canonical or ''}",
        )
        view = _view(export)
    for prefix in replaced:
        ctx.blobs.delete_prefix(prefix)
    log.info(
        "export queued project=%s iteration=%s platform=%s flavor=%s",
        project_id,
        iteration_id,
        exporter.platform,
        canonical,
    )
    return view


def list_exports(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID
) -> list[ExportView]:
    """The iteration's exports, one per platform and flavor (the latest), oldest platform first.

    An export whose job has failed for good (its worker kept dying) is reported as Failed here.
    """
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        load_iteration(s, project_id, iteration_id)
        rows = list(s.scalars(select(Export).where(Export.iteration_id == iteration_id).order_by(Export.created)))
        if any(e.status == EXPORTING for e in rows):
            dead = _dead_jobs(s, iteration_id)
        else:
            dead = {}
    if any(e.id in dead for e in rows if e.status == EXPORTING):
        with ctx.db.write() as s:
            for e in rows:
                if e.status == EXPORTING and e.id in dead:
                    fail_export(s, e.id, dead[e.id])
        return list_exports(ctx, account_id=account_id, project_id=project_id, iteration_id=iteration_id)
    latest: dict[tuple[str, str | None], Export] = {}
    for e in rows:
        latest[(e.platform, e.flavor)] = e
    return [_view(e) for e in sorted(latest.values(), key=lambda e: e.created)]


def _dead_jobs(s: Session, iteration_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Exports whose job failed, or vanished, without marking them: export id -> reason."""
    jobs = list(s.scalars(select(Job).where(Job.iteration_id == iteration_id, Job.kind == JOB_EXPORT)))
    by_export = {str(j.payload.get("export_id")): j for j in jobs}
    out: dict[uuid.UUID, str] = {}
    for e in s.scalars(select(Export).where(Export.iteration_id == iteration_id, Export.status == EXPORTING)):
        job = by_export.get(str(e.id))
        if job is None:
            out[e.id] = "The export job is gone (the worker's database was reset); export again."
        elif job.status in ("failed", "done"):
            out[e.id] = job.error or "The export job ended without a result; export again."
    return out


def fail_export(s: Session, export_id: uuid.UUID, reason: str) -> bool:
    """Mark an export that is still Exporting as Failed; False if it is gone or already finished."""
    e = s.get(Export, export_id)
    if e is None or e.status != EXPORTING:
        return False
    e.status, e.error, e.finished = FAILED, reason[:4000], utcnow()
    return True


def complete_export(s: Session, export_id: uuid.UUID, *, blob_key: str, size_bytes: int) -> bool:
    """Mark an export Done with its package; False if it is gone or no longer Exporting."""
    e = s.get(Export, export_id)
    if e is None or e.status != EXPORTING:
        return False
    e.status, e.blob_key, e.size_bytes, e.error, e.finished = DONE, blob_key, size_bytes, None, utcnow()
    return True


def _same_kind(s: Session, iteration_id: uuid.UUID, platform: str, flavor: str | None) -> list[Export]:
    q = select(Export).where(Export.iteration_id == iteration_id, Export.platform == platform)
    q = q.where(Export.flavor.is_(None) if flavor is None else Export.flavor == flavor)
    return list(s.scalars(q))


def _view(e: Export) -> ExportView:
    return ExportView(
        id=e.id,
        platform=e.platform,
        flavor=e.flavor,
        status=e.status,
        blob_key=e.blob_key if e.status == DONE else None,
        size_bytes=e.size_bytes or 0,
        error=e.error,
        created=e.created,
        finished=e.finished,
    )
