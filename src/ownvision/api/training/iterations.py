"""TrainProject, iterations, publishing, and performance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ... import errors
from ...db.tables import Iteration
from ...domain.domains import find_domain
from ...domain.enums import OrderBy, TrainingType
from ...domain.limits import DEFAULT_TAKE, MAX_TAG_FILTER, MAX_TAKE
from ...services import iterations as svc
from ...services import performance as perf
from ...services.training import TrainRequest, start_training
from .. import wire
from ..deps import (
    Ctx,
    TrainingAccount,
    base_url,
    boolean,
    choice,
    guid,
    guid_list,
    integer,
    json_body,
    number,
)

router = APIRouter()

P = "/projects/{project_id}/iterations/{iteration_id}"


def iteration_wire(it: Iteration) -> dict[str, Any]:
    domain = find_domain(it.domain_id)
    exportable = bool(domain and domain.exportable and it.status == "Completed")
    return {
        "id": str(it.id),
        "name": it.name,
        "status": it.status,
        "created": wire.when(it.created),
        "lastModified": wire.when(it.last_modified),
        "trainedAt": wire.when(it.trained_at),
        "projectId": str(it.project_id),
        "exportable": exportable,
        "exportableTo": (domain.exportable_platforms if domain and exportable else []),
        "domainId": str(it.domain_id),
        "classificationType": it.classification_type,
        "trainingType": it.training_type,
        "reservedBudgetInHours": it.reserved_budget_in_hours,
        "trainingTimeInMinutes": it.training_time_in_minutes,
        "publishName": it.publish_name,
        "originalPublishResourceId": it.original_publish_resource_id,
        "customBaseModelInfo": None,
        "trainingErrorDetails": it.training_error_details,
        # Extensions (ignored by the SDK): live progress of a running training.
        "progress": round(it.progress, 4),
        "progressMessage": it.progress_message,
    }


@router.post("/projects/{project_id}/train")
async def train_project(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    pid = guid(project_id, "projectId")
    q = request.query_params
    body = await json_body(request, required=False)
    selected = None
    if body is not None:
        if not isinstance(body, dict):
            raise errors.BadRequest("BadRequest", "The body must be a TrainingParameters object.")
        raw = body.get("selectedTags")
        if raw is not None:
            if not isinstance(raw, list):
                raise errors.BadRequest("BadRequest", "selectedTags must be a list of tag ids.")
            selected = [guid(str(t), "selectedTags") for t in raw]
        if body.get("customBaseModelInfo"):
            raise errors.BadRequest("BadRequestNotSupported", "Training from a custom base model is not supported.")
    req = TrainRequest(
        training_type=choice(q.get("trainingType"), "trainingType",
                             (TrainingType.REGULAR.value, TrainingType.ADVANCED.value), TrainingType.REGULAR.value),
        reserved_budget_in_hours=integer(q.get("reservedBudgetInHours"), "reservedBudgetInHours", 0, maximum=24 * 7),
        force_train=boolean(q.get("forceTrain"), "forceTrain"),
        notification_email=q.get("notificationEmailAddress"),
        selected_tags=selected,
    )
    it = await run_in_threadpool(start_training, ctx, account_id=account, project_id=pid, req=req)
    return iteration_wire(it)


@router.get("/projects/{project_id}/iterations")
def get_iterations(project_id: str, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    return [iteration_wire(i) for i in svc.list_iterations(ctx, account_id=account, project_id=guid(project_id, "projectId"))]


@router.get(P)
def get_iteration(project_id: str, iteration_id: str, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    it = svc.get_iteration(ctx, account_id=account, project_id=guid(project_id, "projectId"),
                           iteration_id=guid(iteration_id, "iterationId"))
    return iteration_wire(it)


@router.patch(P)
async def update_iteration(project_id: str, iteration_id: str, request: Request, ctx: Ctx,
                           account: TrainingAccount) -> dict[str, Any]:
    pid, iid = guid(project_id, "projectId"), guid(iteration_id, "iterationId")
    body = await json_body(request)
    if not isinstance(body, dict):
        raise errors.BadRequest("BadRequest", "The body must be an Iteration object.")
    name = body.get("name")
    it = await run_in_threadpool(svc.rename_iteration, ctx, account_id=account, project_id=pid, iteration_id=iid,
                                 name=name if isinstance(name, str) else None)
    return iteration_wire(it)


@router.delete(P, status_code=204)
def delete_iteration(project_id: str, iteration_id: str, ctx: Ctx, account: TrainingAccount) -> Response:
    svc.delete_iteration(ctx, account_id=account, project_id=guid(project_id, "projectId"),
                         iteration_id=guid(iteration_id, "iterationId"))
    return Response(status_code=204)


@router.post(P + "/publish")
def publish_iteration(project_id: str, iteration_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> bool:
    q = request.query_params
    return svc.publish_iteration(
        ctx, account_id=account, project_id=guid(project_id, "projectId"), iteration_id=guid(iteration_id, "iterationId"),
        publish_name=q.get("publishName"), prediction_id=q.get("predictionId"),
        overwrite=boolean(q.get("overwrite"), "overwrite"),
    )


@router.delete(P + "/publish", status_code=204)
def unpublish_iteration(project_id: str, iteration_id: str, ctx: Ctx, account: TrainingAccount) -> Response:
    svc.unpublish_iteration(ctx, account_id=account, project_id=guid(project_id, "projectId"),
                            iteration_id=guid(iteration_id, "iterationId"))
    return Response(status_code=204)


@router.get(P + "/performance")
def get_iteration_performance(project_id: str, iteration_id: str, request: Request, ctx: Ctx,
                              account: TrainingAccount) -> dict[str, Any]:
    q = request.query_params
    result = perf.iteration_performance(
        ctx, account_id=account, project_id=guid(project_id, "projectId"), iteration_id=guid(iteration_id, "iterationId"),
        threshold=number(q.get("threshold"), "threshold", 0.5),
        overlap_threshold=number(q.get("overlapThreshold"), "overlapThreshold", 0.5),
    )
    return {
        "perTagPerformance": [
            {"id": str(t.id), "name": t.name, "precision": t.precision, "precisionStdDeviation": 0.0,
             "recall": t.recall, "recallStdDeviation": 0.0, "averagePrecision": t.average_precision}
            for t in result.per_tag
        ],
        "precision": result.precision,
        "precisionStdDeviation": 0.0,
        "recall": result.recall,
        "recallStdDeviation": 0.0,
        "averagePrecision": result.average_precision,
    }


@router.get(P + "/performance/images")
def get_image_performances(project_id: str, iteration_id: str, request: Request, ctx: Ctx,
                           account: TrainingAccount) -> list[dict[str, Any]]:
    q = request.query_params
    rows = perf.image_performances(
        ctx, account_id=account, project_id=guid(project_id, "projectId"), iteration_id=guid(iteration_id, "iterationId"),
        tag_ids=guid_list(q.get("tagIds"), "tagIds", limit=MAX_TAG_FILTER),
        order_by=choice(q.get("orderBy"), "orderBy", (OrderBy.NEWEST.value, OrderBy.OLDEST.value), OrderBy.NEWEST.value),
        skip=integer(q.get("skip"), "skip", 0), take=integer(q.get("take"), "take", DEFAULT_TAKE, maximum=MAX_TAKE),
    )
    links = wire.Links(ctx, base_url(request))
    return [
        {
            "predictions": [{"probability": p["probability"], "tagId": p["tagId"], "tagName": p["tagName"],
                             "boundingBox": p.get("boundingBox"), "tagType": None} for p in r.predictions],
            "id": str(r.id), "created": wire.when(r.created), "width": r.width, "height": r.height,
            "imageUri": links(r.resized_key), "thumbnailUri": links(r.thumbnail_key),
            "tags": [{"tagId": str(tid), "tagName": name, "created": wire.when(r.created)} for tid, name in r.tags],
            "regions": [dict(reg, tagName=None, created=wire.when(r.created)) for reg in r.regions] or None,
        }
        for r in rows
    ]


@router.get(P + "/performance/images/count")
def get_image_performance_count(project_id: str, iteration_id: str, request: Request, ctx: Ctx,
                                account: TrainingAccount) -> int:
    return perf.image_performance_count(
        ctx, account_id=account, project_id=guid(project_id, "projectId"), iteration_id=guid(iteration_id, "iterationId"),
        tag_ids=guid_list(request.query_params.get("tagIds"), "tagIds", limit=MAX_TAG_FILTER),
    )
