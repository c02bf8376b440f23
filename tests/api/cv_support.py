"""Helpers of the Training API tests: SDK and raw clients on both base paths, images, blob listing.

A plain module (not the conftest) so that test modules can import it by name.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from ..conftest import LiveServer

# SDK 3.1.1 calls v3.4-preview; SDK 3.0.0 (and Microsoft's curl examples) call v3.3.
V34 = "/customvision/v3.4-preview/training"
V33 = "/customvision/v3.3/training"
BASE_PATHS = (V34, V33)


def sdk_client(live: LiveServer, key: str, base_path: str = V34) -> CustomVisionTrainingClient:
    """The official SDK client; ``base_path`` replaces the one it was generated with."""
    client = CustomVisionTrainingClient(live.url, ApiKeyCredentials(in_headers={"Training-key": key}))
    client.config.base_url = "{Endpoint}" + base_path
    return client


def raw_client(live: LiveServer, key: str | None, base_path: str = V34) -> httpx.Client:
    headers = {"Training-Key": key} if key else {}
    return httpx.Client(base_url=live.url + base_path, headers=headers, timeout=30)


_downloads = httpx.Client(timeout=30)


def download(url: str) -> httpx.Response:
    """GET a signed link without any key, on one shared keep-alive connection."""
    return _downloads.get(url)


def make_image(
    seed: int = 0, size: tuple[int, int] = (320, 240), fmt: str = "JPEG", mode: str = "RGB", **save: object
) -> bytes:
    """A small distinct picture: a background with a few random rectangles (same seed, same bytes)."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = rng.randrange(max(1, size[0] // 2)), rng.randrange(max(1, size[1] // 2))
        x1, y1 = x0 + rng.randrange(1, max(2, size[0] // 2)), y0 + rng.randrange(1, max(2, size[1] // 2))
        d.rectangle([x0, y0, x1, y1], fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def upload(
    trainer: CustomVisionTrainingClient, project_id: str, seeds: range | list[int],
    tag_ids: list[str] | None = None, metadata: dict[str, str] | None = None,
) -> list[str]:
    """Upload one distinct JPEG per seed through the SDK; returns the new image ids in order."""
    entries = [ImageFileCreateEntry(name=f"{s}.jpg", contents=make_image(s)) for s in seeds]
    summary = trainer.create_images_from_files(
        project_id, ImageFileCreateBatch(images=entries, tag_ids=tag_ids, metadata=metadata)
    )
    assert summary.is_batch_successful, [i.status for i in summary.images]
    return [i.image.id for i in summary.images]


def blob_files(live: LiveServer) -> list[str]:
    """Every file under the blob folder, relative to it."""
    root = Path(live.settings.data_dir) / "blobs"
    out: list[str] = []
    for folder, _dirs, files in os.walk(root):
        out += [os.path.relpath(os.path.join(folder, f), root) for f in files]
    return out


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    """The answer is exactly ``{"code", "message"}`` with this status (and this code, when given)."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert set(body) == {"code", "message"}, body
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body
