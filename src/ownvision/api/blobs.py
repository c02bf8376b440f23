"""Signed blob links: image originals, resized copies, thumbnails and download files."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from .. import errors
from ..storage import BlobNotFound
from .deps import Ctx

router = APIRouter()

_CHUNK = 256 * 1024


@router.get("/blobs/{key:path}")
def get_blob(key: str, request: Request, ctx: Ctx) -> Response:
    q = request.query_params
    if not ctx.links.verify(key, q.get("se", ""), q.get("sig", "")):
        raise errors.Forbidden("Forbidden", "This link is not valid or has expired.")
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=3600"}
    try:
        # Opened before answering: a blob deleted a moment later is still read whole (or, if it is
        # already gone, answered 404), never a response that fails half-way.
        f = ctx.blobs.open(key)
    except (BlobNotFound, ValueError) as exc:
        raise errors.NotFound("NotFound", "This file does not exist (it may have been deleted).") from exc
    try:
        headers["Content-Length"] = str(os.fstat(f.fileno()).st_size)
    except (OSError, ValueError):  # a store whose files have no descriptor: send without a length
        pass
    return StreamingResponse(_chunks(f), media_type=media_type, headers=headers)


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        while chunk := f.read(_CHUNK):
            yield chunk
