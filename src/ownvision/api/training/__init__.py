"""The Training API (v3.3 and v3.4-preview share these routes)."""

from fastapi import APIRouter

from . import domains, images, labels, projects, tags


def router() -> APIRouter:
    r = APIRouter()
    for module in (domains, projects, tags, images, labels):
        r.include_router(module.router)
    return r
