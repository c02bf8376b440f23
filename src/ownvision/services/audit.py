"""The audit log: deletions and exports, recorded as who/what/when, never with content.

Entries are written in the same transaction as the change they record, so a rolled-back deletion
leaves no entry, and a committed one always has its entry.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.tables import AuditEvent
from .context import Context


def record(
    s: Session, *, account_id: uuid.UUID | None, action: str, target_type: str, target_id: object | None = None,
    actor: str = "training-key", detail: str | None = None,
) -> None:
    s.add(AuditEvent(account_id=account_id, actor=actor, action=action, target_type=target_type,
                     target_id=str(target_id) if target_id is not None else None, detail=detail))


def list_events(
    ctx: Context, *, account_id: uuid.UUID | None = None, since: datetime | None = None, limit: int = 1000
) -> list[AuditEvent]:
    with ctx.db.read() as s:
        q = select(AuditEvent)
        if account_id is not None:
            q = q.where(AuditEvent.account_id == account_id)
        if since is not None:
            q = q.where(AuditEvent.at >= since)
        return list(s.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)))
