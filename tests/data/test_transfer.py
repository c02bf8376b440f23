"""ExportProject / ImportProject: an opaque signed token copies a project into any account."""

from __future__ import annotations

import uuid

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from ownvision.db.tables import Iteration
from ownvision.services.transfer import make_token

from ..conftest import LiveServer
from .conftest import Filled, fill_project, sdk


@pytest.fixture(scope="module")
def source(server: LiveServer) -> Filled:
    return fill_project(server, server.new_account(), "transfer")


def labels(trainer: object, project_id: str) -> dict[str, tuple[object, ...]]:
    """Image sha-independent view: original bytes -> (tag names, regions, metadata)."""
    tags = {t.id: t.name for t in trainer.get_tags(project_id)}  # type: ignore[attr-defined]
    out = {}
    images = trainer.get_tagged_images(project_id) + trainer.get_untagged_images(project_id)  # type: ignore[attr-defined]
    for img in images:
        data = httpx.get(img.original_image_uri).content
        out[data] = (
            sorted(tags[t.tag_id] for t in img.tags or []),
            sorted((tags[r.tag_id], r.left, r.top, r.width, r.height) for r in img.regions or []),
            img.metadata,
        )
    return out


def test_export_project_reports_counts_and_a_token(server: LiveServer, source: Filled) -> None:
    export = sdk(server, source.keys).export_project(source.project_id)
    assert (export.iteration_count, export.image_count, export.tag_count, export.region_count) == (1, 6, 2, 1)
    assert export.estimated_import_time_in_ms > 0
    assert export.token.startswith("ov1.") and source.project_id not in export.token


def test_import_project_copies_into_another_account(server: LiveServer, source: Filled) -> None:
    alice = sdk(server, source.keys)
    token = alice.export_project(source.project_id).token
    bob = sdk(server, server.new_account())

    copy = bob.import_project(token, name="moved")

    assert copy.status == "Succeeded" and copy.name == "moved" and copy.id != source.project_id
    original = alice.get_project(source.project_id)
    assert copy.settings.domain_id == original.settings.domain_id
    assert copy.settings.classification_type == original.settings.classification_type
    assert [p.id for p in bob.get_projects()] == [copy.id]
    assert labels(bob, copy.id) == labels(alice, source.project_id)
    assert set(labels(bob, copy.id)) == set(source.images.values())
    new_ids = {i.id for i in bob.get_tagged_images(copy.id)} | {t.id for t in bob.get_tags(copy.id)}
    assert not new_ids & set(source.image_ids + source.tag_ids)

    # the trained iteration comes along, unpublished, with its model and performance
    [it] = bob.get_iterations(copy.id)
    assert it.status == "Completed" and it.id != source.iteration_id and it.publish_name is None
    perf = bob.get_iteration_performance(copy.id, it.id)
    assert perf.precision == alice.get_iteration_performance(source.project_id, source.iteration_id).precision
    assert {t.name for t in bob.get_tags(copy.id, iteration_id=it.id)} == {"transfer-tag-a", "transfer-tag-b"}
    with server.ctx.db.read() as s:
        row = s.get(Iteration, uuid.UUID(it.id))
        assert row is not None and row.model_key is not None
        assert set(row.model_manifest["tags"]) == {t.id for t in bob.get_tags(copy.id)}
    assert server.ctx.blobs.get(row.model_key) == b"transfer-model-bytes" * 100
    # stored predictions and exports stay with the original
    assert not [k for k in server.ctx.blobs.list(f"projects/{copy.id}/") if "/predictions/" in k or "/exports/" in k]


def test_import_keeps_the_source_name_by_default_and_is_independent_of_it(server: LiveServer) -> None:
    keys = server.new_account()
    filled = fill_project(server, keys, "independent")
    alice = sdk(server, keys)
    copy = alice.import_project(alice.export_project(filled.project_id).token)
    assert copy.name == "independent-project"
    expected = labels(alice, filled.project_id)

    alice.delete_project(filled.project_id)

    assert labels(alice, copy.id) == expected
    assert alice.get_iterations(copy.id)[0].status == "Completed"


def _tampered(token: str) -> str:
    prefix, payload, sig = token.split(".")
    return f"{prefix}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{sig}"


@pytest.mark.parametrize("make_bad", [
    lambda ctx, good: "not-a-token",
    lambda ctx, good: _tampered(good),
    lambda ctx, good: good[:-4] + ("0000" if not good.endswith("0000") else "1111"),
    lambda ctx, good: make_token(ctx, uuid.uuid4(), ttl_s=3600),  # a project that does not exist
    lambda ctx, good: "ov1.e30.00",
], ids=["garbage", "altered-payload", "altered-signature", "unknown-project", "empty-payload"])
def test_import_with_an_invalid_token_is_refused(server: LiveServer, source: Filled, make_bad: object) -> None:
    good = sdk(server, source.keys).export_project(source.project_id).token
    bad = make_bad(server.ctx, good)  # type: ignore[operator]
    bob = sdk(server, server.new_account())
    with pytest.raises(CustomVisionErrorException) as exc:
        bob.import_project(bad)
    assert exc.value.response.status_code == 400
    assert exc.value.error.code == "BadRequestInvalidImportToken"
    assert bob.get_projects() == []


def test_expired_token_is_refused(server: LiveServer, source: Filled) -> None:
    expired = make_token(server.ctx, uuid.UUID(source.project_id), ttl_s=-10)
    resp = httpx.post(server.url + "/customvision/v3.3/training/projects/import", params={"token": expired},
                      headers={"Training-Key": server.new_account().training_key})
    assert resp.status_code == 400 and resp.json()["code"] == "BadRequestInvalidImportToken"
    assert "expired" in resp.json()["message"]
