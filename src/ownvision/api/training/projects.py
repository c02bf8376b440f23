"""GetProjects, CreateProject, GetProject, UpdateProject, DeleteProject."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...services import projects as svc
from .. import wire
from ..bodies import CreateProjectOptionsBody, ProjectBody, present, validate
from ..deps import Ctx, TrainingAccount, guid, json_body, optional_guid

router = APIRouter()


@router.get("/projects")
def get_projects(ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    return [wire.project(p) for p in svc.list_projects(ctx, account_id=account)]


@router.post("/projects")
async def create_project(request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    q = request.query_params
    options = validate(CreateProjectOptionsBody, await json_body(request, required=False))
    platforms = q.get("targetExportPlatforms")
    spec = svc.ProjectCreate(
        name=q.get("name") or "",
        description=q.get("description"),
        domain_id=optional_guid(q.get("domainId"), "domainId"),
        classification_type=q.get("classificationType"),
        target_export_platforms=[p.strip() for p in platforms.split(",") if p.strip()] if platforms else [],
        export_model_container_uri=options.export_model_container_uri or q.get("exportModelContainerUri"),
        notification_queue_uri=options.notification_queue_uri or q.get("notificationQueueUri"),
    )
    project = await run_in_threadpool(svc.create_project, ctx, account_id=account, spec=spec)
    return wire.project(project)


@router.get("/projects/{project_id}")
def get_project(project_id: str, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    return wire.project(svc.get_project(ctx, account_id=account, project_id=guid(project_id, "projectId")))


@router.patch("/projects/{project_id}")
async def update_project(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    pid = guid(project_id, "projectId")
    body = present(validate(ProjectBody, await json_body(request)))
    project = await run_in_threadpool(svc.update_project, ctx, account_id=account, project_id=pid, body=body)
    return wire.project(project)


@router.delete("/projects/{project_id}", status_code=204)
def delete_project(project_id: str, ctx: Ctx, account: TrainingAccount) -> Response:
    svc.delete_project(ctx, account_id=account, project_id=guid(project_id, "projectId"))
    return Response(status_code=204)
