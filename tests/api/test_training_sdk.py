"""Every domain, project, tag, image and label operation through the official SDK, on both base paths.

SDK 3.1.1 calls /customvision/v3.4-preview/training; the same client is pointed at /customvision/v3.3/training
(what SDK 3.0.0 calls) by replacing its base URL, so each test runs once per base path.
"""

from __future__ import annotations

import io

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageRegionCreateEntry,
    ImageTagCreateEntry,
    ImageUrlCreateBatch,
    ImageUrlCreateEntry,
    Region,
)
from PIL import Image

from .cv_support import BASE_PATHS, V33, make_image, sdk_client, upload

GENERAL_IC = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
GENERAL_OD = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
COMPACT_IC = "0732100f-1a38-4e49-a514-c9b44c697ab5"


@pytest.fixture(scope="module", params=BASE_PATHS, ids=["v3.4-preview", "v3.3"])
def cv(request: pytest.FixtureRequest, live, keys) -> CustomVisionTrainingClient:  # noqa: ANN001
    return sdk_client(live, keys.training_key, request.param)


def _error(exc: pytest.ExceptionInfo[CustomVisionErrorException]) -> tuple[int, str]:
    return exc.value.response.status_code, exc.value.error.code


def test_sdk_base_path_is_used(cv: CustomVisionTrainingClient) -> None:
    assert cv.config.base_url.endswith(("/v3.4-preview/training", "/v3.3/training"))


def test_get_domains_standard_set(cv: CustomVisionTrainingClient) -> None:
    domains = cv.get_domains()
    assert len(domains) == 18
    by_id = {d.id: d for d in domains}
    assert (by_id[GENERAL_IC].name, by_id[GENERAL_IC].type, by_id[GENERAL_IC].exportable) == (
        "General", "Classification", False)
    assert (by_id[GENERAL_OD].name, by_id[GENERAL_OD].type) == ("General", "ObjectDetection")
    assert by_id[COMPACT_IC].exportable and by_id[COMPACT_IC].name == "General (compact)"
    # the quickstart's way of finding the detection domain
    assert next(d for d in domains if d.type == "ObjectDetection" and d.name == "General").id == GENERAL_OD


def test_get_domain_by_id(cv: CustomVisionTrainingClient) -> None:
    d = cv.get_domain(COMPACT_IC)
    assert (d.id, d.name, d.type, d.exportable, d.enabled) == (
        COMPACT_IC, "General (compact)", "Classification", True, True)


def test_get_domain_unknown(cv: CustomVisionTrainingClient) -> None:
    with pytest.raises(CustomVisionErrorException) as exc:
        cv.get_domain("00000000-0000-0000-0000-000000000000")
    assert _error(exc) == (404, "NotFoundDomain")


