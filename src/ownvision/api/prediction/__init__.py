"""The Prediction API v3.0 / v3.1: classify and detect with a published iteration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...services import predictions as svc
from ..bodies import ImageUrlBody, read_image_parts, validate
from ..deps import Ctx, PredictionAccount, guid, json_body
from ..prediction_wire import image_prediction
from ..training.predictions import fetch_url


def router(prefix: str) -> APIRouter:
    """Routes for one version; v3.0 answers without ``tagType`` (it arrived in v3.1)."""
    r = APIRouter()
    tag_type = not prefix.startswith("/customvision/v3.0")

    async def _predict(request: Request, ctx: Any, account: Any, project_id: str, name: str, task: str,
                       data: bytes, store: bool) -> dict[str, Any]:
        result = await run_in_threadpool(
            svc.predict_image, ctx, account_id=account, project_id=guid(project_id, "projectId"), data=data,
            task=task, published_name=name, store=store, application=request.query_params.get("application"),
        )
        return image_prediction(result, tag_type=tag_type)

    for task in ("classify", "detect"):
        base = "/{project_id}/" + task + "/iterations/{published_name}"
        for store in (True, False):
            suffix = "" if store else "/nostore"

            async def image(project_id: str, published_name: str, request: Request, ctx: Ctx,
                            account: PredictionAccount, _task: str = task, _store: bool = store) -> dict[str, Any]:
                data = (await read_image_parts(request, max_parts=1))[0]
                return await _predict(request, ctx, account, project_id, published_name, _task, data, _store)

            async def url(project_id: str, published_name: str, request: Request, ctx: Ctx,
                          account: PredictionAccount, _task: str = task, _store: bool = store) -> dict[str, Any]:
                body = validate(ImageUrlBody, await json_body(request))
                data = await run_in_threadpool(fetch_url, ctx, body.url)
                return await _predict(request, ctx, account, project_id, published_name, _task, data, _store)

            r.add_api_route(base + "/image" + suffix, image, methods=["POST"])
            r.add_api_route(base + "/url" + suffix, url, methods=["POST"])
    return r
