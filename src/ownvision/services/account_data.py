"""What an account holds: its overview (GetAccountInfo) and the download of all of its data.

The download is one zip, streamed as it is written (see :mod:`.zipstream`)::

    account.json                  the account (no keys, no key hashes)
    audit.json                    the account's audit events
    projects/<id>/...             each project, laid out as a project archive, plus
        iterations.json             every iteration, with its performance at threshold 0.5
        iterations/<id>/training-set.json  its training set with held-out predictions
        predictions.json            stored predictions; predictions/<id>/original.<ext> their images
        exports.json                exported model packages, and their files
    manifest.json                 every file with its size and SHA-256
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from .. import __version__, errors
from ..db.tables import (
    Account,
    AuditEvent,
    Export,
    Image,
    ImageRegion,
    Iteration,
    Project,
    StoredPrediction,
    Tag,
    utcnow,
)
from ..domain.limits import MAX_ITERATIONS_PER_PROJECT, MAX_PROJECTS, MAX_TAGS_PER_PROJECT
from .archive import project_members
from .audit import record
from .context import Context
from .projects import project_prefix
from .records import FORMAT_VERSION, account_record, audit_record, stamp
from .zipstream import ZipStream

ACCOUNT_EXPORT_FORMAT = "ownvision-account-export"

README = """This is everything ownvision stores for the account named in account.json.

Records are JSON (camelCase; times are UTC). Each folder projects/<project id>/ has the layout of
an ownvision project archive: project.json, tags.json, images.json (each image with its tags,
regions, metadata and the path of its original file), images/<image id>/original.<ext>,
iterations.json with iterations/<iteration id>/training-set.json and model.onnx, plus
predictions.json with the stored prediction images, and exports.json with exported packages.
Resized copies and thumbnails are left out: they are made from the originals.
manifest.json lists every file with its size and SHA-256.
"""


@dataclass(frozen=True)
class ProjectUsage:
    id: uuid.UUID
    name: str
    images: int
    tags: int
    regions: int
    iterations: int
    exports: int
    stored_predictions: int
    bytes: int


@dataclass(frozen=True)
class AccountOverview:
    id: uuid.UUID
    name: str
    created: datetime
    keys_rotated: datetime
    training_key_fingerprint: str
    prediction_key_fingerprint: str
    max_projects: int
    max_iterations_per_project: int
    max_tags_per_project: int
    prediction_retention_days: int
    projects: list[ProjectUsage]

    def total(self, field: str) -> int:
        return sum(getattr(p, field) for p in self.projects)


def account_overview(ctx: Context, *, account_id: uuid.UUID) -> AccountOverview:
    """The account, its key fingerprints (never the keys), quotas, and usage per project."""
    with ctx.db.read() as s:
        acc = s.get(Account, account_id)
        if acc is None:
            raise errors.NotFound("NotFound", f"Account {account_id} not found.")
        projects = list(s.scalars(select(Project).where(Project.account_id == account_id).order_by(Project.created)))

        def count(model: type, column: InstrumentedAttribute[uuid.UUID], pid: uuid.UUID) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(column == pid)) or 0)

        usage = []
        for p in projects:
            regions = s.scalar(select(func.count()).select_from(ImageRegion)
                               .join(Image, Image.id == ImageRegion.image_id).where(Image.project_id == p.id)) or 0
            usage.append(ProjectUsage(
                id=p.id, name=p.name, images=count(Image, Image.project_id, p.id),
                tags=count(Tag, Tag.project_id, p.id), regions=int(regions),
                iterations=count(Iteration, Iteration.project_id, p.id), exports=count(Export, Export.project_id, p.id),
                stored_predictions=count(StoredPrediction, StoredPrediction.project_id, p.id), bytes=0,
            ))
    # Bytes are what the files really take, counted outside the transaction.
    usage = [replace(u, bytes=_stored_bytes(ctx, u.id)) for u in usage]
    return AccountOverview(
        id=acc.id, name=acc.name, created=acc.created, keys_rotated=acc.keys_rotated,
        training_key_fingerprint=acc.training_key_hash[:8], prediction_key_fingerprint=acc.prediction_key_hash[:8],
        max_projects=MAX_PROJECTS, max_iterations_per_project=MAX_ITERATIONS_PER_PROJECT,
        max_tags_per_project=MAX_TAGS_PER_PROJECT, prediction_retention_days=ctx.settings.prediction_retention_days,
        projects=usage,
    )


def account_name(ctx: Context, *, account_id: uuid.UUID) -> str:
    with ctx.db.read() as s:
        acc = s.get(Account, account_id)
    if acc is None:
        raise errors.NotFound("NotFound", f"Account {account_id} not found.")
    return acc.name


def _stored_bytes(ctx: Context, project_id: uuid.UUID) -> int:
    total = 0
    for key in ctx.blobs.list(project_prefix(project_id)):
        try:
            total += ctx.blobs.size(key)
        except KeyError:  # deleted meanwhile
            pass
    return total


def _audit_pages(ctx: Context, account_id: uuid.UUID, page: int = 1000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        with ctx.db.read() as s:
            rows = list(s.scalars(select(AuditEvent).where(AuditEvent.account_id == account_id, AuditEvent.id > last)
                                  .order_by(AuditEvent.id).limit(page)))
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def export_account_data(ctx: Context, *, account_id: uuid.UUID, actor: str = "training-key") -> Iterator[bytes]:
    """Record the export, then return the zip of all of the account's data as a lazy stream of bytes.

    Each step reads in its own short transaction; what changes while the zip is written shows up
    or not, but every file listed in a record that is still there is in the zip.
    """
    with ctx.db.write() as s:
        acc = s.get(Account, account_id)
        if acc is None:
            raise errors.NotFound("NotFound", f"Account {account_id} not found.")
        account = account_record(acc)
        record(s, account_id=account_id, actor=actor, action="account.export", target_type="account",
               target_id=account_id)

    def body() -> Iterator[bytes]:
        z = ZipStream()
        yield from z.add_bytes("README.txt", README.encode())
        yield from z.add_json("account.json", account)
        with ctx.db.read() as s:
            project_ids = list(s.scalars(select(Project.id).where(Project.account_id == account_id)
                                         .order_by(Project.created)))
        for pid in project_ids:
            try:
                yield from project_members(ctx, z, account_id=account_id, project_id=pid, base=f"projects/{pid}/",
                                           iterations=True, everything=True)
            except errors.NotFound:  # deleted while the export ran
                continue
        yield from z.add_json_array("audit.json", (audit_record(a) for a in _audit_pages(ctx, account_id)))
        yield from z.finish({"format": ACCOUNT_EXPORT_FORMAT, "version": FORMAT_VERSION,
                             "server": f"ownvision {__version__}", "created": stamp(utcnow()),
                             "accountId": str(account_id), "projects": [str(p) for p in project_ids]})

    return body()
