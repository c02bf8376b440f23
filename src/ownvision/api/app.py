"""Builds the ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from .. import __version__
from ..config import Settings
from ..services.context import Context, open_context
from . import blobs, errors
from .errors import error_response
from .portal import router as portal_router
from .prediction import router as prediction_router
from .training import router as training_router

log = logging.getLogger("ownvision.api")

TRAINING_PREFIXES = ("/customvision/v3.3/training", "/customvision/v3.4-preview/training")
PREDICTION_PREFIXES = ("/customvision/v3.0/prediction", "/customvision/v3.1/prediction")

# Microsoft's own examples write /customvision/v3.3/Training/...: match these segments in any case.
_SEGMENT = re.compile(r"^/customvision/(v[0-9.]+(?:-preview)?)/(training|prediction)(/|$)", re.IGNORECASE)


def create_app(settings: Settings, ctx: Context | None = None) -> FastAPI:
    """The application over ``ctx`` (opened from ``settings`` when not given)."""
    ctx = ctx or open_context(settings)
    app = FastAPI(
        title="ownvision",
        version=__version__,
        description="A self-hosted server that speaks the Azure Custom Vision Training and Prediction APIs.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    max_body = settings.max_request_mb * 1024 * 1024

    @app.middleware("http")
    async def _normalise(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.scope["path"]
        m = _SEGMENT.match(path)
        if m:
            fixed = f"/customvision/{m.group(1).lower()}/{m.group(2).lower()}" + path[m.end(2):]
            request.scope["path"] = fixed
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return error_response(400, "BadRequest", "Invalid Content-Length header.")
            if int(length) > max_body:
                return error_response(413, "BadRequestImageSizeBytes", f"The request body exceeds {settings.max_request_mb} MB.")
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.1f ms)", request.method, request.scope["path"], response.status_code, elapsed)
        return response

    training = training_router()
    for prefix in TRAINING_PREFIXES:
        app.include_router(training, prefix=prefix)
    for prefix in PREDICTION_PREFIXES:
        app.include_router(prediction_router(prefix), prefix=prefix)
    app.include_router(blobs.router)
    app.include_router(portal_router)

    @app.get("/status", include_in_schema=False)
    def status() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app

