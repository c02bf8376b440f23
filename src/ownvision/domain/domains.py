"""The standard Custom Vision domains, with their real ids, names, types and export flags.

The order is the one the live service returns from GetDomains. `backbone` names the network
ownvision trains for the domain: "General" domains favour accuracy, "compact" ones speed and export.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .enums import DomainType, ExportPlatform


@dataclass(frozen=True)
class Domain:
    id: uuid.UUID
    name: str
    type: DomainType
    exportable: bool
    backbone: str
    enabled: bool = True

    @property
    def exportable_platforms(self) -> list[str]:
        if not self.exportable:
            return []
        platforms = [ExportPlatform.CORE_ML, ExportPlatform.TENSORFLOW, ExportPlatform.DOCKERFILE,
                     ExportPlatform.ONNX, ExportPlatform.OPENVINO]
        if self.type is DomainType.CLASSIFICATION:
            platforms.append(ExportPlatform.VAIDK)
        return [str(p) for p in platforms]

    @property
    def estimated_model_mb(self) -> float:
        return {"lite0": 17.0, "lite2": 24.0}.get(self.backbone, 20.0)


def _d(id_: str, name: str, type_: DomainType, exportable: bool) -> Domain:
    # Classification: Lite2 on the General domains (88.2% against 83.1% for Lite0 on clothing-small
    # at 30 images per tag). Detection: Lite0 everywhere; on BCCD (Regular, 240 s) Lite2 gave no better
    # mAP@0.5 (0.895 against 0.907) and took 60% longer per image.
    backbone = "lite0" if exportable or type_ is DomainType.OBJECT_DETECTION else "lite2"
    return Domain(uuid.UUID(id_), name, type_, exportable, backbone)


_C = DomainType.CLASSIFICATION
_OD = DomainType.OBJECT_DETECTION

DOMAINS: tuple[Domain, ...] = (
    _d("2e37d7fb-3a54-486a-b4d6-cfc369af0018", "General [A2]", _C, False),
    _d("a8e3c40f-fb4a-466f-832a-5e457ae4a344", "General [A1]", _C, False),
    _d("ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "General", _C, False),
    _d("c151d5b5-dd07-472a-acc8-15d29dea8518", "Food", _C, False),
    _d("ca455789-012d-4b50-9fec-5bb63841c793", "Landmarks", _C, False),
    _d("b30a91ae-e3c1-4f73-a81e-c270bff27c39", "Retail", _C, False),
    _d("45badf75-3591-4f26-a705-45678d3e9f5f", "Adult", _C, False),
    _d("a1db07ca-a19a-4830-bae8-e004a42dc863", "General (compact) [S1]", _C, True),
    _d("0732100f-1a38-4e49-a514-c9b44c697ab5", "General (compact)", _C, True),
    _d("8882951b-82cd-4c32-970b-d5f8cb8bf6d7", "Food (compact)", _C, True),
    _d("b5cfd229-2ac7-4b2b-8d0a-2b0661344894", "Landmarks (compact)", _C, True),
    _d("6b4faeda-8396-481b-9f8b-177b9fa3097f", "Retail (compact)", _C, True),
    _d("9c616dff-2e7d-ea11-af59-1866da359ce6", "General [A1]", _OD, False),
    _d("da2e3a8a-40a5-4171-82f4-58522f70fbc1", "General", _OD, False),
    _d("1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4", "Logo", _OD, False),
    _d("3780a898-81c3-4516-81ae-3a139614e1f3", "Products on Shelves", _OD, False),
    _d("7ec2ac80-887b-48a6-8df9-8b1357765430", "General (compact) [S1]", _OD, True),
    _d("a27d5ca5-bb19-49d8-a70a-fec086c47f5b", "General (compact)", _OD, True),
)

DEFAULT_DOMAIN_ID = uuid.UUID("ee85a74c-405e-4adc-bb47-ffa8ca0c9f31")

_BY_ID = {d.id: d for d in DOMAINS}


def find_domain(domain_id: uuid.UUID) -> Domain | None:
    return _BY_ID.get(domain_id)
