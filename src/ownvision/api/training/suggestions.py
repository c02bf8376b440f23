"""SuggestTagsAndRegions, QuerySuggestedImages, QuerySuggestedImageCount, GetImageRegionProposals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ... import errors
from ...domain.limits import MAX_TAG_FILTER
from ...services import suggestions as svc
from .. import wire
from ..deps import Ctx, TrainingAccount, base_url, guid, guid_list, json_body

router = APIRouter()

P = "/projects/{project_id}"


def _suggestion(v: svc.SuggestionView, links: wire.Links | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(v.image.id), "project": str(v.image.project_id), "iteration": str(v.iteration_id),
        "created": wire.when(v.created), "predictions": v.predictions, "predictionUncertainty": v.uncertainty,
    }
    if links is not None:
        out.update({"width": v.image.width, "height": v.image.height, "resizedImageUri": links(v.image.resized_key),
                    "thumbnailUri": links(v.image.thumbnail_key), "originalImageUri": links(v.image.original_key),
                    "domain": None})
    return out


def _tag_filter(body: dict[str, Any]) -> tuple[list[Any], float]:
    raw = body.get("tagIds") or []
    if not isinstance(raw, list) or len(raw) > MAX_TAG_FILTER:
        raise errors.BadRequest("BadRequest", f"tagIds must be a list of at most {MAX_TAG_FILTER} tag ids.")
    try:
        threshold = float(body.get("threshold") or 0.0)
    except (TypeError, ValueError) as exc:
        raise errors.BadRequest("BadRequest", "threshold must be a number.") from exc
    return [guid(str(t), "tagIds") for t in raw], threshold


@router.post(P + "/tagsandregions/suggestions")
async def suggest_tags_and_regions(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    q = request.query_params
    views = await run_in_threadpool(
        svc.suggest_tags_and_regions, ctx, account_id=account, project_id=guid(project_id, "projectId"),
        iteration_id=guid(q.get("iterationId"), "iterationId"),
        image_ids=guid_list(q.get("imageIds"), "imageIds", limit=svc.MAX_SUGGEST_IMAGES),
    )
    return [_suggestion(v, None) for v in views]


@router.post(P + "/images/suggested")
async def query_suggested_images(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    body = await json_body(request, required=False) or {}
    if not isinstance(body, dict):
        raise errors.BadRequest("BadRequest", "The body must be a SuggestedTagAndRegionQueryToken object.")
    tag_ids, threshold = _tag_filter(body)
    max_count = int(body.get("maxCount") or 50)
    if not 1 <= max_count <= 256:
        raise errors.BadRequest("BadRequest", "maxCount must be between 1 and 256.")
    sort_by = body.get("sortBy") or "UncertaintyDescending"
    if sort_by not in ("UncertaintyAscending", "UncertaintyDescending"):
        raise errors.BadRequest("BadRequest", "sortBy must be UncertaintyAscending or UncertaintyDescending.")
    views, continuation = await run_in_threadpool(
        svc.query_suggested, ctx, account_id=account, project_id=guid(project_id, "projectId"),
        iteration_id=guid(request.query_params.get("iterationId"), "iterationId"), tag_ids=tag_ids,
        threshold=threshold, max_count=max_count, continuation=body.get("continuation"),
        descending=sort_by == "UncertaintyDescending",
    )
    links = wire.Links(ctx, base_url(request))
    token = dict(body, continuation=continuation, maxCount=max_count, sortBy=sort_by, session=body.get("session") or "")
    return {"token": token, "results": [_suggestion(v, links) for v in views]}


@router.post(P + "/images/suggested/count")
async def query_suggested_image_count(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, int]:
    body = await json_body(request, required=False) or {}
    if not isinstance(body, dict):
        raise errors.BadRequest("BadRequest", "The body must be a TagFilter object.")
    tag_ids, threshold = _tag_filter(body)
    return await run_in_threadpool(
        svc.suggested_count, ctx, account_id=account, project_id=guid(project_id, "projectId"),
        iteration_id=guid(request.query_params.get("iterationId"), "iterationId"), tag_ids=tag_ids, threshold=threshold,
    )


@router.post(P + "/images/{image_id}/regionproposals")
async def get_image_region_proposals(project_id: str, image_id: str, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    pid, iid = guid(project_id, "projectId"), guid(image_id, "imageId")
    proposals = await run_in_threadpool(svc.region_proposals, ctx, account_id=account, project_id=pid, image_id=iid)
    return {"projectId": str(pid), "imageId": str(iid),
            "proposals": [{"confidence": c, "boundingBox": box} for c, box in proposals]}
