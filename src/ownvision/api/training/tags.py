"""GetTags, CreateTag, GetTag, UpdateTag, DeleteTag."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...services import tags as svc
from .. import wire
from ..bodies import TagBody, present, validate
from ..deps import Ctx, TrainingAccount, guid, json_body, optional_guid

router = APIRouter()


@router.get("/projects/{project_id}/tags")
def get_tags(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    it = optional_guid(request.query_params.get("iterationId"), "iterationId")
    tags = svc.list_tags(ctx, account_id=account, project_id=guid(project_id, "projectId"), iteration_id=it)
    return [wire.tag(t) for t in tags]


@router.post("/projects/{project_id}/tags")
def create_tag(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    q = request.query_params
    tag = svc.create_tag(
        ctx, account_id=account, project_id=guid(project_id, "projectId"),
        name=q.get("name"), description=q.get("description"), type=q.get("type"),
    )
    return wire.tag(tag)


@router.get("/projects/{project_id}/tags/{tag_id}")
def get_tag(project_id: str, tag_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    it = optional_guid(request.query_params.get("iterationId"), "iterationId")
    tag = svc.get_tag(
        ctx, account_id=account, project_id=guid(project_id, "projectId"), tag_id=guid(tag_id, "tagId"), iteration_id=it
    )
    return wire.tag(tag)


@router.patch("/projects/{project_id}/tags/{tag_id}")
async def update_tag(project_id: str, tag_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    pid, tid = guid(project_id, "projectId"), guid(tag_id, "tagId")
    body = present(validate(TagBody, await json_body(request)))
    tag = await run_in_threadpool(svc.update_tag, ctx, account_id=account, project_id=pid, tag_id=tid, body=body)
    return wire.tag(tag)


@router.delete("/projects/{project_id}/tags/{tag_id}", status_code=204)
def delete_tag(project_id: str, tag_id: str, ctx: Ctx, account: TrainingAccount) -> Response:
    svc.delete_tag(ctx, account_id=account, project_id=guid(project_id, "projectId"), tag_id=guid(tag_id, "tagId"))
    return Response(status_code=204)
