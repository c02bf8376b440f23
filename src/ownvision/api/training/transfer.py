"""Moving projects: ExportProject and ImportProject (tokens), and project archives (zip files).

Archives are an ownvision extension of the Training API:

* ``GET  /projects/{projectId}/archive?includeIterations=true`` streams the project as a zip;
* ``POST /projects/archive?name=&includeIterations=true`` with the zip as the body (any content
  type) creates a copy in the caller's account and returns it as a ``Project``.
"""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ... import errors
from ...services import archive, transfer
from .. import wire
from ..deps import Ctx, TrainingAccount, boolean, get_ctx, guid

router = APIRouter()

# Archives up to this size are spooled in memory; larger ones go to a temporary file.
_SPOOL_BYTES = 16 << 20


@router.get("/projects/{project_id}/export")
def export_project(project_id: str, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    info = transfer.export_project(ctx, account_id=account, project_id=guid(project_id, "projectId"))
    return {"iterationCount": info.iteration_count, "imageCount": info.image_count, "tagCount": info.tag_count,
            "regionCount": info.region_count, "estimatedImportTimeInMS": info.estimated_import_time_ms,
            "token": info.token}


@router.post("/projects/import")
async def import_project(request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    q = request.query_params
    report = await run_in_threadpool(transfer.import_project, ctx, account_id=account, token=q.get("token"),
                                     name=q.get("name"))
    return wire.project(report.project)


@router.get("/projects/{project_id}/archive")
def get_project_archive(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> StreamingResponse:
    pid = guid(project_id, "projectId")
    include = boolean(request.query_params.get("includeIterations"), "includeIterations", default=True)
    body = archive.stream_project_archive(ctx, account_id=account, project_id=pid, include_iterations=include)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="ownvision-project-{pid}.zip"'})


@router.post("/projects/archive")
async def import_project_archive(request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    q = request.query_params
    include = boolean(q.get("includeIterations"), "includeIterations", default=True)
    limit_mb = get_ctx(request).settings.max_request_mb
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit_mb * 1024 * 1024:
                raise errors.PayloadTooLarge("BadRequestImageSizeBytes", f"The archive exceeds {limit_mb} MB; "
                                             "import it with `ownvision projects import-archive --data-dir`.")
            spool.write(chunk)
        if size == 0:
            raise errors.BadRequest("BadRequestRequiredParamIsNull", "The body must be a project archive (a zip file).")
        spool.seek(0)
        report = await run_in_threadpool(archive.import_archive, ctx, account_id=account, archive=spool,
                                         name=q.get("name"), include_iterations=include)
    return wire.project(report.project)
