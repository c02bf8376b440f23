"""GetDomains, GetDomain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...domain.domains import DOMAINS
from ...services.projects import get_domain
from .. import wire
from ..deps import TrainingAccount, guid

router = APIRouter()


@router.get("/domains")
def get_domains(_account: TrainingAccount) -> list[dict[str, Any]]:
    return [wire.domain(d) for d in DOMAINS]


@router.get("/domains/{domain_id}")
def get_domain_(domain_id: str, _account: TrainingAccount) -> dict[str, Any]:
    return wire.domain(get_domain(guid(domain_id, "domainId")))
