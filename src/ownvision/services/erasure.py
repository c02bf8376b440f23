"""Erasing an account or an exported model package: every row and every file, then the WAL.

An account owns projects; a project owns every other row (tags, images with their tags, regions
and metadata, iterations with their snapshots, jobs, stored predictions, exports) through foreign
keys that cascade, and every file under ``projects/<project id>/``. Deleting the account row and
those prefixes therefore erases all of it. The audit log keeps one entry (who, what, when, counts;
ids, never names or content); then the WAL is checkpointed so that the erased pages are gone from
the files on disk as well.

A training that is running for a deleted project stops at its next heartbeat (its job row is gone)
and removes anything it wrote; see ``worker/training_job.py``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from .. import errors
from ..db.tables import Account, Export, Image, Iteration, Project, StoredPrediction
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context
from .iterations import load_iteration
from .projects import load_project, project_prefix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountDeletion:
    account_id: uuid.UUID
    projects: int
    images: int
    iterations: int
    predictions: int
    exports: int
    files: int


def find_account(ctx: Context, *, name_or_id: str) -> Account:
    """An account by its name, or by its id (the id still names it in the audit log once it is gone)."""
    with ctx.db.read() as s:
        acc = s.scalar(select(Account).where(Account.name == name_or_id))
        if acc is None:
            try:
                acc = s.get(Account, uuid.UUID(name_or_id))
            except ValueError:
                acc = None
    if acc is None:
        raise errors.NotFound("NotFound", f"No account named {name_or_id!r}.")
    return acc


def delete_account(ctx: Context, *, account_id: uuid.UUID, actor: str = "training-key") -> AccountDeletion:
    """Erase the account, its keys and everything it owns."""
    with ctx.db.write() as s:
        acc = s.get(Account, account_id)
        if acc is None:
            raise errors.NotFound("NotFound", f"Account {account_id} not found.")
        project_ids = list(s.scalars(select(Project.id).where(Project.account_id == account_id)))
        in_projects = Project.account_id == account_id

        def count(model: type, column: InstrumentedAttribute[uuid.UUID]) -> int:
            q = select(func.count()).select_from(model).join(Project, Project.id == column).where(in_projects)
            return int(s.scalar(q) or 0)

        iteration_ids = list(s.scalars(select(Iteration.id).join(Project, Project.id == Iteration.project_id)
                                       .where(in_projects)))
        deletion = AccountDeletion(
            account_id=account_id, projects=len(project_ids), images=count(Image, Image.project_id),
            iterations=len(iteration_ids), predictions=count(StoredPrediction, StoredPrediction.project_id),
            exports=count(Export, Export.project_id), files=0,
        )
        s.delete(acc)
        record(s, account_id=account_id, actor=actor, action="account.delete", target_type="account",
               target_id=account_id,
               detail=(f"projects={deletion.projects} images={deletion.images} iterations={deletion.iterations} "
                       f"predictions={deletion.predictions} exports={deletion.exports}"))
    for iteration_id in iteration_ids:
        ctx.models.evict(iteration_id)
    files = sum(ctx.blobs.delete_prefix(project_prefix(pid)) for pid in project_ids)
    checkpoint_wal(ctx)
    log.info("account deleted id=%s projects=%d files=%d", account_id, len(project_ids), files)
    return replace(deletion, files=files)


def delete_export(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID, export_id: uuid.UUID
) -> None:
    """Delete one exported model package: its row and its file."""
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        load_iteration(s, project_id, iteration_id)
        export = s.get(Export, export_id)
        if export is None or export.iteration_id != iteration_id or export.project_id != project_id:
            raise errors.NotFound("NotFound", f"Export {export_id} not found.")
        key = export.blob_key
        s.delete(export)
        record(s, account_id=account_id, action="export.delete", target_type="export", target_id=export_id)
    if key:
        ctx.blobs.delete(key)
        marker = f"/{export_id}/"
        if marker in key:  # a package kept in a folder of its own: remove the whole folder
            ctx.blobs.delete_prefix(key[: key.index(marker) + len(marker)])
    checkpoint_wal(ctx)
