"""ExportIteration and GetExports: queue a model export, list an iteration's exports with download links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...services import exports as svc
from .. import wire
from ..deps import Ctx, TrainingAccount, base_url, guid

router = APIRouter()

P = "/projects/{project_id}/iterations/{iteration_id}/export"


def export_wire(e: svc.ExportView, links: wire.Links) -> dict[str, Any]:
    return {
        "platform": e.platform,
        "status": e.status,
        "downloadUri": links(e.blob_key),
        "flavor": e.flavor,
        "newerVersionAvailable": False,
        # Extensions (ignored by the SDK): the export's id (for DELETE .../export/{id}), its size, and
        # why it failed.
        "id": str(e.id),
        "created": wire.when(e.created),
        "finished": wire.when(e.finished),
        "sizeInBytes": e.size_bytes,
        "errorDetails": e.error,
    }


@router.post(P)
async def export_iteration(
    project_id: str, iteration_id: str, request: Request, ctx: Ctx, account: TrainingAccount
) -> dict[str, Any]:
    q = request.query_params
    view = await run_in_threadpool(
        svc.start_export,
        ctx,
        account_id=account,
        project_id=guid(project_id, "projectId"),
        iteration_id=guid(iteration_id, "iterationId"),
        platform=q.get("platform"),
        flavor=q.get("flavor"),
    )
    return export_wire(view, wire.Links(ctx, base_url(request)))


@router.get(P)
def get_exports(
    project_id: str, iteration_id: str, request: Request, ctx: Ctx, account: TrainingAccount
) -> list[dict[str, Any]]:
    views = svc.list_exports(
        ctx,
        account_id=account,
        project_id=guid(project_id, "projectId"),
        iteration_id=guid(iteration_id, "iterationId"),
    )
    links = wire.Links(ctx, base_url(request))
    return [export_wire(v, links) for v in views]
