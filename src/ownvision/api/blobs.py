"""Signed blob links: image originals, resized copies, thumbnails and download files."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from .. import errors
from ..storage import BlobNotFound
from .deps import Ctx

router = APIRouter()


@router.get("/blobs/{key:path}")
def get_blob(key: str, request: Request, ctx: Ctx) -> Response:
    q = request.query_params
    if not ctx.links.verify(key, q.get("se", ""), q.get("sig", "")):
        raise errors.Forbidden("Forbidden", "This link is not valid or has expired.")
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    try:
        path = ctx.blobs.local_path(key)
        if path is not None:
            if not ctx.blobs.exists(key):
                raise BlobNotFound(key)
            return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
        return Response(ctx.blobs.get(key), media_type=media_type)
    except (BlobNotFound, ValueError) as exc:
        raise errors.NotFound("NotFound", "This file does not exist (it may have been deleted).") from exc
