"""The browser portal: ``index.html`` at ``/`` and its static files under ``/portal/``.

The portal is a client of the same Custom Vision API (it sends the ``Training-Key`` header from
the page), so these routes need no key: they only hand out files from the ``web`` folder.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import FileResponse

from .. import errors
from ..services.context import Context
from .deps import Ctx

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# Python's mimetypes may not know .mjs or may map .js to a legacy type; module scripts need these.
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (the ETag makes that cheap) so an upgraded server never mixes old and new modules.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def content_security_policy(public_url: str | None) -> str:
    """Only this origin's own scripts and styles run (the keys live in sessionStorage, so no inline
    scripts); images come from this server's signed links, from ``public_url`` when it names
    another origin, or from object URLs of files the user picked."""
    images = "'self' blob: data:"
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            images += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def _file(relative: str, ctx: Context) -> FileResponse:
    root = WEB_DIR.resolve()
    path = (root / relative).resolve()
    hidden = path.is_relative_to(root) and any(p.startswith(".") for p in path.relative_to(root).parts)
    if not path.is_relative_to(root) or hidden or not path.is_file():
        raise errors.NotFound("NotFound", f"The portal has no file {relative!r}.")
    media_type = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    headers = dict(_HEADERS, **{"Content-Security-Policy": content_security_policy(ctx.settings.public_url)})
    return FileResponse(path, media_type=media_type, headers=headers)


@router.get("/")
def portal_index(ctx: Ctx) -> FileResponse:
    return _file("index.html", ctx)


@router.get("/portal/{relative:path}")
def portal_file(relative: str, ctx: Ctx) -> FileResponse:
    return _file(relative, ctx)
