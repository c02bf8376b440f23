"""Service values -> Custom Vision JSON (camelCase, ISO-8601 dates, lowercase GUIDs)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..db.tables import Project
from ..domain.domains import Domain
from ..services.context import Context
from ..services.images import CreateResult, ImageView
from ..services.tags import TagView


def when(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return _iso(dt)


@lru_cache(maxsize=4096)
def _iso(dt: datetime) -> str:
    # cached: the images of one upload batch, and their tags, share one timestamp
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def gid(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


class Links:
    """Makes signed links for the blobs named in a response."""

    def __init__(self, ctx: Context, base_url: str) -> None:
        self.ctx = ctx
        self.base_url = base_url

    def __call__(self, key: str | None) -> str | None:
        if key is None:
            return None
        return self.ctx.links.sign(self.base_url, key, self.ctx.settings.link_ttl_seconds)


def domain(d: Domain) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "name": d.name,
        "type": d.type.value,
        "exportable": d.exportable,
        "enabled": d.enabled,
        "exportablePlatforms": d.exportable_platforms,
        "modelInformation": {
            "estimatedModelSizeInMegabytes": d.estimated_model_mb,
            "description": f"{d.name} ({'compact, exportable' if d.exportable else 'accuracy first'}; "
            f"backbone EfficientNet-{d.backbone.replace('lite', 'Lite')})",
        },
    }


def project(p: Project) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "name": p.name,
        "description": p.description,
        "settings": {
            "domainId": str(p.domain_id),
            "classificationType": p.classification_type,
            "targetExportPlatforms": list(p.target_export_platforms or []),
            "useNegativeSet": True,
            "detectionParameters": None,
            "imageProcessingSettings": p.image_processing,
            "exportModelContainerUri": p.export_model_container_uri,
            "notificationQueueUri": p.notification_queue_uri,
        },
        "created": when(p.created),
        "lastModified": when(p.last_modified),
        "thumbnailUri": None,
        "drModeEnabled": False,
        "status": p.status,
    }


def tag(t: TagView) -> dict[str, Any]:
    return {"id": str(t.id), "name": t.name, "description": t.description, "type": t.type, "imageCount": t.image_count}


def image(v: ImageView, links: Links) -> dict[str, Any]:
    return {
        "id": str(v.id),
        "created": when(v.created),
        "width": v.width,
        "height": v.height,
        "resizedImageUri": links(v.resized_key),
        "thumbnailUri": links(v.thumbnail_key),
        "originalImageUri": links(v.original_key),
        "tags": [{"tagId": str(t.tag_id), "tagName": t.tag_name, "created": when(t.created)} for t in v.tags] or None,
        "regions": [
            {
                "regionId": str(r.region_id),
                "tagName": r.tag_name,
                "created": when(r.created),
                "tagId": str(r.tag_id),
                "left": r.left,
                "top": r.top,
                "width": r.width,
                "height": r.height,
            }
            for r in v.regions
        ] or None,
        "metadata": v.metadata or None,
    }


def create_summary(results: Sequence[CreateResult], links: Links) -> tuple[dict[str, Any], int]:
    ok = all(r.status.value in ("OK", "OKDuplicate") for r in results)
    body = {
        "isBatchSuccessful": ok,
        "images": [
            {
                "sourceUrl": r.source_url,
                "status": r.status.value,
                "image": image(r.image, links) if r.image is not None else None,
                **({"message": r.message} if r.message else {}),
            }
            for r in results
        ],
    }
    return body, (200 if ok else 207)
