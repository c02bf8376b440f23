"""Deleting is real: rows and blob files go, and old signed links answer 404."""

from __future__ import annotations

import uuid

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageRegionCreateEntry,
    ImageTagCreateEntry,
)
from sqlalchemy import func, select

from ownvision.db.tables import Image, ImageMetadata, ImageRegion, ImageTag, Tag

from ..conftest import LiveServer
from .cv_support import blob_files, download, upload


def _links(trainer: CustomVisionTrainingClient, project_id: str) -> dict[str, list[str]]:
    """Every signed link of every image of the project, by image id."""
    return {
        i.id: [i.original_image_uri, i.resized_image_uri, i.thumbnail_uri]
        for i in trainer.get_images(project_id, take=256)
    }


def _files_of(live: LiveServer, some_id: str) -> list[str]:
    return [f for f in blob_files(live) if some_id in f]


def _rows(live: LiveServer, table: type, **where: uuid.UUID) -> int:
    with live.ctx.db.read() as s:
        q = select(func.count()).select_from(table)
        for column, value in where.items():
            q = q.where(getattr(table, column) == value)
        return int(s.scalar(q) or 0)


def test_delete_images_removes_blobs_and_links(live: LiveServer, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("erase some").id
    ids = upload(trainer, pid, range(600, 604), metadata={"k": "v"})
    links = _links(trainer, pid)
    gone, kept = ids[:2], ids[2:]
    for image_id in ids:
        assert _files_of(live, image_id)  # original and thumbnail at least
        assert all(download(u).status_code == 200 for u in links[image_id])

    trainer.delete_images(pid, image_ids=gone)

    for image_id in gone:
        assert _files_of(live, image_id) == []
        assert [download(u).status_code for u in links[image_id]] == [404, 404, 404]
        assert _rows(live, Image, id=uuid.UUID(image_id)) == 0
        assert _rows(live, ImageMetadata, image_id=uuid.UUID(image_id)) == 0
    for image_id in kept:
        assert _files_of(live, image_id)
        assert all(download(u).status_code == 200 for u in links[image_id])
    assert trainer.get_images_by_ids(pid, image_ids=gone) == []
    assert {i.id for i in trainer.get_images(pid)} == set(kept)


def test_delete_all_images_removes_every_blob(live: LiveServer, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("erase all").id
    upload(trainer, pid, range(610, 613))
    links = _links(trainer, pid)
    trainer.delete_images(pid, all_images=True)
    assert _files_of(live, pid) == []
    assert {download(u).status_code for urls in links.values() for u in urls} == {404}
    assert trainer.get_image_count(pid) == 0
    # the project itself remains usable
    assert upload(trainer, pid, [614])


def test_delete_project_removes_rows_and_every_blob(live: LiveServer, trainer: CustomVisionTrainingClient) -> None:
    keep = trainer.create_project("neighbour").id
    upload(trainer, keep, [620])
    pid = trainer.create_project("erase project", domain_id="da2e3a8a-40a5-4171-82f4-58522f70fbc1").id
    tag = trainer.create_tag(pid, "t").id
    ids = upload(trainer, pid, range(621, 625), tag_ids=[tag], metadata={"a": "b"})
    trainer.create_image_regions(pid, regions=[
        ImageRegionCreateEntry(image_id=ids[0], tag_id=tag, left=0, top=0, width=0.5, height=0.5)])
    links = _links(trainer, pid)
    assert _files_of(live, pid)

    trainer.delete_project(pid)

    assert _files_of(live, pid) == []
    assert not any(image_id in f for f in blob_files(live) for image_id in ids)
    assert {download(u).status_code for urls in links.values() for u in urls} == {404}
    pid_u = uuid.UUID(pid)
    assert _rows(live, Image, project_id=pid_u) == 0
    assert _rows(live, Tag, project_id=pid_u) == 0
    assert _rows(live, ImageTag, tag_id=uuid.UUID(tag)) == 0
    assert _rows(live, ImageRegion, tag_id=uuid.UUID(tag)) == 0
    for call in (lambda: trainer.get_project(pid), lambda: trainer.get_images(pid),
                 lambda: trainer.get_tag(pid, tag), lambda: trainer.delete_project(pid)):
        with pytest.raises(CustomVisionErrorException) as exc:
            call()
        assert exc.value.response.status_code == 404
    # the neighbour is untouched
    assert trainer.get_image_count(keep) == 1
    assert all(download(u).status_code == 200 for urls in _links(trainer, keep).values() for u in urls)


def test_delete_tag_removes_it_from_every_image(live: LiveServer, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("erase tag").id
    gone, kept = trainer.create_tag(pid, "gone").id, trainer.create_tag(pid, "kept").id
    ids = upload(trainer, pid, range(630, 634), tag_ids=[gone])
    trainer.create_image_tags(pid, tags=[ImageTagCreateEntry(image_id=ids[0], tag_id=kept)])
    trainer.create_image_regions(pid, regions=[
        ImageRegionCreateEntry(image_id=ids[1], tag_id=gone, left=0, top=0, width=0.5, height=0.5),
        ImageRegionCreateEntry(image_id=ids[1], tag_id=kept, left=0.5, top=0.5, width=0.5, height=0.5)])
    assert trainer.get_tagged_image_count(pid) == 4

    trainer.delete_tag(pid, gone)

    images = {i.id: i for i in trainer.get_images(pid)}
    for img in images.values():
        assert gone not in [t.tag_id for t in img.tags or []]
        assert gone not in [r.tag_id for r in img.regions or []]
    assert [t.tag_id for t in images[ids[0]].tags] == [kept]
    assert [r.tag_id for r in images[ids[1]].regions] == [kept]
    assert trainer.get_tagged_image_count(pid) == 2
    assert trainer.get_untagged_image_count(pid) == 2
    assert {i.id for i in trainer.get_untagged_images(pid)} == set(ids[2:])
    assert trainer.get_tagged_images(pid, tag_ids=[gone]) == []
    assert _rows(live, ImageTag, tag_id=uuid.UUID(gone)) == 0
    assert _rows(live, ImageRegion, tag_id=uuid.UUID(gone)) == 0
    assert [t.id for t in trainer.get_tags(pid)] == [kept]


@pytest.mark.parametrize("tamper", ["sig", "se", "key", "drop sig"])
def test_tampered_link_is_refused(trainer: CustomVisionTrainingClient, tamper: str) -> None:
    pid = trainer.create_project("links").id
    [image_id] = upload(trainer, pid, [640 + len(tamper)])
    url = httpx.URL(trainer.get_images_by_ids(pid, image_ids=[image_id])[0].original_image_uri)
    params = dict(url.params)
    if tamper == "sig":
        params["sig"] = "0" * len(params["sig"])
    elif tamper == "se":
        params["se"] = str(int(params["se"]) + 3600)
    elif tamper == "drop sig":
        del params["sig"]
    else:
        url = url.copy_with(path=url.path.replace("original", "thumbnail"))
    r = httpx.get(url.copy_with(params=params))
    assert r.status_code == 403 and r.json()["code"] == "Forbidden"


def test_expired_link_is_refused(live: LiveServer, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("expired").id
    [image_id] = upload(trainer, pid, [650])
    key = live.ctx.blobs.list(f"projects/{pid}/images/{image_id}/").__next__()
    past = live.ctx.links.sign(live.url, key, -7200)
    r = httpx.get(past)
    assert r.status_code == 403 and r.json()["code"] == "Forbidden"
