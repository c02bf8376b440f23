"""TrainProject's validation errors and publishing rules (no worker: trainings stay queued)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from ..conftest import LiveServer
from .conftest import clients, upload


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(CustomVisionErrorException) as err:
        call()
    assert 400 <= err.value.response.status_code < 500
    return str(err.value.error.code)


@pytest.fixture()
def trainer(idle_server: LiveServer) -> Any:
    return clients(idle_server, idle_server.new_account())[0]


def test_train_fewer_than_two_tags_is_refused(trainer: Any) -> None:
    p = trainer.create_project("one tag")
    a = trainer.create_tag(p.id, "a")
    upload(trainer, p.id, a.id, "disc", range(6))
    assert error_code(lambda: trainer.train_project(p.id)) == "BadRequestClassificationTrainingValidationFailed"


def test_train_too_few_images_per_tag_names_the_tag(trainer: Any) -> None:
    p = trainer.create_project("few")
    a, b = trainer.create_tag(p.id, "plenty"), trainer.create_tag(p.id, "scarce")
    upload(trainer, p.id, a.id, "disc", range(6))
    upload(trainer, p.id, b.id, "stripes", range(4))
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(p.id)
    assert err.value.error.code == "BadRequestMultiClassClassificationTrainingValidationFailed"
    assert "scarce" in err.value.error.message and "plenty" not in err.value.error.message


def test_train_multiclass_image_with_two_tags_is_refused(trainer: Any) -> None:
    p = trainer.create_project("two tags on one image")
    a, b = trainer.create_tag(p.id, "a"), trainer.create_tag(p.id, "b")
    upload(trainer, p.id, a.id, "disc", range(6))
    upload(trainer, p.id, b.id, "stripes", range(6), extra_tags=[a.id])
    assert error_code(lambda: trainer.train_project(p.id)) == "BadRequestMultiClassClassificationTrainingValidationFailed"


def test_train_only_negative_and_one_tag_needs_a_regular_tag(trainer: Any) -> None:
    p = trainer.create_project("negative only")
    neg = trainer.create_tag(p.id, "Negative", type="Negative")
    upload(trainer, p.id, neg.id, "disc", range(6))
    assert error_code(lambda: trainer.train_project(p.id)) == "BadRequestClassificationTrainingValidationFailed"


def test_train_advanced_without_budget_is_refused(trainer: Any) -> None:
    p = trainer.create_project("advanced")
    assert (error_code(lambda: trainer.train_project(p.id, training_type="Advanced"))
            == "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining")


def test_train_selected_unknown_tag_is_not_found(trainer: Any) -> None:
    p = trainer.create_project("selected")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(p.id, selected_tags=["00000000-0000-0000-0000-000000000001"])
    assert err.value.response.status_code == 404


def test_train_while_training_and_publish_untrained(trainer: Any) -> None:
    p = trainer.create_project("busy")
    a, b = trainer.create_tag(p.id, "a"), trainer.create_tag(p.id, "b")
    upload(trainer, p.id, a.id, "disc", range(5))
    upload(trainer, p.id, b.id, "stripes", range(5))
    it = trainer.train_project(p.id)
    assert it.status == "Training" and it.name == "Iteration 1"
    assert error_code(lambda: trainer.train_project(p.id, force_train=True)) == "BadRequestTrainingAlreadyInProgress"
    assert error_code(lambda: trainer.publish_iteration(p.id, it.id, "m", "res")) == "BadRequestIterationIsNotTrained"
    assert error_code(lambda: trainer.unpublish_iteration(p.id, it.id)) == "BadRequestIterationNotPublished"
    assert error_code(lambda: trainer.get_iteration_performance(p.id, it.id)) == "BadRequestIterationIsNotTrained"
    renamed = trainer.update_iteration(p.id, it.id, name="first try")
    assert renamed.name == "first try"
    assert [i.id for i in trainer.get_iterations(p.id)] == [it.id]
    # an iteration can be deleted while queued; its snapshot goes with it
    trainer.delete_iteration(p.id, it.id)
    assert trainer.get_iterations(p.id) == []


def test_train_iteration_snapshot_is_readable_by_iteration_id(trainer: Any) -> None:
    p = trainer.create_project("snapshot")
    a, b = trainer.create_tag(p.id, "a"), trainer.create_tag(p.id, "b")
    upload(trainer, p.id, a.id, "disc", range(5))
    upload(trainer, p.id, b.id, "stripes", range(5))
    it = trainer.train_project(p.id)
    upload(trainer, p.id, a.id, "disc", range(5, 7))
    from azure.cognitiveservices.vision.customvision.training.models import Tag

    trainer.update_tag(p.id, a.id, Tag(name="renamed", description="", type="Regular"))
    assert trainer.get_tagged_image_count(p.id) == 12
    assert trainer.get_tagged_image_count(p.id, iteration_id=it.id) == 10
    tags = {t.name: t.image_count for t in trainer.get_tags(p.id, iteration_id=it.id)}
    assert tags == {"a": 5, "b": 5}
    assert len(trainer.get_tagged_images(p.id, iteration_id=it.id, take=256)) == 10


def test_prediction_requires_the_prediction_key(idle_server: LiveServer) -> None:
    keys = idle_server.new_account()
    trainer = clients(idle_server, keys)[0]
    p = trainer.create_project("keys")
    url = f"{idle_server.url}/customvision/v3.1/prediction/{p.id}/classify/iterations/x/image"
    for headers in ({}, {"Prediction-Key": "0" * 32}, {"Prediction-Key": keys.training_key}):
        r = httpx.post(url, content=b"123", headers=headers)
        assert r.status_code == 401 and r.json()["code"].startswith("ForbiddenUser")
    other = idle_server.new_account()
    r = httpx.post(url, content=b"123", headers={"Prediction-Key": other.prediction_key})
    assert r.status_code == 404 and r.json()["code"] == "NotFoundProject"
