"""Labels on stored images: image tags, regions and metadata, with their limits and partial outcomes."""

from __future__ import annotations

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageRegionCreateEntry,
    ImageTagCreateEntry,
)

from .cv_support import assert_error, upload


@pytest.fixture(scope="module")
def od(trainer: CustomVisionTrainingClient) -> dict[str, str]:
    pid = trainer.create_project("labels", domain_id="da2e3a8a-40a5-4171-82f4-58522f70fbc1").id
    return {
        "pid": pid,
        "tag": trainer.create_tag(pid, "thing").id,
        "neg": trainer.create_tag(pid, "none", type="Negative").id,
    }


def test_create_image_tags_negative_with_regular_refused(trainer: CustomVisionTrainingClient,
                                                         od: dict[str, str]) -> None:
    [img] = upload(trainer, od["pid"], [800], tag_ids=[od["tag"]])
    with pytest.raises(CustomVisionErrorException) as exc:
        trainer.create_image_tags(od["pid"], tags=[ImageTagCreateEntry(image_id=img, tag_id=od["neg"])])
    assert (exc.value.response.status_code, exc.value.error.code) == (400, "BadRequestNegativeAndRegularTagOnSameImage")
    assert [t.tag_id for t in trainer.get_images_by_ids(od["pid"], image_ids=[img])[0].tags] == [od["tag"]]


def test_create_image_tags_exceeded_past_100_tags(trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("100 tags").id
    tags = [trainer.create_tag(pid, f"t{i}").id for i in range(101)]
    [img] = upload(trainer, pid, [801])
    first = trainer.create_image_tags(pid, tags=[ImageTagCreateEntry(image_id=img, tag_id=t) for t in tags[:100]])
    assert len(first.created) == 100
    more = trainer.create_image_tags(pid, tags=[ImageTagCreateEntry(image_id=img, tag_id=tags[100])])
    assert not more.created and [e.tag_id for e in more.exceeded] == [tags[100]]


def test_create_image_regions_negative_tag_refused(http: httpx.Client, trainer: CustomVisionTrainingClient,
                                                   od: dict[str, str]) -> None:
    [img] = upload(trainer, od["pid"], [802])
    body = {"regions": [{"imageId": img, "tagId": od["neg"], "left": 0, "top": 0, "width": 0.5, "height": 0.5}]}
    assert_error(http.post(f"/projects/{od['pid']}/images/regions", json=body), 400, "BadRequestImageRegions")


def test_create_image_regions_exceeded_past_300(http: httpx.Client, trainer: CustomVisionTrainingClient,
                                                od: dict[str, str]) -> None:
    [img] = upload(trainer, od["pid"], [803])
    regions = [{"imageId": img, "tagId": od["tag"], "left": i / 400, "top": 0, "width": 0.001, "height": 0.5}
               for i in range(301)]
    for start in range(0, 256, 64):
        r = http.post(f"/projects/{od['pid']}/images/regions", json={"regions": regions[start:start + 64]})
        assert r.status_code == 200 and len(r.json()["created"]) == 64
    r = http.post(f"/projects/{od['pid']}/images/regions", json={"regions": regions[256:]})
    assert r.status_code == 207
    assert len(r.json()["created"]) == 44 and len(r.json()["exceeded"]) == 1
    assert len(trainer.get_images_by_ids(od["pid"], image_ids=[img])[0].regions) == 300


def test_delete_image_regions_unknown_and_foreign(http: httpx.Client, trainer: CustomVisionTrainingClient,
                                                  od: dict[str, str]) -> None:
    [img] = upload(trainer, od["pid"], [804])
    created = trainer.create_image_regions(od["pid"], regions=[
        ImageRegionCreateEntry(image_id=img, tag_id=od["tag"], left=0, top=0, width=0.2, height=0.2)]).created[0]
    other = trainer.create_project("other").id
    assert_error(http.delete(f"/projects/{other}/images/regions", params={"regionIds": created.region_id}), 404)
    assert len(trainer.get_images_by_ids(od["pid"], image_ids=[img])[0].regions) == 1


def test_region_counts_as_tagged(trainer: CustomVisionTrainingClient, od: dict[str, str]) -> None:
    pid = trainer.create_project("region tagged", domain_id="da2e3a8a-40a5-4171-82f4-58522f70fbc1").id
    tag = trainer.create_tag(pid, "x").id
    [img] = upload(trainer, pid, [805])
    assert trainer.get_untagged_image_count(pid) == 1
    trainer.create_image_regions(pid, regions=[
        ImageRegionCreateEntry(image_id=img, tag_id=tag, left=0, top=0, width=1, height=1)])
    assert (trainer.get_tagged_image_count(pid), trainer.get_untagged_image_count(pid)) == (1, 0)
    assert [i.id for i in trainer.get_tagged_images(pid, tag_ids=[tag])] == [img]


def test_update_image_metadata_limit_per_image(http: httpx.Client, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("metadata limit").id
    full, empty = upload(trainer, pid, [806], metadata={f"k{i}": "v" for i in range(50)}) + upload(trainer, pid, [807])
    r = http.post(f"/projects/{pid}/images/metadata", params={"imageIds": f"{full},{empty}"}, json={"new": "1"})
    assert r.status_code == 207
    assert [(i["imageId"], i["status"]) for i in r.json()["images"]] == [(full, "ErrorLimitExceed"), (empty, "OK")]
    # an existing key is overwritten, which does not count against the limit
    r = http.post(f"/projects/{pid}/images/metadata", params={"imageIds": full}, json={"k0": "changed"})
    assert r.status_code == 200 and r.json()["images"][0]["metadata"]["k0"] == "changed"


def test_negative_tag_stays_alone(http: httpx.Client, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("negative alone", domain_id="da2e3a8a-40a5-4171-82f4-58522f70fbc1").id
    neg, reg, other = (trainer.create_tag(pid, n, type=t).id
                       for n, t in (("none", "Negative"), ("thing", "Regular"), ("other", "Regular")))
    [negative_img] = upload(trainer, pid, [810], tag_ids=[neg])
    [boxed_img] = upload(trainer, pid, [811])
    box = {"left": 0, "top": 0, "width": 0.5, "height": 0.5}
    r = http.post(f"/projects/{pid}/images/regions", json={"regions": [{"imageId": negative_img, "tagId": reg, **box}]})
    assert_error(r, 400, "BadRequestNegativeAndRegularTagOnSameImage")
    trainer.create_image_regions(pid, regions=[ImageRegionCreateEntry(image_id=boxed_img, tag_id=reg, **box)])
    r = http.post(f"/projects/{pid}/images/tags", json={"tags": [{"imageId": boxed_img, "tagId": neg}]})
    assert_error(r, 400, "BadRequestNegativeAndRegularTagOnSameImage")
    # a tag can become Negative only while it is its images' only label
    r = http.patch(f"/projects/{pid}/tags/{reg}", json={"type": "Negative"})
    assert_error(r, 400)
    http.delete(f"/projects/{pid}/tags/{neg}")
    [a, b] = upload(trainer, pid, [812, 813], tag_ids=[other])
    trainer.create_image_tags(pid, tags=[ImageTagCreateEntry(image_id=a, tag_id=reg)])
    assert_error(http.patch(f"/projects/{pid}/tags/{other}", json={"type": "Negative"}), 400,
                 "BadRequestNegativeAndRegularTagOnSameImage")
    trainer.delete_image_tags(pid, image_ids=[a], tag_ids=[reg])
    r = http.patch(f"/projects/{pid}/tags/{other}", json={"type": "Negative"})
    assert r.status_code == 200 and r.json()["type"] == "Negative"
