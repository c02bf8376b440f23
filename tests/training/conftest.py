"""Fixtures for training tests: a live server with a worker thread, and two classes of pictures."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials
from PIL import Image, ImageDraw

from ownvision.services.accounts import AccountKeys

from ..conftest import LiveServer, make_settings, server_with_worker, start_server, stop_server


def picture(kind: str, seed: int, size: tuple[int, int] = (288, 256)) -> bytes:
    """'disc': orange discs on a dark ground; 'stripes': blue/white stripes; 'grid': a green checkerboard."""
    rng = random.Random(f"{kind}-{seed}")
    w, h = size
    if kind == "disc":
        img = Image.new("RGB", size, (rng.randrange(10, 50),) * 3)
        d = ImageDraw.Draw(img)
        for _ in range(rng.randrange(1, 4)):
            r = rng.randrange(30, 80)
            x, y = rng.randrange(r, w - r), rng.randrange(r, h - r)
            d.ellipse([x - r, y - r, x + r, y + r], fill=(240, rng.randrange(100, 160), 20))
    elif kind == "stripes":
        img = Image.new("RGB", size, (250, 250, 250))
        d = ImageDraw.Draw(img)
        step = rng.randrange(14, 30)
        for x in range(-h, w, step * 2):
            d.polygon([(x, 0), (x + step, 0), (x + step + h, h), (x + h, h)], fill=(20, 40, rng.randrange(160, 230)))
    else:
        img = Image.new("RGB", size, (230, 240, 230))
        d = ImageDraw.Draw(img)
        cell = rng.randrange(20, 40)
        for i in range(0, w, cell):
            for j in range(0, h, cell):
                if (i // cell + j // cell) % 2 == 0:
                    d.rectangle([i, j, i + cell - 1, j + cell - 1], fill=(30, rng.randrange(120, 180), 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def trainer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with an in-process worker thread."""
    with server_with_worker(tmp_path_factory.mktemp("train"), advanced_budget_cap_s=25.0, train_threads=2) as srv:
        yield srv


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without any worker: trainings stay queued (status Training)."""
    srv = start_server(make_settings(tmp_path_factory.mktemp("idle")))
    yield srv
    stop_server(srv)


def clients(srv: LiveServer, keys: AccountKeys) -> tuple[CustomVisionTrainingClient, CustomVisionPredictionClient]:
    trainer = CustomVisionTrainingClient(srv.url, ApiKeyCredentials(in_headers={"Training-key": keys.training_key}))
    predictor = CustomVisionPredictionClient(srv.url, ApiKeyCredentials(in_headers={"Prediction-key": keys.prediction_key}))
    return trainer, predictor


def wait_for(trainer: CustomVisionTrainingClient, project_id: str, iteration_id: str, timeout: float = 240) -> Any:
    deadline = time.time() + timeout
    while True:
        it = trainer.get_iteration(project_id, iteration_id)
        if it.status != "Training":
            return it
        if time.time() > deadline:
            raise AssertionError(f"training did not finish in {timeout} s")
        time.sleep(0.5)


def upload(trainer: CustomVisionTrainingClient, project_id: str, tag_id: str, kind: str, seeds: range,
           extra_tags: list[str] | None = None) -> None:
    from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry

    entries = [ImageFileCreateEntry(name=f"{kind}{i}.jpg", contents=picture(kind, i), tag_ids=[tag_id, *(extra_tags or [])])
               for i in seeds]
    result = trainer.create_images_from_files(project_id, ImageFileCreateBatch(images=entries))
    assert result.is_batch_successful, [i.status for i in result.images]


Factory = Callable[..., Any]
