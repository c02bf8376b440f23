"""Request dependencies: the service context, the caller's account, and parsing of ids and lists."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from .. import errors
from ..services import accounts
from ..services.context import Context


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


def integer(value: str | None, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError as exc:
        raise errors.BadRequest("BadRequest", f"{name} must be an integer; got {value!r}.") from exc
    if n < minimum or (maximum is not None and n > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise errors.BadRequest("BadRequest", f"{name} must be between {minimum}{upper}; got {n}.")
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


async def json_body(request: Request, *, required: bool = True) -> Any:
    """The parsed JSON body, or a Custom Vision error for a wrong content type or malformed JSON."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise errors.BadRequest("BadRequestRequiredParamIsNull", "A JSON request body is required.")
        return None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
        raise errors.UnsupportedMediaType("UnsupportedMediaType", f"Expected application/json, got {ctype}.")
    import json

    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest("BadRequest", f"The request body is not valid JSON: {exc}.") from exc
