"""Image upload, listing, counting and deletion."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...domain.enums import ImageCreateStatus, OrderBy
from ...domain.limits import DEFAULT_TAKE, MAX_IMAGE_IDS, MAX_IMAGES_PER_BATCH, MAX_TAG_FILTER, MAX_TAKE
from ...services import images as svc
from ...services.context import Context
from ...services.fetch import FetchError, fetch_image
from .. import wire
from ..bodies import ImageFileBatch, ImageUrlBatch, ImageUrlEntry, decode_base64, read_image_parts, validate
from ..deps import Ctx, TrainingAccount, base_url, boolean, choice, guid, guid_list, integer, json_body, optional_guid

router = APIRouter()

P = "/projects/{project_id}/images"
_URL_FETCH_THREADS = 8


def _summary(request: Request, ctx: Any, results: list[svc.CreateResult]) -> JSONResponse:
    body, status = wire.create_summary(results, wire.Links(ctx, base_url(request)))
    return JSONResponse(body, status_code=status)


@router.post(P)
async def create_images_from_data(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> JSONResponse:
    pid = guid(project_id, "projectId")
    tag_ids = guid_list(request.query_params.get("tagIds"), "tagIds", limit=MAX_TAG_FILTER)
    parts = await read_image_parts(request, max_parts=MAX_IMAGES_PER_BATCH)
    entries = [svc.UploadEntry(data=p) for p in parts]
    results = await run_in_threadpool(
        svc.create_images, ctx, account_id=account, project_id=pid, entries=entries, tag_ids=tag_ids
    )
    return _summary(request, ctx, results)


@router.post(P + "/files")
async def create_images_from_files(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> JSONResponse:
    pid = guid(project_id, "projectId")
    batch = validate(ImageFileBatch, await json_body(request, images=True))

    def create() -> list[svc.CreateResult]:  # base64 decoding, too, off the event loop
        return svc.create_images(ctx, account_id=account, project_id=pid, entries=_file_entries(batch),
                                 tag_ids=list(batch.tag_ids or []), metadata=batch.metadata)

    return _summary(request, ctx, await run_in_threadpool(create))


def _file_entries(batch: ImageFileBatch) -> list[svc.UploadEntry]:
    entries = []
    for e in batch.images or []:
        data = decode_base64(e.contents)
        bad = e.contents is not None and data is None
        entries.append(svc.UploadEntry(
            data=data,
            source_url=e.name,
            tag_ids=list(e.tag_ids or []),
            regions=[r.to_region() for r in e.regions or []],
            error=ImageCreateStatus.ERROR_IMAGE_FORMAT if bad else None,
            error_message="contents is not valid base64." if bad else "",
        ))
    return entries


@router.post(P + "/urls")
async def create_images_from_urls(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> JSONResponse:
    pid = guid(project_id, "projectId")
    batch = validate(ImageUrlBatch, await json_body(request))
    max_bytes = int(ctx.settings.max_image_mb * 1024 * 1024)
    if batch.images and len(batch.images) > MAX_IMAGES_PER_BATCH:
        # let the service report the batch-size error before anything is fetched
        entries = [svc.UploadEntry(data=None) for _ in batch.images]
    else:
        entries = await run_in_threadpool(_fetch_all, ctx, batch, max_bytes)
    results = await run_in_threadpool(
        svc.create_images, ctx, account_id=account, project_id=pid, entries=entries,
        tag_ids=list(batch.tag_ids or []), metadata=batch.metadata,
    )
    return _summary(request, ctx, results)


def _fetch_all(ctx: Context, batch: ImageUrlBatch, max_bytes: int) -> list[svc.UploadEntry]:
    """Fetch the batch's URLs, a few at a time, so that slow hosts do not add up."""

    def fetch(e: ImageUrlEntry) -> svc.UploadEntry:
        entry = svc.UploadEntry(
            data=None, source_url=e.url, tag_ids=list(e.tag_ids or []), regions=[r.to_region() for r in e.regions or []]
        )
        try:
            entry.data = fetch_image(e.url, ctx.settings, max_bytes=max_bytes)
        except FetchError as err:
            entry.error, entry.error_message = err.status, err.message
        return entry

    images = batch.images or []
    with ThreadPoolExecutor(max_workers=min(_URL_FETCH_THREADS, max(1, len(images)))) as pool:
        return list(pool.map(fetch, images))


