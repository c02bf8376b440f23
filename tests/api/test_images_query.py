"""Listing images: paging (skip/take), ordering, tag filters, tagging status and $filter over metadata."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import ImageTagCreateEntry

from .cv_support import assert_error, upload


@dataclass
class Catalogue:
    pid: str
    a: str
    b: str
    only_a: list[str]
    only_b: list[str]
    both: list[str]
    plain: list[str]

    @property
    def all(self) -> list[str]:
        return self.only_a + self.only_b + self.both + self.plain


@pytest.fixture(scope="module")
def cat(trainer: CustomVisionTrainingClient) -> Catalogue:
    """60 images in four batches: 15 tagged a, 15 tagged b, 10 tagged both, 20 untagged, with metadata."""
    pid = trainer.create_project("query").id
    a, b = trainer.create_tag(pid, "a").id, trainer.create_tag(pid, "b").id
    only_a = upload(trainer, pid, range(700, 715), tag_ids=[a], metadata={"colour": "red", "size": "s"})
    only_b = upload(trainer, pid, range(715, 730), tag_ids=[b], metadata={"colour": "blue", "note": "it's"})
    both = upload(trainer, pid, range(730, 740), tag_ids=[a, b], metadata={"colour": "red", "size": "l"})
    plain = upload(trainer, pid, range(740, 760))
    return Catalogue(pid, a, b, only_a, only_b, both, plain)


def _ids(images: list) -> list[str]:  # type: ignore[type-arg]
    return [i.id for i in images]


def test_get_images_default_take_is_50(trainer: CustomVisionTrainingClient, cat: Catalogue, http: httpx.Client) -> None:
    assert len(http.get(f"/projects/{cat.pid}/images").json()) == 50
    assert len(trainer.get_images(cat.pid, take=256)) == 60


@pytest.mark.parametrize("order_by, take", [("Newest", 7), ("Oldest", 1), ("oldest", 50), ("newest", 13)])
def test_get_images_pages_cover_everything_once(http: httpx.Client, cat: Catalogue, order_by: str,
                                                take: int) -> None:
    seen: list[str] = []
    for skip in range(0, 60, take):
        page = http.get(f"/projects/{cat.pid}/images", params={"orderBy": order_by, "take": take, "skip": skip})
        assert page.status_code == 200
        seen += [i["id"] for i in page.json()]
    assert len(seen) == 60 and set(seen) == set(cat.all)
    full = [i["id"] for i in http.get(f"/projects/{cat.pid}/images", params={"orderBy": order_by, "take": 256}).json()]
    assert seen == full


def test_get_images_ordering(trainer: CustomVisionTrainingClient, cat: Catalogue) -> None:
    newest = _ids(trainer.get_images(cat.pid, take=256))  # Newest is the default
    oldest = _ids(trainer.get_images(cat.pid, take=256, order_by="Oldest"))
    assert newest == oldest[::-1]
    # batches come back in upload order (images within a batch share their upload time)
    assert set(oldest[:15]) == set(cat.only_a) and set(newest[:20]) == set(cat.plain)
    created = [i.created for i in trainer.get_images(cat.pid, take=256, order_by="Oldest")]
    assert created == sorted(created)


def test_get_images_skip_past_the_end(trainer: CustomVisionTrainingClient, cat: Catalogue) -> None:
    assert trainer.get_images(cat.pid, skip=60) == []
    assert len(trainer.get_images(cat.pid, skip=55, take=10)) == 5
    assert trainer.get_images(cat.pid, take=0) == []


@pytest.mark.parametrize("tags, expected", [
    (["a"], ["only_a", "both"]),
    (["b"], ["only_b", "both"]),
    (["a", "b"], ["only_a", "only_b", "both"]),
    ([], ["only_a", "only_b", "both"]),
])
def test_get_tagged_images_tag_filter_and_or(trainer: CustomVisionTrainingClient, cat: Catalogue,
                                             tags: list[str], expected: list[str]) -> None:
    tag_ids = [getattr(cat, t) for t in tags] or None
    want = {i for group in expected for i in getattr(cat, group)}
    assert set(_ids(trainer.get_tagged_images(cat.pid, tag_ids=tag_ids, take=256))) == want
    assert trainer.get_tagged_image_count(cat.pid, tag_ids=tag_ids) == len(want)
    assert trainer.get_image_count(cat.pid, tag_ids=tag_ids, tagging_status="Tagged") == len(want)


@pytest.mark.parametrize("status, groups", [
    ("All", ["only_a", "only_b", "both", "plain"]),
    ("Tagged", ["only_a", "only_b", "both"]),
    ("Untagged", ["plain"]),
])
def test_get_images_tagging_status(trainer: CustomVisionTrainingClient, cat: Catalogue, status: str,
                                   groups: list[str]) -> None:
    want = {i for g in groups for i in getattr(cat, g)}
    assert set(_ids(trainer.get_images(cat.pid, tagging_status=status, take=256))) == want
    assert trainer.get_image_count(cat.pid, tagging_status=status) == len(want)


def test_get_untagged_images_and_count(trainer: CustomVisionTrainingClient, cat: Catalogue) -> None:
    assert set(_ids(trainer.get_untagged_images(cat.pid, take=256))) == set(cat.plain)
    assert trainer.get_untagged_image_count(cat.pid) == 20
    page = _ids(trainer.get_untagged_images(cat.pid, order_by="Oldest", skip=5, take=5))
    assert page == _ids(trainer.get_untagged_images(cat.pid, order_by="Oldest", take=256))[5:10]


@pytest.mark.parametrize("expr, groups", [
    ("colour eq 'red'", ["only_a", "both"]),
    ("colour ne 'red'", ["only_b", "plain"]),
    ("colour eq 'red' and size eq 'l'", ["both"]),
    ("colour eq 'blue' or size eq 's'", ["only_a", "only_b"]),
    ("(colour eq 'red' or colour eq 'blue') and size ne 'l'", ["only_a", "only_b"]),
    ("note eq 'it''s'", ["only_b"]),
    ("'colour' EQ 'red' AND size NE 's'", ["both"]),
    ("colour eq 'RED'", []),
    ("nothing eq 'x'", []),
    ("nothing ne 'x'", ["only_a", "only_b", "both", "plain"]),
])
def test_get_images_metadata_filter(trainer: CustomVisionTrainingClient, cat: Catalogue, expr: str,
                                    groups: list[str]) -> None:
    want = {i for g in groups for i in getattr(cat, g)}
    assert set(_ids(trainer.get_images(cat.pid, filter=expr, take=256))) == want
    assert trainer.get_image_count(cat.pid, filter=expr) == len(want)


def test_get_images_metadata_filter_with_tags(trainer: CustomVisionTrainingClient, cat: Catalogue) -> None:
    got = trainer.get_images(cat.pid, tag_ids=[cat.b], filter="colour eq 'red'", take=256)
    assert set(_ids(got)) == set(cat.both)


def test_get_images_metadata_filter_limit(http: httpx.Client, cat: Catalogue) -> None:
    ok = " or ".join(f"colour eq 'c{i}'" for i in range(64))
    assert http.get(f"/projects/{cat.pid}/images/count", params={"$filter": ok}).json() == 0
    too_many = ok + " or colour eq 'red'"
    assert_error(http.get(f"/projects/{cat.pid}/images/count", params={"$filter": too_many}), 400)


def test_get_images_by_ids_order_and_limits(trainer: CustomVisionTrainingClient, cat: Catalogue,
                                            http: httpx.Client) -> None:
    wanted = [cat.plain[3], cat.only_a[0], cat.plain[3], str(uuid.uuid4())]
    assert _ids(trainer.get_images_by_ids(cat.pid, image_ids=wanted)) == [cat.plain[3], cat.only_a[0]]
    ids = ",".join(cat.all + [str(uuid.uuid4()) for _ in range(196)])
    assert len(http.get(f"/projects/{cat.pid}/images/id", params={"imageIds": ids}).json()) == 60
    assert_error(http.get(f"/projects/{cat.pid}/images/id", params={"imageIds": ids + "," + cat.all[0]}), 400,
                 "BadRequestExceededBatchSize")


def test_image_shape_on_the_wire(http: httpx.Client, cat: Catalogue, trainer: CustomVisionTrainingClient) -> None:
    trainer.create_image_tags(cat.pid, tags=[ImageTagCreateEntry(image_id=cat.plain[0], tag_id=cat.a)])
    try:
        [img] = http.get(f"/projects/{cat.pid}/images/id", params={"imageIds": cat.plain[0]}).json()
        assert set(img) >= {"id", "created", "width", "height", "resizedImageUri", "thumbnailUri", "originalImageUri",
                            "tags", "regions", "metadata"}
        assert img["created"].endswith("Z")
        [tag] = img["tags"]
        assert set(tag) == {"tagId", "tagName", "created"} and tag["tagName"] == "a"
    finally:
        trainer.delete_image_tags(cat.pid, image_ids=[cat.plain[0]], tag_ids=[cat.a])
