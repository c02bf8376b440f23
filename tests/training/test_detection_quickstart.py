"""The official object detection quickstart sequence, end to end through the SDK, on scenes made here.

Each scene holds an orange disc and a blue square at known places. The test uploads them with their
regions, checks the detection training rules, trains a detector (the server's Regular budget is cut to
25 s), publishes, detects through the Prediction API, and uses the smart labeler and region proposals.
"""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
    SuggestedTagAndRegionQueryToken,
)
from PIL import Image, ImageDraw

from ..conftest import LiveServer, server_with_worker
from .conftest import clients, wait_for

DETECTION_COMPACT = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"
PREDICTION_RESOURCE = "/subscriptions/x/resourceGroups/y/providers/Microsoft.CognitiveServices/accounts/z"
Box = tuple[float, float, float, float]


def scene(seed: int, size: tuple[int, int] = (320, 256)) -> tuple[bytes, Box, Box]:
    """A dark, streaked ground with an orange disc and a blue square apart; the JPEG and both boxes."""
    rng = random.Random(f"od-{seed}")
    w, h = size
    img = Image.new("RGB", size, (rng.randrange(20, 60),) * 3)
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(w), rng.randrange(h)
        d.line([(x, y), (x + rng.randrange(-60, 60), y + rng.randrange(-60, 60))], fill=(90, 90, 110), width=2)
    r = rng.randrange(24, 40)
    cx, cy = rng.randrange(r + 2, w // 2 - r), rng.randrange(r + 2, h - r - 2)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(240, rng.randrange(100, 160), 20))
    s = rng.randrange(40, 70)
    sx, sy = rng.randrange(w // 2 + 2, w - s - 2), rng.randrange(2, h - s - 2)
    d.rectangle([sx, sy, sx + s, sy + s], fill=(30, 60, rng.randrange(180, 240)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return (buf.getvalue(), ((cx - r) / w, (cy - r) / h, 2 * r / w, 2 * r / h), (sx / w, sy / h, s / w, s / h))


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def entries(seeds: range, disc_id: str, square_id: str) -> list[ImageFileCreateEntry]:
    out = []
    for seed in seeds:
        data, disc, square = scene(seed)
        out.append(ImageFileCreateEntry(name=f"scene{seed}.jpg", contents=data, regions=[
            Region(tag_id=disc_id, left=disc[0], top=disc[1], width=disc[2], height=disc[3]),
            Region(tag_id=square_id, left=square[0], top=square[1], width=square[2], height=square[3]),
        ]))
    return out


@contextmanager
def serve_bytes(data: bytes) -> Iterator[str]:
    """A one-file web server on loopback; yields the file's URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/scene.jpg"
    finally:
        server.shutdown()
        server.server_close()


def box_of(p: Any) -> Box:
    b = p.bounding_box
    return (b.left, b.top, b.width, b.height)


@pytest.fixture(scope="module")
def detection_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with server_with_worker(tmp_path_factory.mktemp("detect"), detection_regular_budget_s=25.0, train_threads=2) as srv:
        yield srv


@pytest.fixture(scope="module")
def trained(detection_server: LiveServer) -> dict[str, Any]:
    keys = detection_server.new_account()
    trainer, predictor = clients(detection_server, keys)
    project = trainer.create_project("My Detection Project", domain_id=DETECTION_COMPACT)
    disc, square = trainer.create_tag(project.id, "fork"), trainer.create_tag(project.id, "scissors")
    def add(seeds: range) -> None:
        batch = ImageFileCreateBatch(images=entries(seeds, disc.id, square.id))
        assert trainer.create_images_from_files(project.id, batch).is_batch_successful

    add(range(14))

    # 14 images per tag: one short of the detection minimum of 15
    with pytest.raises(CustomVisionErrorException) as too_few:
        trainer.train_project(project.id)
    assert too_few.value.error.code == "BadRequestDetectionTrainingValidationFailed"
    assert "15" in too_few.value.error.message

    add(range(14, 18))
    untagged = [trainer.create_images_from_data(project.id, scene(900 + i)[0]).images[0].image for i in range(3)]

    iteration = trainer.train_project(project.id)
    iteration = wait_for(trainer, project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    assert trainer.publish_iteration(project.id, iteration.id, "detectModel", PREDICTION_RESOURCE) is True
    return {"trainer": trainer, "predictor": predictor, "project": project, "iteration": iteration,
            "tags": {"fork": disc, "scissors": square}, "untagged": untagged, "server": detection_server,
            "keys": keys}


def test_detect_image_finds_both_objects(trained: dict[str, Any]) -> None:
    predictor, project = trained["predictor"], trained["project"]
    for seed in (100, 101, 102):
        data, disc, square = scene(seed)
        result = predictor.detect_image(project.id, "detectModel", data)
        assert result.project == project.id and result.iteration == trained["iteration"].id
        probs = [p.probability for p in result.predictions]
        assert probs == sorted(probs, reverse=True)
        for name, truth in (("fork", disc), ("scissors", square)):
            best = max((p for p in result.predictions if p.tag_name == name), key=lambda p: p.probability)
            assert best.probability > 0.3, (name, best.probability)
            assert iou(box_of(best), truth) > 0.5, (name, box_of(best), truth)
        for p in result.predictions:
            left, top, width, height = box_of(p)
            assert 0 <= left <= 1 and 0 <= top <= 1 and width > 0 and height > 0
            assert left + width <= 1 + 1e-6 and top + height <= 1 + 1e-6


def test_detect_image_url_and_v30_no_store(trained: dict[str, Any]) -> None:
    srv, project, keys = trained["server"], trained["project"], trained["keys"]
    data, disc, _ = scene(103)
    v30 = httpx.post(f"{srv.url}/customvision/v3.0/prediction/{project.id}/detect/iterations/detectModel/image/nostore",
                     content=data, headers={"Prediction-Key": keys.prediction_key,
                                            "Content-Type": "application/octet-stream"})
    assert v30.status_code == 200
    body = v30.json()
    assert set(body) >= {"id", "project", "iteration", "created", "predictions"}
    assert all("tagType" not in p and set(p["boundingBox"]) == {"left", "top", "width", "height"}
               for p in body["predictions"])
    # DetectImageUrl fetches the picture from another web server
    with serve_bytes(data) as url:
        by_url = trained["predictor"].detect_image_url_with_no_store(project.id, "detectModel", url=url)
    best = max((p for p in by_url.predictions if p.tag_name == "fork"), key=lambda p: p.probability)
    assert iou(box_of(best), disc) > 0.5


def test_detection_performance_has_map_and_reacts_to_overlap(trained: dict[str, Any]) -> None:
    trainer, project, it = trained["trainer"], trained["project"], trained["iteration"]
    perf = trainer.get_iteration_performance(project.id, it.id)
    assert {t.name for t in perf.per_tag_performance} == {"fork", "scissors"}
    assert perf.average_precision > 0.5, perf.average_precision  # mAP over the held-out images
    for tag in perf.per_tag_performance:
        assert 0 <= tag.precision <= 1 and 0 <= tag.recall <= 1 and 0 <= tag.average_precision <= 1
    strict = trainer.get_iteration_performance(project.id, it.id, overlap_threshold=0.95)
    assert strict.average_precision <= perf.average_precision
    assert strict.average_precision < perf.average_precision or perf.average_precision == 0
    held = trainer.get_image_performances(project.id, it.id)
    assert held and len(held) == trainer.get_image_performance_count(project.id, it.id)
    assert all(p.predictions and p.predictions[0].bounding_box is not None for p in held)


def test_quick_test_detects_with_the_latest_iteration(trained: dict[str, Any]) -> None:
    trainer, project = trained["trainer"], trained["project"]
    data, disc, _ = scene(104)
    result = trainer.quick_test_image(project.id, data, store=False)
    assert result.iteration == trained["iteration"].id
    best = max((p for p in result.predictions if p.tag_name == "fork"), key=lambda p: p.probability)
    assert iou(box_of(best), disc) > 0.5


def test_region_proposals_come_from_the_detector(trained: dict[str, Any]) -> None:
    trainer, project = trained["trainer"], trained["project"]
    image = trained["untagged"][0]
    proposals = trainer.get_image_region_proposals(project.id, image.id)
    assert proposals.image_id == image.id and proposals.project_id == project.id
    assert proposals.proposals
    confidences = [p.confidence for p in proposals.proposals]
    assert confidences == sorted(confidences, reverse=True)
    _, disc, square = scene(900)
    best = proposals.proposals[0].bounding_box
    assert max(iou((best.left, best.top, best.width, best.height), t) for t in (disc, square)) > 0.5


def test_region_proposals_without_a_detector_are_class_agnostic(detection_server: LiveServer) -> None:
    trainer, _ = clients(detection_server, detection_server.new_account())
    project = trainer.create_project("fresh", domain_id=DETECTION_COMPACT)
    data, disc, square = scene(950)
    image = trainer.create_images_from_data(project.id, data).images[0].image
    proposals = trainer.get_image_region_proposals(project.id, image.id).proposals
    assert proposals
    found = [(p.bounding_box.left, p.bounding_box.top, p.bounding_box.width, p.bounding_box.height) for p in proposals]
    assert any(iou(f, disc) > 0.5 for f in found) and any(iou(f, square) > 0.5 for f in found)


def test_smart_labeler_suggests_regions_for_untagged_images(trained: dict[str, Any]) -> None:
    trainer, project, it = trained["trainer"], trained["project"], trained["iteration"]
    ids = [i.id for i in trained["untagged"]]
    suggestions = trainer.suggest_tags_and_regions(project.id, it.id, ids)
    assert {s.id for s in suggestions} == set(ids)
    for s in suggestions:
        assert s.iteration == it.id and 0 <= s.prediction_uncertainty <= 1
        assert s.predictions and all(p.bounding_box is not None for p in s.predictions)
    _, disc, square = scene(900)
    first = next(s for s in suggestions if s.id == ids[0])
    forks = [p for p in first.predictions if p.tag_name == "fork"]
    assert forks and iou(box_of(max(forks, key=lambda p: p.probability)), disc) > 0.5

    fork_id = trained["tags"]["fork"].id
    assert trainer.query_suggested_image_count(project.id, it.id, tag_ids=[fork_id], threshold=0.3) == {fork_id: 3}
    page = trainer.query_suggested_images(
        project.id, it.id, SuggestedTagAndRegionQueryToken(tag_ids=[trained["tags"]["fork"].id], threshold=0.3,
                                                          max_count=2, sort_by="UncertaintyDescending"))
    assert len(page.results) == 2 and page.token.continuation
    uncertainty = [r.prediction_uncertainty for r in page.results]
    assert uncertainty == sorted(uncertainty, reverse=True)
    rest = trainer.query_suggested_images(project.id, it.id, page.token)
    assert len(rest.results) == 1
    assert {r.id for r in page.results} | {r.id for r in rest.results} == set(ids)


def test_negative_tag_is_refused_for_detection_training(detection_server: LiveServer) -> None:
    trainer, _ = clients(detection_server, detection_server.new_account())
    project = trainer.create_project("negative", domain_id=DETECTION_COMPACT)
    disc, square = trainer.create_tag(project.id, "disc"), trainer.create_tag(project.id, "square")
    assert trainer.create_images_from_files(
        project.id, ImageFileCreateBatch(images=entries(range(15), disc.id, square.id))).is_batch_successful
    negative = trainer.create_tag(project.id, "nothing", type="Negative")
    trainer.create_images_from_data(project.id, scene(999)[0], tag_ids=[negative.id])
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(project.id)
    assert err.value.error.code == "BadRequestDetectionTrainingNotAllowNegativeTag"
    assert err.value.response.status_code == 400
