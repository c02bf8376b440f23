"""CreateImageTags, DeleteImageTags, CreateImageRegions, DeleteImageRegions, UpdateImageMetadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ... import errors
from ...domain.limits import MAX_DELETE_REGIONS, MAX_DELETE_TAG_IMAGES, MAX_IMAGE_IDS, MAX_TAG_FILTER
from ...services import labels as svc
from ..bodies import ImageRegionBatch, ImageTagBatch, validate
from ..deps import Ctx, TrainingAccount, guid, guid_list, json_body
from ..wire import when

router = APIRouter()

P = "/projects/{project_id}/images"


@router.post(P + "/tags")
async def create_image_tags(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    pid = guid(project_id, "projectId")
    batch = validate(ImageTagBatch, await json_body(request))
    pairs = [svc.ImageTagPair(t.image_id, t.tag_id) for t in batch.tags or []]
    summary = await run_in_threadpool(svc.create_image_tags, ctx, account_id=account, project_id=pid, pairs=pairs)

    def out(items: list[svc.ImageTagPair]) -> list[dict[str, str]] | None:
        return [{"imageId": str(p.image_id), "tagId": str(p.tag_id)} for p in items] or None

    return {"created": out(summary.created), "duplicated": out(summary.duplicated), "exceeded": out(summary.exceeded)}


@router.delete(P + "/tags", status_code=204)
def delete_image_tags(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> Response:
    q = request.query_params
    svc.delete_image_tags(
        ctx, account_id=account, project_id=guid(project_id, "projectId"),
        image_ids=guid_list(q.get("imageIds"), "imageIds", limit=MAX_DELETE_TAG_IMAGES),
        tag_ids=guid_list(q.get("tagIds"), "tagIds", limit=MAX_TAG_FILTER),
    )
    return Response(status_code=204)


def _entry(e: svc.RegionEntry) -> dict[str, Any]:
    r = e.region
    return {"imageId": str(e.image_id), "tagId": str(r.tag_id), "left": r.left, "top": r.top, "width": r.width, "height": r.height}


@router.post(P + "/regions")
async def create_image_regions(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> JSONResponse:
    pid = guid(project_id, "projectId")
    batch = validate(ImageRegionBatch, await json_body(request))
    from ...services.images import RegionIn

    entries = [
        svc.RegionEntry(r.image_id, RegionIn(r.tag_id, r.left, r.top, r.width, r.height)) for r in batch.regions or []
    ]
    summary = await run_in_threadpool(svc.create_image_regions, ctx, account_id=account, project_id=pid, entries=entries)
    created = [
        {
            "imageId": str(c.image_id), "regionId": str(c.region_id), "tagName": c.tag_name,
            "created": when(c.created),  # type: ignore[arg-type]
            "tagId": str(c.region.tag_id), "left": c.region.left, "top": c.region.top,
            "width": c.region.width, "height": c.region.height,
        }
        for c in summary.created
    ]
    body = {
        "created": created or None,
        "duplicated": [_entry(e) for e in summary.duplicated] or None,
        "exceeded": [_entry(e) for e in summary.exceeded] or None,
    }
    return JSONResponse(body, status_code=200 if not summary.exceeded else 207)


@router.delete(P + "/regions", status_code=204)
def delete_image_regions(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> Response:
    svc.delete_image_regions(
        ctx, account_id=account, project_id=guid(project_id, "projectId"),
        region_ids=guid_list(request.query_params.get("regionIds"), "regionIds", limit=MAX_DELETE_REGIONS),
    )
    return Response(status_code=204)


@router.post(P + "/metadata")
async def update_image_metadata(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> JSONResponse:
    pid = guid(project_id, "projectId")
    ids = guid_list(request.query_params.get("imageIds"), "imageIds", limit=MAX_IMAGE_IDS)
    body = await json_body(request)
    if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
        raise errors.BadRequest("BadRequest", "The body must be a JSON object of string keys and string values.")
    results = await run_in_threadpool(
        svc.update_image_metadata, ctx, account_id=account, project_id=pid, image_ids=ids, metadata=body
    )
    ok = all(r.status == "OK" for r in results)
    out = {
        "isBatchSuccessful": ok,
        "images": [{"imageId": str(r.image_id), "status": r.status, "metadata": r.metadata} for r in results],
    }
    return JSONResponse(out, status_code=200 if ok else 207)
