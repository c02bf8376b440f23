"""`ownvision migrate` between two live servers: a full copy, and an interrupted one resumed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from msrest.authentication import ApiKeyCredentials

from ownvision.services.accounts import AccountKeys

from ..conftest import LiveServer, make_image
from .conftest import cli

OD_GENERAL = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"


def sdk(srv: LiveServer, keys: AccountKeys) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(srv.url, ApiKeyCredentials(in_headers={"Training-key": keys.training_key}))


def make_source(srv: LiveServer, marker: str, n: int = 12) -> tuple[AccountKeys, list[str]]:
    """A classification project (tags, metadata) and a detection project (regions) on ``srv``."""
    keys = srv.new_account()
    t = sdk(srv, keys)
    cls = t.create_project(f"{marker}-classify", description="birds", classification_type="Multilabel")
    a, b = t.create_tag(cls.id, "robin", description="red"), t.create_tag(cls.id, "wren")
    neg = t.create_tag(cls.id, "nothing", type="Negative")
    entries = [ImageFileCreateEntry(name=f"c{i}", contents=make_image(1000 + i + 97 * len(marker)),
                                    tag_ids=[[a.id], [b.id], [a.id, b.id], [], [neg.id]][i % 5]) for i in range(n)]
    res = t.create_images_from_files(cls.id, ImageFileCreateBatch(images=entries))
    assert res.is_batch_successful
    ids = [r.image.id for r in res.images]
    t.update_image_metadata(cls.id, ids[:5], {"camera": "north"})
    t.update_image_metadata(cls.id, ids[3:7], {"site": "pond"})
    det = t.create_project(f"{marker}-detect", domain_id=OD_GENERAL)
    fork = t.create_tag(det.id, "fork")
    boxes = [ImageFileCreateEntry(name=f"d{i}", contents=make_image(5000 + i + 97 * len(marker)), regions=[
        Region(tag_id=fork.id, left=0.1 * i, top=0.1, width=0.2, height=0.3 + 0.01 * i)]) for i in range(4)]
    assert t.create_images_from_files(det.id, ImageFileCreateBatch(images=boxes)).is_batch_successful
    return keys, [cls.id, det.id]


def content(srv: LiveServer, keys: AccountKeys, project_id: str) -> dict[str, Any]:
    """A project as data that does not depend on ids: settings, tags, and images keyed by their bytes."""
    t = sdk(srv, keys)
    p = t.get_project(project_id)
    tags = {x.id: (x.name, x.description, x.type) for x in t.get_tags(project_id)}
    images: dict[str, Any] = {}
    listed = t.get_tagged_images(project_id, take=256) + t.get_untagged_images(project_id, take=256)
    with httpx.Client() as client:
        files = [client.get(img.original_image_uri).content for img in listed]
    for img, data in zip(listed, files, strict=True):
        digest = hashlib.sha256(data).hexdigest()
        assert digest not in images, "an image is there twice"
        images[digest] = (sorted(tags[x.tag_id][0] for x in img.tags or []),
                          sorted((tags[r.tag_id][0], round(r.left, 6), round(r.top, 6), round(r.width, 6),
                                  round(r.height, 6)) for r in img.regions or []),
                          img.metadata or {})
    return {"name": p.name, "description": p.description, "domain": p.settings.domain_id,
            "type": p.settings.classification_type, "tags": sorted(tags.values()), "images": images}


def target_project(srv: LiveServer, keys: AccountKeys, name: str) -> str:
    return next(p.id for p in sdk(srv, keys).get_projects() if p.name == name)


def migrate(source: LiveServer, skeys: AccountKeys, target: LiveServer, tkeys: AccountKeys, state: Path,
            *extra: Any) -> tuple[int, str]:
    return cli("migrate", "--from-endpoint", source.url, "--from-key", skeys.training_key,
               "--to-endpoint", target.url, "--to-key", tkeys.training_key, "--state", state, *extra)


def test_migrate_copies_every_project_between_servers(source: LiveServer, target: LiveServer,
                                                      tmp_path: Path) -> None:
    skeys, pids = make_source(source, "full")
    tkeys = target.new_account()

    code, out = migrate(source, skeys, target, tkeys, tmp_path / "state.json")

    assert code == 0, out
    assert "[full-classify] images 12/12" in out and "[full-detect] done" in out
    for pid in pids:
        src = content(source, skeys, pid)
        dst = content(target, tkeys, target_project(target, tkeys, src["name"]))
        assert dst == src
    assert len(content(target, tkeys, target_project(target, tkeys, "full-classify"))["images"]) == 12

    code, out = migrate(source, skeys, target, tkeys, tmp_path / "state.json")  # again: nothing to do
    assert code == 0 and "12 already copied" in out and "uploaded 0" in out
    assert len(sdk(target, tkeys).get_projects()) == 2


def test_interrupted_migration_resumes_and_copies_each_image_once(source: LiveServer, target: LiveServer,
                                                                  tmp_path: Path) -> None:
    skeys, pids = make_source(source, "resume")
    tkeys = target.new_account()
    state = tmp_path / "state.json"

    code, out = migrate(source, skeys, target, tkeys, state, "--project", pids[0], "--max-images", 5)

    assert code == 3, out
    assert "stopped after 5 image(s)" in out
    saved = json.loads(state.read_text())
    entry = saved["projects"][pids[0]]
    assert len(entry["images"]) == 5 and not entry["complete"]
    dst_id = entry["target"]
    assert sdk(target, tkeys).get_image_count(dst_id) == 5

    # A crash after an upload but before the state was saved: the target has images the state does not
    # know, one of them still without its tags.
    forgotten = sorted(entry["images"])[:2]
    half_done = entry["images"][forgotten[0]]
    for src_id in forgotten:
        del entry["images"][src_id]
    state.write_text(json.dumps(saved))
    tagged = sdk(target, tkeys).get_images_by_ids(dst_id, [half_done])[0]
    if tagged.tags:
        sdk(target, tkeys).delete_image_tags(dst_id, [half_done], [t.tag_id for t in tagged.tags])

    code, out = migrate(source, skeys, target, tkeys, state)

    assert code == 0, out
    assert "already there 2" in out
    for pid in pids:
        src = content(source, skeys, pid)
        assert content(target, tkeys, target_project(target, tkeys, src["name"])) == src
    assert sdk(target, tkeys).get_image_count(dst_id) == 12
    final = json.loads(state.read_text())["projects"]
    assert all(p["complete"] for p in final.values()) and len(final[pids[0]]["images"]) == 12
    assert len(set(final[pids[0]]["images"].values())) == 12


def test_state_file_of_another_migration_is_refused(source: LiveServer, target: LiveServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "source": "http://elsewhere", "target": target.url, "projects": {}}))
    skeys, tkeys = source.new_account(), target.new_account()
    code, out = migrate(source, skeys, target, tkeys, state)
    assert code == 1 and "another --state file" in out


def test_migrate_with_a_wrong_key_fails_clearly(source: LiveServer, target: LiveServer, tmp_path: Path) -> None:
    tkeys = target.new_account()
    bad = AccountKeys(tkeys.id, "nobody", "0" * 32, "0" * 32)
    code, out = migrate(source, bad, target, tkeys, tmp_path / "s.json")
    assert code == 1 and "ForbiddenUserDoesNotExist" in out


@pytest.mark.parametrize("batch_images, batch_bytes", [(3, 48 << 20), (64, 1)], ids=["by-count", "by-bytes"])
def test_small_batches_copy_everything(source: LiveServer, target: LiveServer, tmp_path: Path, batch_images: int,
                                       batch_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from ownvision.services import migrate as mig

    monkeypatch.setattr(mig, "BATCH_IMAGES", batch_images)
    monkeypatch.setattr(mig, "BATCH_BYTES", batch_bytes)  # 1: every image is an upload of its own
    skeys, pids = make_source(source, f"batches{batch_images}", n=7)
    tkeys = target.new_account()
    code, out = migrate(source, skeys, target, tkeys, tmp_path / "state.json", "--project", pids[0])
    assert code == 0, out
    assert out.count(f"[batches{batch_images}-classify] images") == (3 if batch_images == 3 else 1)  # 3+3+1 or 7
    src = content(source, skeys, pids[0])
    assert content(target, tkeys, target_project(target, tkeys, src["name"])) == src
