"""Projects: create, read, update, delete (rows and every blob)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from .. import errors
from ..db.tables import Iteration, Project, utcnow
from ..domain.domains import DEFAULT_DOMAIN_ID, Domain, find_domain
from ..domain.enums import ClassificationType, DomainType, ExportPlatform
from ..domain.limits import MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, MAX_PROJECTS
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context

log = logging.getLogger(__name__)


def project_prefix(project_id: uuid.UUID) -> str:
    return f"projects/{project_id}/"


def get_domain(domain_id: uuid.UUID) -> Domain:
    domain = find_domain(domain_id)
    if domain is None:
        raise errors.NotFound("NotFoundDomain", f"Domain {domain_id} not found.")
    return domain


def _project_domain(domain_id: uuid.UUID) -> Domain:
    domain = find_domain(domain_id)
    if domain is None:
        raise errors.BadRequest("BadRequestProjectUnknownDomain", f"Domain {domain_id} does not exist.")
    return domain


def load_project(s: Any, account_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    """The project if it belongs to the account; another account's project is reported as missing."""
    p: Project | None = s.get(Project, project_id)
    if p is None or p.account_id != account_id:
        raise errors.NotFound("NotFoundProject", f"Project {project_id} not found.")
    return p


def _check_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise errors.BadRequest("BadRequestProjectName", "The project name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise errors.BadRequest("BadRequestProjectName", f"The project name exceeds {MAX_NAME_LENGTH} characters.")
    return name.strip()


def _check_description(desc: str | None) -> str:
    desc = desc or ""
    if len(desc) > MAX_DESCRIPTION_LENGTH:
        raise errors.BadRequest(
            "BadRequestProjectDescription", f"The description exceeds {MAX_DESCRIPTION_LENGTH} characters."
        )
    return desc


def _check_platforms(platforms: list[str] | None, domain: Domain) -> list[str]:
    valid = {p.value for p in ExportPlatform}
    out: list[str] = []
    for p in platforms or []:
        match = next((v for v in valid if v.lower() == p.lower()), None)
        if match is None:
            raise errors.BadRequest(
                "BadRequestProjectUnsupportedExportPlatform", f"Unknown export platform {p!r}."
            )
        if match not in domain.exportable_platforms:
            raise errors.BadRequest(
                "BadRequestProjectUnsupportedExportPlatform",
                f"Domain {domain.name!r} cannot export to {match}; choose a compact domain.",
            )
        out.append(match)
    return out


def _check_classification(value: str | None, domain: Domain) -> str | None:
    if domain.type is DomainType.OBJECT_DETECTION:
        return None
    if value is None or value == "":
        return ClassificationType.MULTICLASS.value
    for c in ClassificationType:
        if c.value.lower() == value.lower():
            return c.value
    raise errors.BadRequest(
        "BadRequestProjectUnknownClassification",
        f"Unknown classification type {value!r}; use Multiclass or Multilabel.",
    )


@dataclass
class ProjectCreate:
    name: str
    description: str | None = None
    domain_id: uuid.UUID | None = None
    classification_type: str | None = None
    target_export_platforms: list[str] = field(default_factory=list)
    export_model_container_uri: str | None = None
    notification_queue_uri: str | None = None


def create_project(ctx: Context, *, account_id: uuid.UUID, spec: ProjectCreate) -> Project:
    name = _check_name(spec.name)
    desc = _check_description(spec.description)
    domain = _project_domain(spec.domain_id or DEFAULT_DOMAIN_ID)
    ctype = _check_classification(spec.classification_type, domain)
    platforms = _check_platforms(spec.target_export_platforms, domain)
    with ctx.db.write() as s:
        count = s.scalar(select(func.count()).select_from(Project).where(Project.account_id == account_id))
        if (count or 0) >= MAX_PROJECTS:
            raise errors.BadRequest("BadRequestExceedProjectLimit", f"At most {MAX_PROJECTS} projects.")
        project = Project(
            account_id=account_id,
            name=name,
            description=desc,
            domain_id=domain.id,
            classification_type=ctype,
            target_export_platforms=platforms,
            export_model_container_uri=spec.export_model_container_uri,
            notification_queue_uri=spec.notification_queue_uri,
        )
        s.add(project)
        s.flush()
    log.info("project created id=%s account=%s domain=%s", project.id, account_id, domain.name)
    return project


def list_projects(ctx: Context, *, account_id: uuid.UUID) -> list[Project]:
    with ctx.db.read() as s:
        q = select(Project).where(Project.account_id == account_id).order_by(Project.created)
        return list(s.scalars(q))


def get_project(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    with ctx.db.read() as s:
        return load_project(s, account_id, project_id)


def update_project(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, body: dict[str, Any]
) -> Project:
    """PATCH semantics as the SDK sends them: a whole Project; absent fields keep their value."""
    with ctx.db.write() as s:
        p = load_project(s, account_id, project_id)
        if "name" in body and body["name"] is not None:
            p.name = _check_name(body["name"])
        if "description" in body and body["description"] is not None:
            p.description = _check_description(body["description"])
        settings = body.get("settings") or {}
        if not isinstance(settings, dict):
            raise errors.BadRequest("BadRequest", "settings must be an object.")
        domain = get_domain(p.domain_id)
        if settings.get("domainId"):
            try:
                new_domain = _project_domain(uuid.UUID(str(settings["domainId"])))
            except ValueError as exc:
                raise errors.BadRequest("BadRequestProjectUnknownDomain", "domainId is not a GUID.") from exc
            if new_domain.type is not domain.type:
                raise errors.BadRequest(
                    "BadRequestProjectUnsupportedDomainTypeChange",
                    f"Cannot change a {domain.type} project to the {new_domain.type} domain {new_domain.name!r}.",
                )
            domain = new_domain
            p.domain_id = domain.id
        if "classificationType" in settings and settings["classificationType"] is not None:
            p.classification_type = _check_classification(settings["classificationType"], domain)
        if "targetExportPlatforms" in settings and settings["targetExportPlatforms"] is not None:
            p.target_export_platforms = _check_platforms(list(settings["targetExportPlatforms"]), domain)
        else:
            p.target_export_platforms = [x for x in p.target_export_platforms if x in domain.exportable_platforms]
        ips = settings.get("imageProcessingSettings")
        if ips is not None:
            if not isinstance(ips, dict):
                raise errors.BadRequest("BadRequestProjectImagePreprocessingSettings", "Invalid settings.")
            p.image_processing = ips
        p.last_modified = utcnow()
        return p


def delete_project(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID) -> None:
    """Delete the project's rows (cascading) and every blob under its prefix.

    Jobs of the project go with its rows; a worker running one notices at its next heartbeat, stops,
    and removes anything it wrote.
    """
    with ctx.db.write() as s:
        p = load_project(s, account_id, project_id)
        iteration_ids = list(s.scalars(select(Iteration.id).where(Iteration.project_id == project_id)))
        s.delete(p)
        record(s, account_id=account_id, action="project.delete", target_type="project", target_id=project_id)
    for iteration_id in iteration_ids:
        ctx.models.evict(iteration_id)
    removed = ctx.blobs.delete_prefix(project_prefix(project_id))
    checkpoint_wal(ctx)
    log.info("project deleted id=%s account=%s blobs_removed=%d", project_id, account_id, removed)
