"""Every kind of user data can be viewed and deleted, through the official SDK or plain HTTP.

One test per row of the "view or delete user data" table: account, iterations, iteration
performance, projects, tags, images, exports, stored predictions. Each deletion is checked to
remove the files as well as the rows, and to leave an entry in the audit log.
"""

from __future__ import annotations

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    PredictionQueryToken,
)

from ownvision.services.audit import list_events

from ..conftest import LiveServer
from .conftest import Filled, dead_links, fill_project, http, sdk


@pytest.fixture()
def filled(server: LiveServer) -> Filled:
    return fill_project(server, server.new_account(), "viewdel")


def actions(server: LiveServer, filled: Filled) -> list[str]:
    return [e.action for e in list_events(server.ctx, account_id=filled.keys.id)]


def files(server: LiveServer, filled: Filled, part: str) -> list[str]:
    return [k for k in server.ctx.blobs.list(f"projects/{filled.project_id}/") if part in k]


def error_code(exc: pytest.ExceptionInfo[CustomVisionErrorException]) -> tuple[int, str]:
    return exc.value.response.status_code, exc.value.error.code


@pytest.mark.parametrize("version", ["v3.3", "v3.4-preview"])
def test_get_account_info_shows_usage_and_fingerprints_never_keys(server: LiveServer, filled: Filled,
                                                                  version: str) -> None:
    resp = httpx.get(f"{server.url}/customvision/{version}/training/account",
                     headers={"Training-Key": filled.keys.training_key})
    assert resp.status_code == 200
    info = resp.json()
    assert info["id"] == str(filled.keys.id) and info["name"] == filled.keys.name
    assert set(info["keys"]) == {"trainingKeyFingerprint", "predictionKeyFingerprint"}
    assert filled.keys.training_key not in resp.text and filled.keys.prediction_key not in resp.text
    assert info["usage"] == {"projects": 1, "images": 6, "tags": 2, "regions": 1, "iterations": 1, "exports": 1,
                             "storedPredictions": 3, "bytes": info["usage"]["bytes"]}
    on_disk = sum(server.ctx.blobs.size(k) for k in server.ctx.blobs.list(f"projects/{filled.project_id}/"))
    assert info["usage"]["bytes"] == on_disk > 0
    [per] = info["quotas"]["perProject"]
    assert per["projectId"] == filled.project_id and per["iterations"] == {"total": 20, "used": 1}
    assert info["quotas"]["projects"]["used"] == 1
    assert info["quotas"]["predictionRetentionDays"] == server.settings.prediction_retention_days


def test_get_account_info_without_a_valid_key_is_refused(server: LiveServer) -> None:
    resp = httpx.get(server.url + "/customvision/v3.3/training/account", headers={"Training-Key": "0" * 32})
    assert resp.status_code == 401 and resp.json()["code"] == "ForbiddenUserDoesNotExist"


