"""CreateImagesFromUrls: images fetched from a local HTTP server; redirects, limits and refused targets."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import ImageUrlCreateBatch, ImageUrlCreateEntry

from ..conftest import LiveServer
from .cv_support import make_image


def _cases(live: LiveServer, images: str) -> list[tuple[str, str]]:
    """(url, expected status); ``images`` is the test image server, ``live`` the server under test."""
    port = live.url.rsplit(":", 1)[1]
    return [
        (f"{images}/a.jpg", "OK"),
        (f"{images}/b.png", "OK"),
        (f"{images}/redirect/3/c.jpg", "OK"),
        (f"{images}/redirect/5/d.jpg", "OK"),
        (f"{images}/redirect/6/e.jpg", "ErrorSource"),  # more redirects than allowed
        (f"{images}/loop", "ErrorSource"),
        (f"{images}/missing.gif", "ErrorSource"),  # 404
        (f"{images}/page", "ErrorImageFormat"),
        (f"{images}/big", "ErrorImageSize"),
        ("file:///etc/passwd", "ErrorSource"),
        (f"{images}/to?url={quote('file:///etc/hostname')}", "ErrorSource"),
        ("ftp://127.0.0.1/x.jpg", "ErrorSource"),
        (f"{live.url}/status", "ErrorSource"),  # the server itself
        (f"http://localhost:{port}/status", "ErrorSource"),
        (f"http://0.0.0.0:{port}/status", "ErrorSource"),
        (f"http://[::1]:{port}/status", "ErrorSource"),
        (f"{images}/to?url={quote(live.url + '/status')}", "ErrorSource"),  # redirected to the server
        ("http://127.0.0.1:9/closed.jpg", "ErrorSource"),
        ("http://[::1/broken", "ErrorSource"),
        ("http://127.0.0.1:99999/x.jpg", "ErrorSource"),
        ("http://" + "a" * 70 + ".example/x.jpg", "ErrorSource"),  # label too long for IDNA
        ("   ", "ErrorSource"),
        ("not a url", "ErrorSource"),
    ]


@pytest.fixture(scope="module")
def url_outcome(live: LiveServer, http: httpx.Client, trainer: CustomVisionTrainingClient,
                image_server: str) -> tuple[str, list[tuple[str, str]], httpx.Response]:
    pid = trainer.create_project("urls").id
    cases = _cases(live, image_server)
    r = http.post(f"/projects/{pid}/images/urls", json={"images": [{"url": u} for u, _ in cases]})
    return pid, cases, r


def test_create_images_from_urls_is_207(url_outcome: tuple[str, list[tuple[str, str]], httpx.Response]) -> None:
    _pid, cases, r = url_outcome
    assert r.status_code == 207, r.text
    assert r.json()["isBatchSuccessful"] is False
    assert [i["sourceUrl"] for i in r.json()["images"]] == [u for u, _ in cases]


@pytest.mark.parametrize("index", range(23))
def test_create_images_from_urls_outcome(url_outcome: tuple[str, list[tuple[str, str]], httpx.Response],
                                         index: int) -> None:
    _pid, cases, r = url_outcome
    url, expected = cases[index]
    result = r.json()["images"][index]
    assert result["status"] == expected, (url, result.get("message"))
    assert (result["image"] is not None) == expected.startswith("OK")


def test_create_images_from_urls_stores_fetched_bytes(
        url_outcome: tuple[str, list[tuple[str, str]], httpx.Response], image_server: str) -> None:
    _pid, _cases, r = url_outcome
    first = r.json()["images"][0]
    served = httpx.get(f"{image_server}/a.jpg").content
    assert httpx.get(first["image"]["originalImageUri"]).content == served


def test_create_images_from_urls_signed_link_of_own_image_refused(
        trainer: CustomVisionTrainingClient, image_server: str) -> None:
    pid = trainer.create_project("own link").id
    img = trainer.create_images_from_data(pid, make_image(500)).images[0].image
    batch = ImageUrlCreateBatch(images=[ImageUrlCreateEntry(url=img.original_image_uri)])
    result = trainer.create_images_from_urls(pid, batch).images[0]
    assert result.status == "ErrorSource" and result.image is None
    assert trainer.get_image_count(pid) == 1


def test_create_images_from_urls_tags_and_duplicates(
        trainer: CustomVisionTrainingClient, image_server: str) -> None:
    pid = trainer.create_project("url tags").id
    tag = trainer.create_tag(pid, "t").id
    batch = ImageUrlCreateBatch(
        images=[ImageUrlCreateEntry(url=f"{image_server}/x.jpg"),
                ImageUrlCreateEntry(url=f"{image_server}/redirect/1/x.jpg")],
        tag_ids=[tag], metadata={"from": "url"},
    )
    summary = trainer.create_images_from_urls(pid, batch)
    assert [i.status for i in summary.images] == ["OK", "OKDuplicate"]
    img = summary.images[0].image
    assert [t.tag_id for t in img.tags] == [tag] and img.metadata == {"from": "url"}
    assert summary.images[1].image.id == img.id
