"""Request dependencies: the service context, the caller's account, and parsing of ids and lists."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from .. import errors
from ..services import accounts
from ..services.context import Context

JSON_LIMIT_MB = 16
# JSON bodies larger than this are parsed in a worker thread rather than on the event loop.
_INLINE_JSON_BYTES = 256 * 1024
# skip and take are int32 in the swagger (and SQLite's OFFSET is a signed 64-bit integer).
INT32_MAX = 2**31 - 1


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def training_account(request: Request) -> uuid.UUID:
    ctx = get_ctx(request)
    key = request.headers.get("training-key")
    return await run_in_threadpool(accounts.authenticate, ctx, key=key, kind="training")


async def prediction_account(request: Request) -> uuid.UUID:
    ctx = get_ctx(request)
    key = request.headers.get("prediction-key")
    return await run_in_threadpool(accounts.authenticate, ctx, key=key, kind="prediction")


Ctx = Annotated[Context, Depends(get_ctx)]
TrainingAccount = Annotated[uuid.UUID, Depends(training_account)]
PredictionAccount = Annotated[uuid.UUID, Depends(prediction_account)]


def guid(value: str | None, name: str) -> uuid.UUID:
    """Parse a GUID from a path or query parameter, or answer 400 naming the parameter."""
    if value is None or value == "":
        raise errors.BadRequest("BadRequestRequiredParamIsNull", f"{name} is required.")
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError) as exc:
        raise errors.invalid_ids(f"{name} is not a valid GUID: {value!r}.") from exc


def optional_guid(value: str | None, name: str) -> uuid.UUID | None:
    if value is None or value.strip() == "":
        return None
    return guid(value, name)


def guid_list(value: str | None, name: str, *, limit: int | None = None) -> list[uuid.UUID]:
    """Parse a comma-separated list of GUIDs (the SDK's csv collection format)."""
    if value is None or value.strip() == "":
        return []
    items = [v for v in (p.strip() for p in value.split(",")) if v]
    if limit is not None and len(items) > limit:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"{name} may hold at most {limit} ids; got {len(items)}.")
    return [guid(v, name) for v in items]


def boolean(value: str | None, name: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    low = value.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise errors.BadRequest("BadRequest", f"{name} must be true or false; got {value!r}.")


def integer(value: str | None, name: str, default: int, *, minimum: int = 0, maximum: int = INT32_MAX) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError as exc:
        raise errors.BadRequest("BadRequest", f"{name} must be an integer; got {value[:40]!r}.") from exc
    if n < minimum or n > maximum:
        raise errors.BadRequest("BadRequest", f"{name} must be between {minimum} and {maximum}; got {value[:40]}.")
    return n


def number(value: str | None, name: str, default: float, *, minimum: float = 0.0, maximum: float = 1.0) -> float:
    if value is None or value == "":
        return default
    try:
        x = float(value)
    except ValueError as exc:
        raise errors.BadRequest("BadRequest", f"{name} must be a number; got {value!r}.") from exc
    if not (minimum <= x <= maximum):
        raise errors.BadRequest("BadRequest", f"{name} must be between {minimum} and {maximum}; got {x}.")
    return x


def choice(value: str | None, name: str, options: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    for o in options:
        if o.lower() == value.lower():
            return o
    raise errors.BadRequest("BadRequest", f"{name} must be one of {', '.join(options)}; got {value!r}.")


def base_url(request: Request) -> str:
    ctx = get_ctx(request)
    return (ctx.settings.public_url or str(request.base_url)).rstrip("/")


async def read_body(request: Request, *, limit_mb: int | None = None) -> bytes:
    """The request body, refused with 413 as soon as it grows past ``limit_mb`` (default ``max_request_mb``).

    The app's middleware refuses a declared Content-Length over ``max_request_mb``; this also bounds a
    chunked body, which declares none, and lets small-bodied operations set a lower limit.
    """
    # Starlette caches a body it has read in ``_body``; sharing that cache keeps request.body() usable.
    cached: bytes | None = getattr(request, "_body", None)
    if cached is not None:
        return cached
    most_mb = get_ctx(request).settings.max_request_mb
    limit_mb = most_mb if limit_mb is None else min(limit_mb, most_mb)
    limit = limit_mb * 1024 * 1024
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise errors.PayloadTooLarge("BadRequestImageSizeBytes", f"The request body exceeds {limit_mb} MB.")
    body = bytes(buf)
    request._body = body
    return body


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the interpreter allows ([[[[...]]]])
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise errors.BadRequest("BadRequest", f"The request body is not valid JSON: {reason}.") from exc


async def json_body(request: Request, *, required: bool = True, images: bool = False) -> Any:
    """The parsed JSON body, or a Custom Vision error for a wrong content type or malformed JSON.

    Only bodies that carry images (``images=True``: base64 files) may reach ``max_request_mb``; any
    other JSON body is held to ``JSON_LIMIT_MB``, so that no small operation parses hundreds of MB.
    """
    raw = await read_body(request, limit_mb=None if images else JSON_LIMIT_MB)
    if not raw.strip():
        if required:
            raise errors.BadRequest("BadRequestRequiredParamIsNull", "A JSON request body is required.")
        return None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
        raise errors.UnsupportedMediaType("UnsupportedMediaType", f"Expected application/json, got {ctype}.")
    if len(raw) > _INLINE_JSON_BYTES:
        # a batch of base64 images: parse it off the event loop
        data = await run_in_threadpool(_parse_json, raw)
    else:
        data = _parse_json(raw)
    if data is None and required:
        raise errors.BadRequest("BadRequestRequiredParamIsNull", "The request body must not be null.")
    return data
