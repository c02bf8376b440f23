"""The Training API (v3.3 and v3.4-preview share these routes)."""

from fastapi import APIRouter

from . import (
    account,
    domains,
    exports,
    images,
    iterations,
    labels,
    predictions,
    projects,
    suggestions,
    tags,
    transfer,
)


def router() -> APIRouter:
    r = APIRouter()
    for module in (domains, projects, tags, images, labels, iterations, exports, predictions, suggestions, account,
                   transfer):
        r.include_router(module.router)
    return r
