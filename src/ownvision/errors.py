"""The one error tree of ownvision.

Every error a client can see carries a Custom Vision error code and an HTTP status, and is rendered
by a single handler as ``{"code": ..., "message": ...}``::

    OwnVisionError (500, ErrorUnknown)
    ├── BadRequest (400, BadRequest*)
    ├── Unauthorized (401)
    ├── Forbidden (403, Forbidden*)
    ├── NotFound (404, NotFound*)
    ├── Conflict (409, Conflict*)
    ├── PayloadTooLarge (413)
    └── UnsupportedMediaType (415)

Services raise these with the most specific code, e.g. ``NotFound("NotFoundProject", "...")``.
Foreign exceptions are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class OwnVisionError(Exception):
    """Base error: status 500, code ``ErrorUnknown``."""

    status: int = 500
    default_code: str = "ErrorUnknown"

    def __init__(self, code: str | None = None, message: str = "") -> None:
        self.code = code or self.default_code
        self.message = message or self.code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class BadRequest(OwnVisionError):
    status = 400
    default_code = "BadRequest"


class Unauthorized(OwnVisionError):
    status = 401
    default_code = "Unauthorized"


class Forbidden(OwnVisionError):
    status = 403
    default_code = "Forbidden"


class NotFound(OwnVisionError):
    status = 404
    default_code = "NotFound"


class Conflict(OwnVisionError):
    status = 409
    default_code = "Conflict"


class PayloadTooLarge(OwnVisionError):
    status = 413
    default_code = "BadRequestImageSizeBytes"


class UnsupportedMediaType(OwnVisionError):
    status = 415
    default_code = "UnsupportedMediaType"


def invalid_ids(message: str) -> BadRequest:
    return BadRequest("BadRequestInvalidIds", message)