def test_project_lifecycle(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("life", description="first", domain_id=COMPACT_IC, classification_type="Multilabel",
                          target_export_platforms=["ONNX", "CoreML"])
    assert (p.name, p.description, p.settings.domain_id, p.settings.classification_type) == (
        "life", "first", COMPACT_IC, "Multilabel")
    assert sorted(p.settings.target_export_platforms) == ["CoreML", "ONNX"]
    assert p.created is not None and p.last_modified is not None

    assert p.id in [x.id for x in cv.get_projects()]
    got = cv.get_project(p.id)
    assert (got.id, got.name) == (p.id, "life")

    got.name, got.description = "renamed", "second"
    got.settings.classification_type = "Multiclass"
    updated = cv.update_project(p.id, got)
    assert (updated.name, updated.description, updated.settings.classification_type) == (
        "renamed", "second", "Multiclass")
    assert cv.get_project(p.id).name == "renamed"

    cv.delete_project(p.id)
    assert p.id not in [x.id for x in cv.get_projects()]
    with pytest.raises(CustomVisionErrorException) as exc:
        cv.get_project(p.id)
    assert _error(exc) == (404, "NotFoundProject")


def test_create_project_defaults(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("defaults")
    assert (p.settings.domain_id, p.settings.classification_type, p.description) == (GENERAL_IC, "Multiclass", "")
    od = cv.create_project("od", domain_id=GENERAL_OD)
    assert od.settings.domain_id == GENERAL_OD


def test_tag_lifecycle(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("tags")
    cat = cv.create_tag(p.id, "cat", description="meow")
    neg = cv.create_tag(p.id, "nothing", type="Negative")
    assert (cat.name, cat.description, cat.type, cat.image_count) == ("cat", "meow", "Regular", 0)
    assert neg.type == "Negative"
    assert [t.name for t in cv.get_tags(p.id)] == ["cat", "nothing"]
    assert cv.get_tag(p.id, cat.id).name == "cat"

    cat.name, cat.description = "kitten", "small"
    updated = cv.update_tag(p.id, cat.id, cat)
    assert (updated.id, updated.name, updated.description) == (cat.id, "kitten", "small")

    cv.delete_tag(p.id, neg.id)
    assert [t.id for t in cv.get_tags(p.id)] == [cat.id]
    with pytest.raises(CustomVisionErrorException) as exc:
        cv.get_tag(p.id, neg.id)
    assert _error(exc) == (404, "NotFoundTag")


def test_create_images_from_data(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("data")
    tag = cv.create_tag(p.id, "t")
    summary = cv.create_images_from_data(p.id, make_image(1), tag_ids=[tag.id])
    assert summary.is_batch_successful
    [result] = summary.images
    assert result.status == "OK"
    img = result.image
    assert (img.width, img.height) == (320, 240)
    assert [t.tag_id for t in img.tags] == [tag.id]
    assert cv.get_tag(p.id, tag.id).image_count == 1


def test_create_images_from_files(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("files", domain_id=GENERAL_OD)
    fork = cv.create_tag(p.id, "fork")
    batch = ImageFileCreateBatch(
        images=[
            ImageFileCreateEntry(name="a.jpg", contents=make_image(2),
                                 regions=[Region(tag_id=fork.id, left=0.1, top=0.2, width=0.3, height=0.4)]),
            ImageFileCreateEntry(name="b.png", contents=make_image(3, fmt="PNG"), tag_ids=[fork.id]),
        ],
        metadata={"source": "test"},
    )
    summary = cv.create_images_from_files(p.id, batch)
    assert summary.is_batch_successful
    assert [i.source_url for i in summary.images] == ["a.jpg", "b.png"]
    first = summary.images[0].image
    [region] = first.regions
    assert (region.tag_id, region.tag_name, region.left, region.top, region.width, region.height) == (
        fork.id, "fork", 0.1, 0.2, 0.3, 0.4)
    assert first.metadata == {"source": "test"}


def test_create_images_from_urls(cv: CustomVisionTrainingClient, image_server: str) -> None:
    p = cv.create_project("urls")
    tag = cv.create_tag(p.id, "u")
    batch = ImageUrlCreateBatch(images=[ImageUrlCreateEntry(url=f"{image_server}/a.jpg", tag_ids=[tag.id])])
    summary = cv.create_images_from_urls(p.id, batch)
    assert summary.is_batch_successful
    assert summary.images[0].source_url == f"{image_server}/a.jpg"
    assert summary.images[0].image.tags[0].tag_id == tag.id


def test_image_listing_and_counts(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("listing")
    a, b = cv.create_tag(p.id, "a"), cv.create_tag(p.id, "b")
    tagged_a = upload(cv, p.id, range(10, 13), tag_ids=[a.id], metadata={"k": "v"})
    tagged_b = upload(cv, p.id, range(13, 15), tag_ids=[b.id])
    untagged = upload(cv, p.id, range(15, 19))

    assert cv.get_image_count(p.id) == 9
    assert cv.get_tagged_image_count(p.id) == 5
    assert cv.get_tagged_image_count(p.id, tag_ids=[b.id]) == 2
    assert cv.get_untagged_image_count(p.id) == 4
    assert cv.get_image_count(p.id, tagging_status="Untagged") == 4
    assert cv.get_image_count(p.id, filter="k eq 'v'") == 3

    assert {i.id for i in cv.get_images(p.id, take=256)} == set(tagged_a + tagged_b + untagged)
    assert {i.id for i in cv.get_images(p.id, tagging_status="Tagged", tag_ids=[a.id])} == set(tagged_a)
    assert {i.id for i in cv.get_images(p.id, filter="k ne 'v'")} == set(tagged_b + untagged)
    assert {i.id for i in cv.get_tagged_images(p.id)} == set(tagged_a + tagged_b)
    assert {i.id for i in cv.get_tagged_images(p.id, tag_ids=[a.id, b.id])} == set(tagged_a + tagged_b)
    assert {i.id for i in cv.get_untagged_images(p.id)} == set(untagged)

    newest = [i.id for i in cv.get_images(p.id, order_by="Newest")]
    oldest = [i.id for i in cv.get_images(p.id, order_by="Oldest")]
    assert newest == oldest[::-1]
    assert set(newest[:4]) == set(untagged) and set(oldest[:3]) == set(tagged_a)
    page = [i.id for i in cv.get_images(p.id, order_by="Oldest", skip=3, take=2)]
    assert page == oldest[3:5]

    by_ids = cv.get_images_by_ids(p.id, image_ids=[untagged[1], tagged_a[0]])
    assert [i.id for i in by_ids] == [untagged[1], tagged_a[0]]


def test_image_tags_create_and_delete(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("image tags")
    a, b = cv.create_tag(p.id, "a"), cv.create_tag(p.id, "b")
    [img] = upload(cv, p.id, [20])
    summary = cv.create_image_tags(p.id, tags=[
        ImageTagCreateEntry(image_id=img, tag_id=a.id), ImageTagCreateEntry(image_id=img, tag_id=b.id)])
    assert {(c.image_id, c.tag_id) for c in summary.created} == {(img, a.id), (img, b.id)}
    again = cv.create_image_tags(p.id, tags=[ImageTagCreateEntry(image_id=img, tag_id=a.id)])
    assert not again.created and [(d.image_id, d.tag_id) for d in again.duplicated] == [(img, a.id)]
    assert {t.tag_id for t in cv.get_images_by_ids(p.id, image_ids=[img])[0].tags} == {a.id, b.id}

    cv.delete_image_tags(p.id, image_ids=[img], tag_ids=[a.id])
    assert [t.tag_id for t in cv.get_images_by_ids(p.id, image_ids=[img])[0].tags] == [b.id]
    cv.delete_image_tags(p.id, image_ids=[img], tag_ids=[b.id])
    assert cv.get_untagged_image_count(p.id) == 1


def test_image_regions_create_and_delete(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("regions", domain_id=GENERAL_OD)
    tag = cv.create_tag(p.id, "box")
    [img] = upload(cv, p.id, [21])
    entry = ImageRegionCreateEntry(image_id=img, tag_id=tag.id, left=0.25, top=0.5, width=0.5, height=0.25)
    summary = cv.create_image_regions(p.id, regions=[entry])
    [created] = summary.created
    assert (created.image_id, created.tag_id, created.tag_name, created.left, created.height) == (
        img, tag.id, "box", 0.25, 0.25)
    assert created.region_id
    dup = cv.create_image_regions(p.id, regions=[entry])
    assert not dup.created and len(dup.duplicated) == 1
    assert cv.get_tagged_image_count(p.id) == 1
    assert cv.get_tag(p.id, tag.id).image_count == 1

    cv.delete_image_regions(p.id, [created.region_id])
    assert cv.get_images_by_ids(p.id, image_ids=[img])[0].regions is None
    assert cv.get_untagged_image_count(p.id) == 1


def test_update_image_metadata(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("metadata")
    ids = upload(cv, p.id, [22, 23], metadata={"keep": "1"})
    summary = cv.update_image_metadata(p.id, ids, {"color": "red", "keep": "2"})
    assert summary.is_batch_successful
    assert [(i.image_id, i.status, i.metadata) for i in summary.images] == [
        (i, "OK", {"keep": "2", "color": "red"}) for i in ids]
    assert cv.get_image_count(p.id, filter="color eq 'red' and keep eq '2'") == 2

    missing = "11111111-1111-1111-1111-111111111111"
    partial = cv.update_image_metadata(p.id, [ids[0], missing], {"x": "y"})
    assert not partial.is_batch_successful
    assert [(i.image_id, i.status) for i in partial.images] == [(ids[0], "OK"), (missing, "ErrorImageNotFound")]


def test_delete_images_by_ids_and_all(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("delete")
    ids = upload(cv, p.id, range(24, 28))
    cv.delete_images(p.id, image_ids=ids[:2])
    assert {i.id for i in cv.get_images(p.id)} == set(ids[2:])
    cv.delete_images(p.id, all_images=True, all_iterations=True)
    assert cv.get_image_count(p.id) == 0


def test_image_links_download_without_key(cv: CustomVisionTrainingClient) -> None:
    p = cv.create_project("links")
    data = make_image(29, size=(200, 100))
    img = cv.create_images_from_data(p.id, data).images[0].image
    original = httpx.get(img.original_image_uri)
    assert original.status_code == 200 and original.content == data
    resized = Image.open(io.BytesIO(httpx.get(img.resized_image_uri).content))
    assert min(resized.size) >= 256  # a 100 px image is upscaled for training
    thumb = Image.open(io.BytesIO(httpx.get(img.thumbnail_uri).content))
    assert max(thumb.size) <= 256


def test_v33_path_case_insensitive(live, keys) -> None:  # noqa: ANN001
    # Microsoft's curl examples write /Training/ with a capital T
    r = httpx.get(live.url + V33.replace("training", "Training") + "/domains",
                  headers={"training-key": keys.training_key})
    assert r.status_code == 200 and len(r.json()) == 18
