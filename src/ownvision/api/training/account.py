"""The account's own data: GetAccountInfo, DeleteAccount, the download of all data, DeleteExport.

Custom Vision v1.2 had GetAccountInfo (``GET /training/account``); v2+ sends users to the Azure
portal. ownvision serves it again on the v3.x prefixes, with key fingerprints instead of keys.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ... import errors
from ...services import account_data, erasure
from .. import wire
from ..deps import Ctx, TrainingAccount, guid

router = APIRouter()


def account_wire(o: account_data.AccountOverview) -> dict[str, Any]:
    def used(total: int | None, n: int) -> dict[str, int | None]:
        return {"total": total, "used": n}

    return {
        "id": str(o.id),
        "name": o.name,
        "created": wire.when(o.created),
        "keysRotated": wire.when(o.keys_rotated),
        "keys": {"trainingKeyFingerprint": o.training_key_fingerprint,
                 "predictionKeyFingerprint": o.prediction_key_fingerprint},
        "quotas": {
            "tier": "SelfHosted",
            "projects": used(o.max_projects, len(o.projects)),
            "predictionRetentionDays": o.prediction_retention_days,
            "perProject": [
                {"projectId": str(p.id), "name": p.name,
                 "iterations": used(o.max_iterations_per_project, p.iterations),
                 "tags": used(o.max_tags_per_project, p.tags), "images": used(None, p.images),
                 "regions": p.regions, "exports": p.exports, "storedPredictions": p.stored_predictions,
                 "bytes": p.bytes}
                for p in o.projects
            ],
        },
        "usage": {
            "projects": len(o.projects), "images": o.total("images"), "tags": o.total("tags"),
            "regions": o.total("regions"), "iterations": o.total("iterations"), "exports": o.total("exports"),
            "storedPredictions": o.total("stored_predictions"), "bytes": o.total("bytes"),
        },
    }


@router.get("/account")
def get_account_info(ctx: Ctx, account: TrainingAccount) -> dict[str, Any]:
    return account_wire(account_data.account_overview(ctx, account_id=account))


@router.delete("/account", status_code=204)
def delete_account(request: Request, ctx: Ctx, account: TrainingAccount) -> Response:
    """Erase the account of the training key: ``?confirm=<account id>`` guards against accidents."""
    if request.query_params.get("confirm", "").strip().lower() != str(account):
        raise errors.BadRequest(
            "BadRequestRequiredParamIsNull",
            "Deleting an account erases all of its projects, images, models and keys for good: "
            "pass confirm=<account id> (GetAccountInfo shows the id).",
        )
    erasure.delete_account(ctx, account_id=account)
    return Response(status_code=204)


def _filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "account"


@router.get("/account/export")
def export_account_data(ctx: Ctx, account: TrainingAccount) -> StreamingResponse:
    """All of the account's data as one zip, streamed as it is written."""
    name = account_data.account_name(ctx, account_id=account)
    body = account_data.export_account_data(ctx, account_id=account)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="ownvision-{_filename(name)}.zip"'})


@router.delete("/projects/{project_id}/iterations/{iteration_id}/export/{export_id}", status_code=204)
async def delete_export(project_id: str, iteration_id: str, export_id: str, ctx: Ctx,
                        account: TrainingAccount) -> Response:
    await run_in_threadpool(
        erasure.delete_export, ctx, account_id=account, project_id=guid(project_id, "projectId"),
        iteration_id=guid(iteration_id, "iterationId"), export_id=guid(export_id, "exportId"))
    return Response(status_code=204)
