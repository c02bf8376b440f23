"""QuickTestImage, QuickTestImageUrl, QueryPredictions, DeletePrediction, CreateImagesFromPredictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ... import errors
from ...services import predictions as svc
from ...services.fetch import FetchError, fetch_image
from .. import wire
from ..bodies import ImageIdBatch, ImageUrlBody, read_image_parts, validate
from ..deps import Ctx, TrainingAccount, base_url, boolean, guid, guid_list, json_body, optional_guid
from ..prediction_wire import image_prediction, stored_prediction

router = APIRouter()

P = "/projects/{project_id}"


async def _quick_test(request: Request, ctx: Any, account: Any, project_id: str, data: bytes) -> dict[str, Any]:
    q = request.query_params
    result = await run_in_threadpool(
        svc.predict_image, ctx, account_id=account, project_id=guid(project_id, "projectId"), data=data,
        task="any", iteration_id=optional_guid(q.get("iterationId"), "iterationId"),
        store=boolean(q.get("store"), "store", default=True),
    )
    return image_prediction(result)


@router.post(P + "/quicktest/image")
async def quick_test_image(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    guid(project_id, "projectId")
    data = (await read_image_parts(request, max_parts=1))[0]
    return await _quick_test(request, ctx, account, project_id, data)


@router.post(P + "/quicktest/url")
async def quick_test_image_url(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    guid(project_id, "projectId")
    body = validate(ImageUrlBody, await json_body(request))
    data = await run_in_threadpool(fetch_url, ctx, body.url)
    return await _quick_test(request, ctx, account, project_id, data)


def fetch_url(ctx: Any, url: str | None) -> bytes:
    try:
        return fetch_image(url, ctx.settings, max_bytes=int(ctx.settings.max_prediction_image_mb * 1024 * 1024))
    except FetchError as exc:
        code = "BadRequestImageSizeBytes" if exc.status.value == "ErrorImageSize" else "BadRequestImageUrl"
        raise errors.BadRequest(code, exc.message) from exc


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.BadRequest("BadRequestPredictionInvalidQueryParameters", f"{name} is not an ISO-8601 time.") from exc
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


@router.post(P + "/predictions/query")
async def query_predictions(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    pid = guid(project_id, "projectId")
    body = await json_body(request, required=False) or {}
    if not isinstance(body, dict):
        raise errors.BadRequest("BadRequest", "The body must be a PredictionQueryToken object.")
    tags = []
    for t in body.get("tags") or []:
        if not isinstance(t, dict):
            raise errors.BadRequest("BadRequestPredictionInvalidQueryParameters", "tags must hold objects.")
        tags.append(svc.QueryTag(guid(str(t.get("id")), "tags.id"), float(t.get("minThreshold") or 0.0),
                                 float(t.get("maxThreshold") if t.get("maxThreshold") is not None else 1.0)))
    order = body.get("orderBy") or "Newest"
    if order not in ("Newest", "Oldest", "Suggested"):
        raise errors.BadRequest("BadRequestPredictionInvalidQueryParameters", "orderBy must be Newest, Oldest or Suggested.")
    try:
        max_count = int(body.get("maxCount") or 50)
    except (TypeError, ValueError) as exc:
        raise errors.BadRequest("BadRequestPredictionInvalidQueryParameters", "maxCount must be an integer.") from exc
    query = svc.PredictionQuery(
        session=body.get("session"), continuation=body.get("continuation"), max_count=max_count,
        order_by=order, tags=tags, iteration_id=optional_guid(body.get("iterationId"), "iterationId"),
        start_time=_time(body.get("startTime"), "startTime"), end_time=_time(body.get("endTime"), "endTime"),
        application=body.get("application"),
    )
    rows, continuation = await run_in_threadpool(svc.query_predictions, ctx, account_id=account, project_id=pid, query=query)
    links = wire.Links(ctx, base_url(request))
    token = dict(body, continuation=continuation, maxCount=max_count, orderBy=order, session=body.get("session") or "")
    return {"token": token, "results": [stored_prediction(r, links) for r in rows]}


@router.delete(P + "/predictions", status_code=204)
def delete_prediction(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> Response:
    ids = guid_list(request.query_params.get("ids"), "ids", limit=svc.MAX_DELETE_PREDICTIONS)
    svc.delete_predictions(ctx, account_id=account, project_id=guid(project_id, "projectId"), ids=ids)
    return Response(status_code=204)


@router.post(P + "/images/predictions")
async def create_images_from_predictions(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> JSONResponse:
    pid = guid(project_id, "projectId")
    batch = validate(ImageIdBatch, await json_body(request))
    entries = [(e.id, list(e.tag_ids or []), [r.to_region() for r in e.regions or []]) for e in batch.images or []]
    results = await run_in_threadpool(
        svc.create_images_from_predictions, ctx, account_id=account, project_id=pid, entries=entries,
        tag_ids=list(batch.tag_ids or []), metadata=batch.metadata,
    )
    body, status = wire.create_summary(results, wire.Links(ctx, base_url(request)))
    return JSONResponse(body, status_code=status)
