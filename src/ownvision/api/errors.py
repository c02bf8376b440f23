"""The one place where exceptions become HTTP answers, always ``{"code": ..., "message": ...}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "BadRequest",
    401: "ForbiddenUser",
    403: "Forbidden",
    404: "NotFound",
    405: "BadRequestNotSupported",
    409: "Conflict",
    413: "BadRequestImageSizeBytes",
    415: "UnsupportedMediaType",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
        msg = e.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "Invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.OwnVisionError)
    async def _own(_req: Request, exc: errors.OwnVisionError) -> JSONResponse:
        if exc.status >= 500:
            log.error("request failed: %s: %s", exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "BadRequest", _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "ErrorUnknown")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = "The requested resource or operation does not exist."
        if exc.status_code == 405:
            message = "This method is not supported on this resource."
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", req.method, req.url.path)
        return error_response(500, "ErrorUnknown", "An unexpected error occurred; the server log has details.")
