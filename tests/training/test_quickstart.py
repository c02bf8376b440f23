"""The official classification quickstart sequence, end to end through the SDK, on pictures made here."""

from __future__ import annotations

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageIdCreateBatch,
    ImageIdCreateEntry,
    PredictionQueryTag,
    PredictionQueryToken,
)

from ..conftest import LiveServer
from .conftest import clients, picture, upload, wait_for

PREDICTION_RESOURCE = "/subscriptions/x/resourceGroups/y/providers/Microsoft.CognitiveServices/accounts/z"


@pytest.fixture(scope="module")
def trained(trainer_server: LiveServer) -> dict[str, object]:
    keys = trainer_server.new_account()
    trainer, predictor = clients(trainer_server, keys)
    project = trainer.create_project("My New Project")
    disc = trainer.create_tag(project.id, "Disc")
    stripes = trainer.create_tag(project.id, "Stripes")
    upload(trainer, project.id, disc.id, "disc", range(8))
    upload(trainer, project.id, stripes.id, "stripes", range(8))
    iteration = trainer.train_project(project.id)
    assert iteration.status == "Training"
    iteration = wait_for(trainer, project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    # the quickstart publishes the same iteration twice under the same name
    assert trainer.publish_iteration(project.id, iteration.id, "classifyModel", PREDICTION_RESOURCE) is True
    assert trainer.publish_iteration(project.id, iteration.id, "classifyModel", PREDICTION_RESOURCE) is True
    return {"trainer": trainer, "predictor": predictor, "project": project, "iteration": iteration,
            "disc": disc, "stripes": stripes, "server": trainer_server}


def test_quickstart_classify_image_predicts_the_right_tag(trained: dict) -> None:
    predictor, project = trained["predictor"], trained["project"]
    for kind, name in (("disc", "Disc"), ("stripes", "Stripes")):
        for seed in (100, 101):
            result = predictor.classify_image(project.id, "classifyModel", picture(kind, seed))
            top = max(result.predictions, key=lambda p: p.probability)
            assert top.tag_name == name
            assert abs(sum(p.probability for p in result.predictions) - 1.0) < 1e-3  # multiclass: sums to one
            assert result.project == project.id and result.iteration == trained["iteration"].id
            assert [p.probability for p in result.predictions] == sorted((p.probability for p in result.predictions), reverse=True)


def test_iteration_reports_training_details(trained: dict) -> None:
    it = trained["trainer"].get_iteration(trained["project"].id, trained["iteration"].id)
    assert it.publish_name == "classifyModel"
    assert it.original_publish_resource_id == PREDICTION_RESOURCE
    assert it.trained_at is not None and it.training_time_in_minutes >= 1
    assert it.domain_id == trained["project"].settings.domain_id
    assert it.classification_type == "Multiclass" and it.training_type == "Regular"


def test_performance_is_measured_on_held_out_images(trained: dict) -> None:
    trainer, project, it = trained["trainer"], trained["project"], trained["iteration"]
    perf = trainer.get_iteration_performance(project.id, it.id)
    assert {t.name for t in perf.per_tag_performance} == {"Disc", "Stripes"}
    assert perf.precision >= 0.8 and perf.recall >= 0.8 and perf.average_precision >= 0.8
    strict = trainer.get_iteration_performance(project.id, it.id, threshold=0.999999)
    assert strict.recall <= perf.recall
    assert trainer.get_image_performance_count(project.id, it.id) == 16
    page = trainer.get_image_performances(project.id, it.id, take=5)
    assert len(page) == 5
    assert all(len(p.predictions) == 2 and p.tags for p in page)
    only_disc = trainer.get_image_performance_count(project.id, it.id, tag_ids=[trained["disc"].id])
    assert only_disc == 8


def test_no_store_prediction_is_not_kept_and_stored_one_is(trained: dict) -> None:
    trainer, predictor, project = trained["trainer"], trained["predictor"], trained["project"]
    before = trainer.query_predictions(project.id, PredictionQueryToken(max_count=256)).results
    predictor.classify_image_with_no_store(project.id, "classifyModel", picture("disc", 200))
    assert len(trainer.query_predictions(project.id, PredictionQueryToken(max_count=256)).results) == len(before)
    stored = predictor.classify_image(project.id, "classifyModel", picture("disc", 201), application="tests")
    after = trainer.query_predictions(project.id, PredictionQueryToken(max_count=256)).results
    assert stored.id in {r.id for r in after}
    mine = [r for r in after if r.id == stored.id][0]
    assert httpx.get(mine.original_image_uri).content == picture("disc", 201)
    by_app = trainer.query_predictions(project.id, PredictionQueryToken(application="tests")).results
    assert [r.id for r in by_app] == [stored.id]
    disc_high = trainer.query_predictions(project.id, PredictionQueryToken(
        tags=[PredictionQueryTag(id=trained["disc"].id, min_threshold=0.5, max_threshold=1.0)])).results
    assert stored.id in {r.id for r in disc_high}
    stripes_high = trainer.query_predictions(project.id, PredictionQueryToken(
        tags=[PredictionQueryTag(id=trained["stripes"].id, min_threshold=0.5, max_threshold=1.0)])).results
    assert stored.id not in {r.id for r in stripes_high}


def test_query_predictions_pages_with_continuation(trained: dict) -> None:
    trainer, predictor, project = trained["trainer"], trained["predictor"], trained["project"]
    for seed in range(300, 303):
        predictor.classify_image(project.id, "classifyModel", picture("stripes", seed), application="paging")
    token = PredictionQueryToken(application="paging", max_count=2)
    first = trainer.query_predictions(project.id, token)
    assert len(first.results) == 2 and first.token.continuation
    second = trainer.query_predictions(project.id, first.token)
    assert len(second.results) == 1 and not second.token.continuation
    assert not {r.id for r in first.results} & {r.id for r in second.results}


def test_delete_prediction_removes_it_and_its_image(trained: dict) -> None:
    trainer, predictor, project = trained["trainer"], trained["predictor"], trained["project"]
    stored = predictor.classify_image(project.id, "classifyModel", picture("disc", 400), application="delete-me")
    row = trainer.query_predictions(project.id, PredictionQueryToken(application="delete-me")).results[0]
    trainer.delete_prediction(project.id, [stored.id])
    assert trainer.query_predictions(project.id, PredictionQueryToken(application="delete-me")).results == []
    assert httpx.get(row.original_image_uri).status_code == 404


def test_create_images_from_predictions_moves_the_image_into_training(trained: dict) -> None:
    trainer, predictor, project = trained["trainer"], trained["predictor"], trained["project"]
    stored = predictor.classify_image(project.id, "classifyModel", picture("disc", 500), application="move-me")
    before = trainer.get_tagged_image_count(project.id)
    summary = trainer.create_images_from_predictions(
        project.id, ImageIdCreateBatch(images=[ImageIdCreateEntry(id=stored.id, tag_ids=[trained["disc"].id])]))
    assert summary.is_batch_successful
    assert trainer.get_tagged_image_count(project.id) == before + 1
    image = summary.images[0].image
    assert httpx.get(image.original_image_uri).content == picture("disc", 500)
    assert trainer.query_predictions(project.id, PredictionQueryToken(application="move-me")).results == []


def test_quick_test_uses_latest_iteration_and_can_skip_storing(trained: dict) -> None:
    trainer, project = trained["trainer"], trained["project"]
    result = trainer.quick_test_image(project.id, picture("stripes", 600), store=False)
    assert max(result.predictions, key=lambda p: p.probability).tag_name == "Stripes"
    assert result.iteration == trained["iteration"].id
    explicit = trainer.quick_test_image(project.id, picture("disc", 601), iteration_id=trained["iteration"].id, store=False)
    assert max(explicit.predictions, key=lambda p: p.probability).tag_name == "Disc"


def test_prediction_v30_path_answers_without_tag_type(trained: dict) -> None:
    srv, project = trained["server"], trained["project"]
    keys_header = trained["predictor"].config.credentials.in_headers
    r = httpx.post(f"{srv.url}/customvision/v3.0/prediction/{project.id}/classify/iterations/classifyModel/image/nostore",
                   content=picture("disc", 700), headers={**keys_header, "Content-Type": "application/octet-stream"})
    assert r.status_code == 200
    assert all("tagType" not in p for p in r.json()["predictions"])


def test_unpublished_name_and_unpublish_rules(trained: dict) -> None:
    trainer, predictor, project, it = trained["trainer"], trained["predictor"], trained["project"], trained["iteration"]
    with pytest.raises(Exception) as err:
        predictor.classify_image(project.id, "noSuchModel", picture("disc", 1))
    assert err.value.response.status_code == 404
    with pytest.raises(CustomVisionErrorException) as err2:
        trainer.delete_iteration(project.id, it.id)
    assert err2.value.error.code == "BadRequestIterationIsPublished"