def _query(request: Request, *, tagging: str | None = None, paged: bool = True) -> svc.ImageQuery:
    q = request.query_params
    return svc.ImageQuery(
        iteration_id=optional_guid(q.get("iterationId"), "iterationId"),
        tag_ids=guid_list(q.get("tagIds"), "tagIds", limit=MAX_TAG_FILTER),
        tagging=tagging or choice(q.get("taggingStatus"), "taggingStatus", ("All", "Tagged", "Untagged"), "All"),
        filter=q.get("$filter"),
        order_by=choice(q.get("orderBy"), "orderBy", (OrderBy.NEWEST.value, OrderBy.OLDEST.value), OrderBy.NEWEST.value),
        skip=integer(q.get("skip"), "skip", 0) if paged else 0,
        take=integer(q.get("take"), "take", DEFAULT_TAKE, maximum=MAX_TAKE) if paged else 0,
    )


def _list(request: Request, ctx: Any, account: uuid.UUID, project_id: str, tagging: str | None) -> list[dict[str, Any]]:
    views = svc.list_images(ctx, account_id=account, project_id=guid(project_id, "projectId"), query=_query(request, tagging=tagging))
    links = wire.Links(ctx, base_url(request))
    return [wire.image(v, links) for v in views]


def _count(request: Request, ctx: Any, account: uuid.UUID, project_id: str, tagging: str | None) -> int:
    return svc.count_images(
        ctx, account_id=account, project_id=guid(project_id, "projectId"), query=_query(request, tagging=tagging, paged=False)
    )


@router.get(P)
def get_images(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    return _list(request, ctx, account, project_id, None)


@router.get(P + "/tagged")
def get_tagged_images(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    return _list(request, ctx, account, project_id, "Tagged")


@router.get(P + "/untagged")
def get_untagged_images(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    return _list(request, ctx, account, project_id, "Untagged")


@router.get(P + "/count")
def get_image_count(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> int:
    return _count(request, ctx, account, project_id, None)


@router.get(P + "/tagged/count")
def get_tagged_image_count(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> int:
    return _count(request, ctx, account, project_id, "Tagged")


@router.get(P + "/untagged/count")
def get_untagged_image_count(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> int:
    return _count(request, ctx, account, project_id, "Untagged")


@router.get(P + "/id")
def get_images_by_ids(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> list[dict[str, Any]]:
    q = request.query_params
    views = svc.get_images_by_ids(
        ctx, account_id=account, project_id=guid(project_id, "projectId"),
        image_ids=guid_list(q.get("imageIds"), "imageIds", limit=MAX_IMAGE_IDS),
        iteration_id=optional_guid(q.get("iterationId"), "iterationId"),
    )
    links = wire.Links(ctx, base_url(request))
    return [wire.image(v, links) for v in views]


@router.delete(P)
def delete_images(project_id: str, request: Request, ctx: Ctx, account: TrainingAccount) -> Response:
    q = request.query_params
    all_images = boolean(q.get("allImages"), "allImages")
    all_iterations = boolean(q.get("allIterations"), "allIterations")
    svc.delete_images(
        ctx, account_id=account, project_id=guid(project_id, "projectId"),
        image_ids=guid_list(q.get("imageIds"), "imageIds", limit=MAX_IMAGE_IDS), all_images=all_images,
    )
    return Response(status_code=202 if (all_images or all_iterations) else 204)
