"""Fixtures of the export tests: a live server with a worker, a trained compact classifier and detector,
and a plain (keyless) download of an export's package.

The training helpers (pictures, upload, waiting) are those of ``tests/training``, and the server is
built like theirs, with a short object detection budget so that a detector trains in seconds. The
server and the two models are made once for the whole folder.
"""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from PIL import Image, ImageDraw

from ownvision.services.accounts import AccountKeys

from ..conftest import LiveServer, server_with_worker
from ..training.conftest import clients, upload, wait_for

TRAINING = "/customvision/v3.3/training"
CLASSIFICATION_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
DETECTION_COMPACT = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"


@pytest.fixture(scope="session")
def export_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with an in-process worker thread (training and export jobs)."""
    with server_with_worker(tmp_path_factory.mktemp("exports"), detection_regular_budget_s=25.0) as srv:
        yield srv


@dataclass
class Trained:
    server: LiveServer
    keys: AccountKeys
    trainer: CustomVisionTrainingClient
    predictor: CustomVisionPredictionClient
    project_id: str
    iteration_id: str
    publish_name: str

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url + TRAINING, headers={"Training-Key": self.keys.training_key}, timeout=60
        )

    def export_path(self) -> str:
        return f"/projects/{self.project_id}/iterations/{self.iteration_id}/export"


def train_classifier(srv: LiveServer) -> Trained:
    keys = srv.new_account()
    trainer, predictor = clients(srv, keys)
    project = trainer.create_project("export-classifier", domain_id=CLASSIFICATION_COMPACT)
    disc = trainer.create_tag(project.id, "Disc")
    stripes = trainer.create_tag(project.id, "Stripes")
    upload(trainer, project.id, disc.id, "disc", range(6))
    upload(trainer, project.id, stripes.id, "stripes", range(6))
    return _train(srv, keys, trainer, predictor, project.id, "classifier")


def scene(seed: int, size: tuple[int, int] = (320, 256)) -> tuple[bytes, tuple[float, float, float, float]]:
    """An orange disc on a dark, noisy ground; returns the JPEG and the disc's normalised box."""
    rng = random.Random(f"scene-{seed}")
    w, h = size
    img = Image.new("RGB", size, (rng.randrange(20, 60),) * 3)
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(w), rng.randrange(h)
        d.line([(x, y), (x + rng.randrange(-60, 60), y + rng.randrange(-60, 60))], fill=(90, 90, 110), width=2)
    r = rng.randrange(30, 60)
    cx, cy = rng.randrange(r + 2, w - r - 2), rng.randrange(r + 2, h - r - 2)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(240, rng.randrange(100, 160), 20))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue(), ((cx - r) / w, (cy - r) / h, 2 * r / w, 2 * r / h)


def train_detector(srv: LiveServer) -> Trained:
    keys = srv.new_account()
    trainer, predictor = clients(srv, keys)
    project = trainer.create_project("export-detector", domain_id=DETECTION_COMPACT)
    disc = trainer.create_tag(project.id, "Disc")
    entries = []
    for seed in range(15):
        data, (left, top, width, height) = scene(seed)
        entries.append(
            ImageFileCreateEntry(
                name=f"scene{seed}.jpg",
                contents=data,
                regions=[Region(tag_id=disc.id, left=left, top=top, width=width, height=height)],
            )
        )
    result = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert result.is_batch_successful, [i.status for i in result.images]
    return _train(srv, keys, trainer, predictor, project.id, "detector")


def _train(
    srv: LiveServer,
    keys: AccountKeys,
    trainer: CustomVisionTrainingClient,
    predictor: CustomVisionPredictionClient,
    project_id: str,
    name: str,
) -> Trained:
    iteration = trainer.train_project(project_id)
    iteration = wait_for(trainer, project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    trainer.publish_iteration(project_id, iteration.id, name, "/subscriptions/x/resourceGroups/y/providers/z")
    return Trained(srv, keys, trainer, predictor, project_id, iteration.id, name)


def wait_for_export(trained: Trained, platform: str, flavor: str | None = None, timeout: float = 180) -> Any:
    """Poll GetExports (the SDK) until the platform/flavor's export is no longer Exporting."""
    deadline = time.time() + timeout
    while True:
        found = [
            e
            for e in trained.trainer.get_exports(trained.project_id, trained.iteration_id)
            if e.platform == platform and e.flavor == flavor
        ]
        assert len(found) == 1, f"GetExports lists {len(found)} {platform}/{flavor} exports"
        if found[0].status != "Exporting":
            return found[0]
        if time.time() > deadline:
            raise AssertionError(f"the {platform}/{flavor} export did not finish in {timeout} s")
        time.sleep(0.3)


def download(uri: str, dest: Path) -> Path:
    """Fetch a package with a plain client (no key headers) and unzip it into ``dest``."""
    resp = httpx.get(uri, timeout=60)
    assert resp.status_code == 200, resp.text[:200]
    assert resp.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        zf.extractall(dest)
    return dest


@pytest.fixture(scope="session")
def classifier(export_server: LiveServer) -> Trained:
    return train_classifier(export_server)


@pytest.fixture(scope="session")
def detector(export_server: LiveServer) -> Trained:
    return train_detector(export_server)
