"""Exports of a trained compact object detector: ONNX and DockerFile, downloaded without keys, run as
their READMEs say, and compared box by box with the server's own detections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from msrest.authentication import ApiKeyCredentials

from .bundle import CONVERTED_TOLERANCE, SAME_MODEL_TOLERANCE, run_predict, serve_bundle
from .conftest import Trained, download, scene, wait_for_export

SEEDS = (100, 101, 102)

Box = tuple[str, float, float, float, float, float]


def boxes(predictions: list[Any]) -> list[Box]:
    """(tag, probability, left, top, width, height) per detection, for SDK objects or JSON dicts."""
    out = []
    for p in predictions:
        if isinstance(p, dict):
            b = p["boundingBox"]
            out.append((p["tagName"], p["probability"], b["left"], b["top"], b["width"], b["height"]))
        else:
            b = p.bounding_box
            out.append((p.tag_name, p.probability, b.left, b.top, b.width, b.height))
    return out


def server_boxes(trained: Trained) -> list[list[Box]]:
    return [
        boxes(
            trained.predictor.detect_image_with_no_store(
                trained.project_id, trained.publish_name, scene(seed)[0]
            ).predictions
        )
        for seed in SEEDS
    ]


def close(x: Box, y: Box, tolerance: float) -> bool:
    return x[0] == y[0] and max(abs(u - v) for u, v in zip(x[1:], y[1:], strict=True)) <= tolerance


def _iou(x: Box, y: Box) -> float:
    iw = max(0.0, min(x[2] + x[4], y[2] + y[4]) - max(x[2], y[2]))
    ih = max(0.0, min(x[3] + x[5], y[3] + y[5]) - max(x[3], y[3]))
    inter = iw * ih
    return inter / (x[4] * x[5] + y[4] * y[5] - inter)


def _nms_boundary(x: Box, other: list[Box], tolerance: float, nms_iou: float = 0.5) -> bool:
    """``other`` dropped ``x`` at the edge of non-maximum suppression: it kept a same-tag box scoring
    at least as high whose overlap with ``x`` is within a hair of the NMS threshold."""
    return any(y[0] == x[0] and y[1] >= x[1] - tolerance and abs(_iou(x, y) - nms_iou) <= 0.05 for y in other)


def assert_same(ours: list[list[Box]], theirs: list[list[Box]], tolerance: float, above: float | None = None) -> None:
    """Per image, the same detections within ``tolerance``.

    Without ``above``: all of them, in the same order. With it: those scoring above ``above``, in any
    order (near-ties may swap), where a detection within ``tolerance`` of ``above`` may be on one
    side only, and so may one that the other side's NMS dropped at the edge of its IoU threshold
    (converted models move boxes by up to ``tolerance``, which can flip that decision).
    """
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if above is None:
            assert len(a) == len(b) and all(close(x, y, tolerance) for x, y in zip(a, b, strict=True)), (a, b)
            continue
        for mine, other in ((a, b), (b, a)):
            unmatched = [y for y in other if y[1] > above - tolerance]
            for x in (x for x in mine if x[1] > above + tolerance):
                match = next((y for y in unmatched if close(x, y, tolerance)), None)
                if match is None:
                    assert _nms_boundary(x, other, tolerance), (x, other)
                    continue
                unmatched.remove(match)


def test_the_detector_finds_the_discs(detector: Trained) -> None:
    found = server_boxes(detector)
    assert all(f and f[0][0] == "Disc" for f in found), found  # the comparisons below are not of empty lists


# A converted graph's scores differ by ~1e-7; among the many weak candidates (the detector reports down
# to a score of 0.01, at most 100) such a difference can reorder near-ties and change which box
# non-maximum suppression keeps. Detections scoring above 0.3 are compared for it.
@pytest.mark.parametrize(
    ("flavor", "tolerance", "above"), [(None, SAME_MODEL_TOLERANCE, None), ("ONNX12", CONVERTED_TOLERANCE, 0.3)]
)
def test_onnx_export_detects_like_the_server(
    detector: Trained, tmp_path: Path, flavor: str | None, tolerance: float, above: float | None
) -> None:
    detector.trainer.export_iteration(detector.project_id, detector.iteration_id, "ONNX", flavor=flavor)
    done = wait_for_export(detector, "ONNX", flavor)
    assert done.status == "Done", done.additional_properties.get("errorDetails")
    bundle = download(done.download_uri, tmp_path / "bundle")
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["task"] == "detection" and set(meta["outputs"]) == {"scores", "boxes"}
    assert meta["postprocess"]["kind"] == "fcos"
    images = []
    for seed in SEEDS:
        images.append(tmp_path / f"scene{seed}.jpg")
        images[-1].write_bytes(scene(seed)[0])

    ours = [boxes(r["predictions"]) for r in run_predict(bundle, images)]

    theirs = server_boxes(detector)
    assert all(any(x[1] > (above or 0.0) for x in f) for f in theirs)
    assert_same(ours, theirs, tolerance, above)


def test_docker_export_serves_detections(detector: Trained, tmp_path: Path) -> None:
    detector.trainer.export_iteration(detector.project_id, detector.iteration_id, "DockerFile", flavor="ARM")
    done = wait_for_export(detector, "DockerFile", "ARM")
    assert done.status == "Done", done.additional_properties.get("errorDetails")
    bundle = download(done.download_uri, tmp_path / "bundle")
    theirs = server_boxes(detector)

    with serve_bundle(bundle, {"PREDICTION_KEY": "s3cret"}) as url:
        keyless = httpx.post(url + "/image", content=scene(1)[0], timeout=60)
        headers = {"Prediction-Key": "s3cret"}
        raw = [httpx.post(url + "/image", content=scene(s)[0], headers=headers, timeout=60).json() for s in SEEDS]
        sdk = CustomVisionPredictionClient(url, ApiKeyCredentials(in_headers={"Prediction-key": "s3cret"}))
        via_sdk = [sdk.detect_image_with_no_store(detector.project_id, "any", scene(s)[0]) for s in SEEDS]
        wrong_task = httpx.post(
            f"{url}/customvision/v3.1/prediction/{detector.project_id}/classify/iterations/x/image",
            content=scene(1)[0],
            headers=headers,
            timeout=60,
        )

    assert (keyless.status_code, keyless.json()["code"]) == (401, "Unauthorized")
    assert_same([boxes(r["predictions"]) for r in raw], theirs, SAME_MODEL_TOLERANCE)
    assert_same([boxes(r.predictions) for r in via_sdk], theirs, SAME_MODEL_TOLERANCE)
    assert wrong_task.json()["code"] == "BadRequestNotSupported"
