"""Verified erasure: after deleting a project or an account, nothing of it is left in the data folder.

The scan reads every row of every table, the raw bytes of the SQLite file and its WAL (after a
checkpoint), every file and every file name in the data folder, and follows the image links handed
out before the deletion. Only the audit log may still name the deleted thing, by id.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from ownvision.services.accounts import hash_key
from ownvision.services.audit import list_events

from ..conftest import LiveServer
from .conftest import audit_only, dead_links, fill_project, http, scan, sdk, wal_size


def test_delete_project_leaves_no_row_file_name_or_link(server: LiveServer) -> None:
    keys = server.new_account()
    kept = fill_project(server, keys, "keptproj")
    gone = fill_project(server, keys, "goneproj")
    assert dead_links(gone.links) == [200] * len(gone.links)
    data_dir = server.settings.data_dir
    needles = {**gone.needles(), "project id": [uuid.UUID(gone.project_id).hex.encode()]}
    before = scan(data_dir, needles)  # the scanner sees the project while it exists
    assert any(f.startswith("row of images") for f in before)
    for kind in ("marker", "ids", "sha256", "project id"):
        assert any(f.startswith(f"file ownvision.db holds {kind}") for f in before), kind
    assert any(f.startswith("path blobs/projects/") for f in before)

    sdk(server, keys).delete_project(gone.project_id)

    assert wal_size(data_dir) == 0  # the deletion checkpointed the log itself
    assert scan(data_dir, needles, audit_may_hold=[gone.project_id.encode()]) == []
    assert audit_only(data_dir, gone.project_id) == ["audit_events"]
    assert set(dead_links(gone.links)) == {404}
    assert not (data_dir / "blobs" / "projects" / gone.project_id).exists()
    events = [e for e in list_events(server.ctx, account_id=keys.id) if e.target_id == gone.project_id]
    assert [e.action for e in events] == ["project.delete"] and events[0].detail is None

    # the other project of the same account is whole
    trainer = sdk(server, keys)
    assert len(trainer.get_tagged_images(kept.project_id)) + len(trainer.get_untagged_images(kept.project_id)) == 6
    assert trainer.get_iteration(kept.project_id, kept.iteration_id).status == "Completed"
    assert set(dead_links(kept.links)) == {200}


def test_delete_account_erases_everything_and_its_keys(server: LiveServer) -> None:
    keeper = server.new_account()
    kept = fill_project(server, keeper, "keeperacct")
    doomed = server.new_account(f"doomed-{uuid.uuid4().hex[:8]}")
    first = fill_project(server, doomed, "doomedone")
    second = fill_project(server, doomed, "doomedtwo")

    client = http(server, doomed)
    refused = client.delete("/account", params={"confirm": str(keeper.id)})
    assert refused.status_code == 400
    assert client.delete("/account", params={"confirm": str(doomed.id)}).status_code == 204
    assert wal_size(server.settings.data_dir) == 0

    needles = {
        **{k: v + second.needles()[k] for k, v in first.needles().items()},
        "project ids": [v.encode() for f in (first, second) for v in (f.project_id, uuid.UUID(f.project_id).hex)],
        "account name": [doomed.name.encode()],
        "keys": [k.encode() for k in (doomed.training_key, doomed.prediction_key,
                                      hash_key(doomed.training_key), hash_key(doomed.prediction_key))],
    }
    data_dir = server.settings.data_dir
    assert scan(data_dir, needles, audit_may_hold=[str(doomed.id).encode(), doomed.id.hex.encode()]) == []
    assert audit_only(data_dir, doomed.id.hex) == ["audit_events"]
    assert set(dead_links(first.links + second.links)) == {404}
    [event] = [e for e in list_events(server.ctx, account_id=doomed.id) if e.action == "account.delete"]
    assert event.detail == "projects=2 images=12 iterations=2 predictions=6 exports=2"

    # the keys are gone with the account
    with pytest.raises(CustomVisionErrorException) as err:
        sdk(server, doomed).get_projects()
    assert err.value.response.status_code == 401
    assert httpx.get(server.url + "/customvision/v3.1/prediction/x", headers={
        "Prediction-Key": doomed.prediction_key}).status_code in (401, 404, 405)

    # another account's data is untouched
    assert len(sdk(server, keeper).get_projects()) == 1
    assert set(dead_links(kept.links)) == {200}
