"""Prediction results on the wire (ImagePrediction, StoredImagePrediction)."""

from __future__ import annotations

from typing import Any

from ..db.tables import StoredPrediction
from ..services.predictions import PredictionResult
from .wire import Links, when


def image_prediction(r: PredictionResult, *, tag_type: bool = True) -> dict[str, Any]:
    preds = []
    for p in r.predictions:
        item: dict[str, Any] = {"probability": p.probability, "tagId": str(p.tag_id), "tagName": p.tag_name,
                                "boundingBox": p.bounding_box}
        if tag_type:
            item["tagType"] = p.tag_type
        preds.append(item)
    return {"id": str(r.id), "project": str(r.project_id), "iteration": str(r.iteration_id),
            "created": when(r.created), "predictions": preds}


def stored_prediction(p: StoredPrediction, links: Links) -> dict[str, Any]:
    return {
        "resizedImageUri": links(p.resized_key),
        "thumbnailUri": links(p.thumbnail_key),
        "originalImageUri": links(p.original_key),
        "domain": str(p.domain_id),
        "id": str(p.id),
        "project": str(p.project_id),
        "iteration": str(p.iteration_id) if p.iteration_id else None,
        "created": when(p.created),
        "predictions": p.predictions,
    }