def test_iterations_are_viewed_and_deleted_with_their_files(server: LiveServer, filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    assert [i.id for i in trainer.get_iterations(filled.project_id)] == [filled.iteration_id]
    it = trainer.get_iteration(filled.project_id, filled.iteration_id)
    assert it.status == "Completed" and it.name == "Iteration 1"
    assert files(server, filled, f"iterations/{filled.iteration_id}/")  # model and export

    trainer.delete_iteration(filled.project_id, filled.iteration_id)

    assert trainer.get_iterations(filled.project_id) == []
    with pytest.raises(CustomVisionErrorException) as exc:
        trainer.get_iteration(filled.project_id, filled.iteration_id)
    assert error_code(exc) == (404, "NotFoundIteration")
    assert files(server, filled, "iterations/") == []
    assert "iteration.delete" in actions(server, filled)


def test_iteration_performance_is_viewed_and_deleted_with_its_iteration(server: LiveServer, filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    perf = trainer.get_iteration_performance(filled.project_id, filled.iteration_id)
    assert len(perf.per_tag_performance) == 2 and perf.precision == 1.0
    assert trainer.get_image_performance_count(filled.project_id, filled.iteration_id) == 4

    trainer.delete_iteration(filled.project_id, filled.iteration_id)

    with pytest.raises(CustomVisionErrorException) as exc:
        trainer.get_iteration_performance(filled.project_id, filled.iteration_id)
    assert error_code(exc) == (404, "NotFoundIteration")


def test_projects_are_viewed_and_deleted(server: LiveServer, filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    assert [p.id for p in trainer.get_projects()] == [filled.project_id]
    assert trainer.get_project(filled.project_id).name == "viewdel-project"

    trainer.delete_project(filled.project_id)

    assert trainer.get_projects() == []
    with pytest.raises(CustomVisionErrorException) as exc:
        trainer.get_project(filled.project_id)
    assert error_code(exc) == (404, "NotFoundProject")
    assert list(server.ctx.blobs.list(f"projects/{filled.project_id}/")) == []
    assert set(dead_links(filled.links)) == {404}
    assert "project.delete" in actions(server, filled)


def test_tags_are_viewed_and_deleted(server: LiveServer, filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    tags = {t.id: t for t in trainer.get_tags(filled.project_id)}
    assert set(tags) == set(filled.tag_ids)
    a = trainer.get_tag(filled.project_id, filled.tag_ids[0])
    assert a.name == "viewdel-tag-a" and a.image_count == 3  # two tagged, one with a region

    trainer.delete_tag(filled.project_id, a.id)

    assert [t.id for t in trainer.get_tags(filled.project_id)] == [filled.tag_ids[1]]
    with pytest.raises(CustomVisionErrorException) as exc:
        trainer.get_tag(filled.project_id, a.id)
    assert error_code(exc) == (404, "NotFoundTag")
    images = trainer.get_tagged_images(filled.project_id) + trainer.get_untagged_images(filled.project_id)
    assert not any(t.tag_id == a.id for i in images for t in i.tags or [])
    assert not any(r.tag_id == a.id for i in images for r in i.regions or [])
    assert "tag.delete" in actions(server, filled)


def test_images_are_viewed_with_download_links_and_deleted_with_their_files(server: LiveServer,
                                                                           filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    tagged = trainer.get_tagged_images(filled.project_id)
    untagged = trainer.get_untagged_images(filled.project_id)
    assert len(tagged) == 5 and len(untagged) == 1
    for img in tagged + untagged:
        assert httpx.get(img.original_image_uri).content == filled.images[img.id]  # the bytes as uploaded
        assert img.metadata == filled.metadata[img.id]
    victim = tagged[0]

    trainer.delete_images(filled.project_id, [victim.id])

    assert victim.id not in {i.id for i in trainer.get_tagged_images(filled.project_id)}
    assert files(server, filled, f"images/{victim.id}/") == []
    assert set(dead_links([victim.original_image_uri, victim.thumbnail_uri])) == {404}
    trainer.delete_images(filled.project_id, all_images=True)
    assert trainer.get_image_count(filled.project_id) == 0
    assert files(server, filled, "images/") == []
    assert actions(server, filled).count("images.delete") == 2


def test_get_exports_lists_the_export(server: LiveServer, filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    exports = trainer.get_exports(filled.project_id, filled.iteration_id)
    assert [(e.platform, e.status) for e in exports] == [("ONNX", "Done")]
    assert httpx.get(exports[0].download_uri).status_code == 200  # a plain link, no key


def test_exports_are_deleted_one_by_one_and_with_their_iteration(server: LiveServer, filled: Filled) -> None:
    client = http(server, filled.keys)
    path = f"/projects/{filled.project_id}/iterations/{filled.iteration_id}/export/{filled.export_id}"
    assert files(server, filled, "/exports/")

    assert client.delete(path).status_code == 204

    assert files(server, filled, "/exports/") == []
    assert client.delete(path).json()["code"] == "NotFound"
    assert files(server, filled, "model.onnx")  # the iteration keeps its model
    assert "export.delete" in actions(server, filled)

    other = fill_project(server, filled.keys, "exportgone")
    sdk(server, filled.keys).delete_iteration(other.project_id, other.iteration_id)
    assert [k for k in server.ctx.blobs.list(f"projects/{other.project_id}/") if "/exports/" in k] == []


def test_stored_predictions_are_queried_and_deleted_with_their_images(server: LiveServer, filled: Filled) -> None:
    trainer = sdk(server, filled.keys)
    result = trainer.query_predictions(filled.project_id, PredictionQueryToken(max_count=50))
    assert {r.id for r in result.results} == set(filled.prediction_ids)
    links = [r.original_image_uri for r in result.results]
    assert set(dead_links(links)) == {200}

    trainer.delete_prediction(filled.project_id, filled.prediction_ids[:2])

    left = trainer.query_predictions(filled.project_id, PredictionQueryToken(max_count=50)).results
    assert [r.id for r in left] == [filled.prediction_ids[2]]
    assert files(server, filled, f"predictions/{filled.prediction_ids[0]}/") == []
    assert dead_links(links).count(404) == 2
    assert "predictions.delete" in actions(server, filled)
