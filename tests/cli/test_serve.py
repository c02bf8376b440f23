"""`ownvision serve` as a user starts it: a real process with its worker process, driven by the SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials

from ..served import Served
from ..training.conftest import picture, upload, wait_for

CLASSIFICATION_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    srv = Served(tmp_path / "data")
    yield srv
    srv.kill()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def test_serve_creates_an_account_trains_in_its_worker_and_predicts(served: Served, tmp_path: Path) -> None:
    keys = served.read_keys()
    served.wait_ready()
    workers = _children(served.proc.pid)
    assert len(workers) == 1, "serve starts one worker process by default"

    trainer = CustomVisionTrainingClient(
        served.url, ApiKeyCredentials(in_headers={"Training-key": keys["Training-Key"]}))
    predictor = CustomVisionPredictionClient(
        served.url, ApiKeyCredentials(in_headers={"Prediction-key": keys["Prediction-Key"]}))
    project = trainer.create_project("served", domain_id=CLASSIFICATION_COMPACT)
    disc, stripes = trainer.create_tag(project.id, "Disc"), trainer.create_tag(project.id, "Stripes")
    upload(trainer, project.id, disc.id, "disc", range(5))
    upload(trainer, project.id, stripes.id, "stripes", range(5))
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    trainer.publish_iteration(project.id, iteration.id, "served", "resource")

    result = predictor.classify_image_with_no_store(project.id, "served", picture("stripes", 99))
    assert max(result.predictions, key=lambda p: p.probability).tag_name == "Stripes"

    assert served.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()

    again = Served(tmp_path / "data")  # the same data folder: no new account, the same keys work
    try:
        again.wait_ready()
        assert CustomVisionTrainingClient(
            again.url, ApiKeyCredentials(in_headers={"Training-key": keys["Training-Key"]})
        ).get_projects()[0].id == project.id
    finally:
        assert again.stop() == 0
        assert "Training-Key" not in "".join(again.output)
