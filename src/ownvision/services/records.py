"""Rows as plain JSON records: the format of data exports and project archives.

One shape per kind of row, camelCase like the wire format, with exact timestamps (ISO-8601, UTC,
microseconds) so that an archive imported elsewhere keeps the order of its images. Records never
hold secrets: an account record has no key hashes.

    >>> from datetime import datetime
    >>> stamp(datetime(2024, 5, 1, 12, 0, 0, 250))
    '2024-05-01T12:00:00.000250Z'
    >>> parse_stamp('2024-05-01T12:00:00.000250Z')
    datetime.datetime(2024, 5, 1, 12, 0, 0, 250)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ..db.tables import (
    Account,
    AuditEvent,
    Export,
    Image,
    Iteration,
    IterationImage,
    IterationTag,
    Project,
    StoredPrediction,
    Tag,
)

FORMAT_VERSION = 1


def stamp(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.isoformat(timespec="microseconds") + "Z"


def parse_stamp(value: object) -> datetime | None:
    """A naive UTC datetime from an ISO-8601 string (as :func:`stamp` writes); None for None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 time, got {value!r}")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def account_record(a: Account) -> dict[str, Any]:
    return {"id": str(a.id), "name": a.name, "created": stamp(a.created), "keysRotated": stamp(a.keys_rotated)}


def project_record(p: Project) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "name": p.name,
        "description": p.description,
        "domainId": str(p.domain_id),
        "classificationType": p.classification_type,
        "targetExportPlatforms": list(p.target_export_platforms or []),
        "imageProcessingSettings": p.image_processing,
        "exportModelContainerUri": p.export_model_container_uri,
        "notificationQueueUri": p.notification_queue_uri,
        "status": p.status,
        "created": stamp(p.created),
        "lastModified": stamp(p.last_modified),
        "workspaceVersion": p.workspace_version,
    }


def tag_record(t: Tag) -> dict[str, Any]:
    return {"id": str(t.id), "name": t.name, "description": t.description, "type": t.type, "created": stamp(t.created)}


def image_record(img: Image, file: str | None) -> dict[str, Any]:
    """``file`` is where the original lies in the archive (None when the archive has no files)."""
    return {
        "id": str(img.id),
        "created": stamp(img.created),
        "width": img.width,
        "height": img.height,
        "format": img.format,
        "sizeBytes": img.size_bytes,
        "sha256": img.sha256,
        "file": file,
        "tags": [{"tagId": str(t.tag_id), "created": stamp(t.created)}
                 for t in sorted(img.tags, key=lambda t: t.created)],
        "regions": [
            {"regionId": str(r.id), "tagId": str(r.tag_id), "left": r.left, "top": r.top, "width": r.width,
             "height": r.height, "created": stamp(r.created)}
            for r in sorted(img.regions, key=lambda r: r.created)
        ],
        "metadata": {m.key: m.value for m in img.metadata_items},
    }


def iteration_record(it: Iteration, tags: list[IterationTag], model_file: str | None) -> dict[str, Any]:
    return {
        "id": str(it.id),
        "name": it.name,
        "status": it.status,
        "created": stamp(it.created),
        "lastModified": stamp(it.last_modified),
        "trainedAt": stamp(it.trained_at),
        "domainId": str(it.domain_id),
        "classificationType": it.classification_type,
        "trainingType": it.training_type,
        "reservedBudgetInHours": it.reserved_budget_in_hours,
        "trainingTimeInMinutes": it.training_time_in_minutes,
        "publishName": it.publish_name,
        "trainingErrorDetails": it.training_error_details,
        "selectedTags": it.selected_tags,
        "workspaceVersion": it.workspace_version,
        "modelFile": model_file,
        "modelManifest": it.model_manifest,
        "details": it.details,
        "tags": [
            {"tagId": str(t.tag_id), "position": t.position, "name": t.name, "description": t.description,
             "type": t.type, "imageCount": t.image_count}
            for t in tags
        ],
    }


def snapshot_record(row: IterationImage) -> dict[str, Any]:
    """One image of an iteration's training set, with its held-out prediction."""
    return {"imageId": str(row.image_id), "tagIds": list(row.tag_ids or []), "regions": list(row.regions or []),
            "heldOut": row.held_out}


def export_record(e: Export, file: str | None) -> dict[str, Any]:
    return {
        "id": str(e.id), "iterationId": str(e.iteration_id), "platform": e.platform, "flavor": e.flavor,
        "status": e.status, "sizeBytes": e.size_bytes, "error": e.error, "created": stamp(e.created),
        "finished": stamp(e.finished), "file": file,
    }


def prediction_record(p: StoredPrediction, file: str | None) -> dict[str, Any]:
    return {
        "id": str(p.id), "iterationId": _id(p.iteration_id), "domainId": str(p.domain_id),
        "created": stamp(p.created), "application": p.application, "width": p.width, "height": p.height,
        "format": p.format, "sizeBytes": p.size_bytes, "sha256": p.sha256, "file": file,
        "predictions": p.predictions,
    }


def audit_record(a: AuditEvent) -> dict[str, Any]:
    return {
        "id": a.id, "at": stamp(a.at), "accountId": _id(a.account_id), "actor": a.actor, "action": a.action,
        "targetType": a.target_type, "targetId": a.target_id, "detail": a.detail,
    }
