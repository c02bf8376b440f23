"""ExportProject and ImportProject: copying a project to another account of this server.

As in Custom Vision, ExportProject returns an opaque token that "grants access to import this
project to all that have the token"; ImportProject with that token, under any account's training
key, creates a copy: tags, images (their files copied, new ids), regions, metadata, and the trained
iterations with their models (unpublished). Stored predictions and exported model packages are not
copied.

The token is ``ov1.<payload>.<signature>``: the payload (base64url JSON) names the project and an
expiry; the signature is an HMAC with this data folder's secret, so a token cannot be forged or
altered, and a token of another server is refused. ImportProject copies synchronously and returns
the new project with status ``Succeeded`` (Custom Vision answers ``Importing`` and copies in the
background; clients that poll GetProject see ``Succeeded`` at once).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from .. import errors
from ..db.tables import Image, ImageRegion, Iteration, Project, Tag
from ..domain.enums import IterationStatus
from .audit import record
from .context import Context
from .project_copy import CopyReport, copy_project
from .project_reader import LiveProjectSource
from .projects import load_project

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ov1"
TOKEN_PURPOSE = "project-import-token"
TOKEN_TTL_S = 30 * 24 * 3600
# A rough rate for estimatedImportTimeInMS: copying one image's three files and rows.
_MS_PER_IMAGE = 15
_MS_BASE = 500


@dataclass(frozen=True)
class ProjectExportInfo:
    iteration_count: int
    image_count: int
    tag_count: int
    region_count: int
    estimated_import_time_ms: int
    token: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(ctx: Context, project_id: uuid.UUID, *, ttl_s: int = TOKEN_TTL_S) -> str:
    payload = _b64(json.dumps({"p": str(project_id), "e": int(time.time()) + ttl_s,
                               "n": uuid.uuid4().hex[:12]}, separators=(",", ":")).encode())
    return f"{TOKEN_PREFIX}.{payload}.{ctx.links.mac(TOKEN_PURPOSE, payload)}"


def read_token(ctx: Context, token: str | None) -> uuid.UUID:
    """The project id a token grants, or ``BadRequestInvalidImportToken``."""

    def invalid(reason: str) -> errors.BadRequest:
        return errors.BadRequest("BadRequestInvalidImportToken", f"The import token is not valid: {reason}.")

    if not token or not token.strip():
        raise errors.BadRequest("BadRequestInvalidImportToken", "token is required (the token ExportProject returned).")
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise invalid("it was not made by ExportProject of this server")
    _, payload, sig = parts
    if not hmac.compare_digest(ctx.links.mac(TOKEN_PURPOSE, payload), sig):
        raise invalid("its signature does not match (altered, or made by another server)")
    try:
        data = json.loads(_unb64(payload))
        project_id, expiry = uuid.UUID(data["p"]), int(data["e"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise invalid("its content cannot be read") from exc
    if expiry < time.time():
        raise invalid("it has expired; call ExportProject again")
    return project_id


def export_project(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID) -> ProjectExportInfo:
    """Counts of what an import would copy, and the token that allows it."""
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        iterations = s.scalar(select(func.count()).select_from(Iteration).where(
            Iteration.project_id == project_id, Iteration.status == IterationStatus.COMPLETED.value)) or 0
        images = s.scalar(select(func.count()).select_from(Image).where(Image.project_id == project_id)) or 0
        tags = s.scalar(select(func.count()).select_from(Tag).where(Tag.project_id == project_id)) or 0
        regions = s.scalar(select(func.count()).select_from(ImageRegion).join(Image, Image.id == ImageRegion.image_id)
                           .where(Image.project_id == project_id)) or 0
        record(s, account_id=account_id, action="project.export_token", target_type="project", target_id=project_id)
    return ProjectExportInfo(int(iterations), int(images), int(tags), int(regions),
                             _MS_BASE + _MS_PER_IMAGE * int(images), make_token(ctx, project_id))


def import_project(ctx: Context, *, account_id: uuid.UUID, token: str | None, name: str | None) -> CopyReport:
    """Copy the project the token names into ``account_id``; returns the new project and counts."""
    source_id = read_token(ctx, token)
    with ctx.db.read() as s:
        source = s.get(Project, source_id)
    if source is None:
        raise errors.BadRequest("BadRequestInvalidImportToken",
                                "The import token is not valid: its project no longer exists.")
    report = copy_project(ctx, account_id=account_id, source=LiveProjectSource(ctx, source_id), name=name,
                          origin=f"token:{source_id}")
    log.info("project %s imported from %s by account %s", report.project.id, source_id, account_id)
    return report
