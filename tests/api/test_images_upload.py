"""Uploads: per-image outcomes (207 for a partly bad batch), formats, sizes, duplicates, multipart."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from PIL import Image

from .cv_support import assert_error, download, make_image

MB = 1024 * 1024


def _exif_rotated_jpeg() -> bytes:
    img = Image.open(io.BytesIO(make_image(7, size=(320, 240))))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise on display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (300, 300), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _sixteen_bit_png() -> bytes:
    img = Image.new("I;16", (300, 260))
    img.putdata([(x * 199) % 65536 for x in range(300 * 260)])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _flat(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 90).save(buf, fmt)
    return buf.getvalue()


# name, bytes, expected status, expected (width, height) when stored
CASES: list[tuple[str, bytes, str, tuple[int, int] | None]] = [
    ("jpeg", make_image(100), "OK", (320, 240)),
    ("png rgba", make_image(101, mode="RGBA", fmt="PNG"), "OK", (320, 240)),
    ("png palette", make_image(102, mode="P", fmt="PNG"), "OK", (320, 240)),
    ("png 16 bit", _sixteen_bit_png(), "OK", (300, 260)),
    ("png 1 bit", make_image(103, mode="1", fmt="PNG"), "OK", (320, 240)),
    ("png grey alpha", make_image(104, mode="LA", fmt="PNG"), "OK", (320, 240)),
    ("jpeg grey", make_image(105, mode="L"), "OK", (320, 240)),
    ("jpeg cmyk", make_image(106, mode="CMYK"), "OK", (320, 240)),
    ("bmp", make_image(107, fmt="BMP"), "OK", (320, 240)),
    ("gif animated", _animated_gif(), "OK", (300, 300)),
    ("webp", make_image(108, fmt="WEBP"), "OK", (320, 240)),
    ("jpeg exif rotated", _exif_rotated_jpeg(), "OK", (240, 320)),
    ("small 64x48", make_image(109, size=(64, 48)), "OK", (64, 48)),
    ("aspect 25:1", _flat((500, 20)), "OK", (500, 20)),
    ("aspect 26:1", _flat((520, 20)), "ErrorImageDimensions", None),
    ("side 10241", _flat((10241, 600)), "ErrorImageDimensions", None),
    ("over 6 MB", make_image(110) + b"\0" * (6 * MB), "ErrorImageSize", None),
    ("tiff", make_image(111, fmt="TIFF"), "ErrorImageFormat", None),
    ("ico", make_image(112, size=(64, 64), fmt="ICO"), "ErrorImageFormat", None),
    ("not an image", b"hello, world" * 100, "ErrorImageFormat", None),
    ("truncated jpeg", make_image(113)[:2000], "ErrorImageFormat", None),
    ("empty", b"", "ErrorImageFormat", None),
]


@pytest.fixture(scope="module")
def outcome(trainer: CustomVisionTrainingClient, http: httpx.Client) -> tuple[str, httpx.Response]:
    """One batch of every case through CreateImagesFromFiles, raw, to see the status code too."""
    pid = trainer.create_project("outcomes").id
    images = [{"name": name, "contents": base64.b64encode(data).decode()} for name, data, _s, _d in CASES]
    return pid, http.post(f"/projects/{pid}/images/files", json={"images": images})


def test_create_images_mixed_batch_is_207(outcome: tuple[str, httpx.Response]) -> None:
    _pid, r = outcome
    assert r.status_code == 207
    body = r.json()
    assert body["isBatchSuccessful"] is False
    assert [i["sourceUrl"] for i in body["images"]] == [c[0] for c in CASES]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_create_images_outcome_per_image(outcome: tuple[str, httpx.Response], index: int) -> None:
    name, _data, status, dims = CASES[index]
    result = outcome[1].json()["images"][index]
    assert result["status"] == status, (name, result.get("message"))
    if dims is None:
        assert result["image"] is None
    else:
        assert (result["image"]["width"], result["image"]["height"]) == dims


def test_create_images_good_ones_are_stored(trainer: CustomVisionTrainingClient,
                                            outcome: tuple[str, httpx.Response]) -> None:
    pid, r = outcome
    ok_ids = {i["image"]["id"] for i in r.json()["images"] if i["status"] == "OK"}
    assert ok_ids and {i.id for i in trainer.get_images(pid, take=256)} == ok_ids


def test_stored_copies_are_downloadable(outcome: tuple[str, httpx.Response]) -> None:
    for result in outcome[1].json()["images"]:
        if result["status"] != "OK":
            continue
        img = result["image"]
        original = download(img["originalImageUri"])
        assert original.status_code == 200
        assert original.content == dict((c[0], c[1]) for c in CASES)[result["sourceUrl"]]
        resized = Image.open(io.BytesIO(download(img["resizedImageUri"]).content))
        assert resized.mode == "RGB" and min(resized.size) >= min(256, *resized.size)
        assert abs(resized.size[0] / resized.size[1] - img["width"] / img["height"]) < 0.05
        thumb = Image.open(io.BytesIO(download(img["thumbnailUri"]).content))
        assert thumb.format == "JPEG" and max(thumb.size) <= 256


def test_create_images_duplicates(trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("dupes").id
    first = trainer.create_images_from_data(pid, make_image(200)).images[0]
    assert first.status == "OK"
    batch = ImageFileCreateBatch(images=[
        ImageFileCreateEntry(name="again", contents=make_image(200)),
        ImageFileCreateEntry(name="new", contents=make_image(201)),
        ImageFileCreateEntry(name="new twice", contents=make_image(201)),
    ])
    summary = trainer.create_images_from_files(pid, batch)
    assert summary.is_batch_successful  # duplicates are not errors
    again, new, twice = summary.images
    assert (again.status, again.image.id) == ("OKDuplicate", first.image.id)
    assert new.status == "OK" and (twice.status, twice.image.id) == ("OKDuplicate", new.image.id)
    assert trainer.get_image_count(pid) == 2
    # the same bytes in another project are a new image there
    other = trainer.create_project("dupes elsewhere").id
    assert trainer.create_images_from_data(other, make_image(200)).images[0].status == "OK"


def test_create_images_from_data_multipart_parts(http: httpx.Client, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("multipart").id
    files = [("imageData", (None, make_image(300))), ("imageData", ("b.png", make_image(301, fmt="PNG"), "image/png")),
             ("other", (None, b"not an image"))]
    r = http.post(f"/projects/{pid}/images", files=files)
    assert r.status_code == 207
    assert [i["status"] for i in r.json()["images"]] == ["OK", "OK", "ErrorImageFormat"]


@pytest.mark.parametrize("ctype", ["application/octet-stream", "image/jpeg", None])
def test_create_images_from_data_raw_body(http: httpx.Client, trainer: CustomVisionTrainingClient,
                                          ctype: str | None) -> None:
    pid = trainer.create_project("raw").id
    headers = {"Content-Type": ctype} if ctype else {}
    r = http.post(f"/projects/{pid}/images", content=make_image(310), headers=headers)
    assert r.status_code == 200 and r.json()["images"][0]["status"] == "OK"


def test_create_images_tag_rules(http: httpx.Client, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("tag rules", domain_id="da2e3a8a-40a5-4171-82f4-58522f70fbc1").id
    neg = trainer.create_tag(pid, "none", type="Negative").id
    reg = trainer.create_tag(pid, "thing").id
    box = {"left": 0, "top": 0, "width": 0.5, "height": 0.5}
    images = [
        {"name": "neg+reg", "contents": base64.b64encode(make_image(320)).decode(), "tagIds": [neg, reg]},
        {"name": "neg region", "contents": base64.b64encode(make_image(321)).decode(),
         "regions": [{"tagId": neg, **box}]},
        {"name": "neg only", "contents": base64.b64encode(make_image(322)).decode(), "tagIds": [neg]},
        {"name": "region", "contents": base64.b64encode(make_image(323)).decode(), "regions": [{"tagId": reg, **box}]},
        {"name": "unknown tag", "contents": base64.b64encode(make_image(324)).decode(),
         "tagIds": ["8a1b1c9e-3d5e-4f11-8e8e-0d6a9a4a1a11"]},
        {"name": "no contents"},
    ]
    r = http.post(f"/projects/{pid}/images/files", json={"images": images})
    assert r.status_code == 207
    assert [i["status"] for i in r.json()["images"]] == [
        "ErrorNegativeAndRegularTagOnSameImage", "ErrorInvalidTag", "OK", "OK",
        "ErrorInvalidTag", "ErrorSource"]


def test_create_images_too_many_tags_on_one_image(http: httpx.Client, trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("many tags").id
    tags = [trainer.create_tag(pid, f"t{i}").id for i in range(21)]
    images = [{"contents": base64.b64encode(make_image(330)).decode(), "tagIds": tags},
              {"contents": base64.b64encode(make_image(331)).decode(), "tagIds": tags[:20]}]
    r = http.post(f"/projects/{pid}/images/files", json={"images": images})
    assert r.status_code == 207
    assert [i["status"] for i in r.json()["images"]] == ["ErrorTagLimitExceed", "OK"]


def test_create_images_batch_of_64(trainer: CustomVisionTrainingClient) -> None:
    pid = trainer.create_project("64").id
    entries = [ImageFileCreateEntry(name=str(i), contents=make_image(400 + i, size=(64, 64))) for i in range(64)]
    summary = trainer.create_images_from_files(pid, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful and len(summary.images) == 64
    assert trainer.get_image_count(pid) == 64


def test_create_images_in_missing_project(http: httpx.Client) -> None:
    r = http.post("/projects/3c1b8f6e-0000-4000-8000-000000000000/images", content=make_image(1),
                  headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 404, "NotFoundProject")


def test_create_images_concurrent_same_bytes(live, keys, trainer: CustomVisionTrainingClient) -> None:  # noqa: ANN001
    pid = trainer.create_project("concurrent").id
    same, others = make_image(900), [make_image(901 + i) for i in range(8)]

    def send(i: int) -> list[str]:
        with httpx.Client(base_url=live.url + "/customvision/v3.4-preview/training",
                          headers={"Training-Key": keys.training_key}, timeout=60) as c:
            files = [("imageData", (None, same)), ("imageData", (None, others[i]))]
            r = c.post(f"/projects/{pid}/images", files=files)
            assert r.status_code == 200, r.text
            return [(i["status"], i["image"]["id"]) for i in r.json()["images"]]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    same_results = [r[0] for r in results]
    assert sorted(s for s, _ in same_results).count("OK") == 1
    assert len({image_id for _, image_id in same_results}) == 1  # every duplicate names the one stored image
    assert all(r[1][0] == "OK" for r in results)
    assert trainer.get_image_count(pid) == 9
