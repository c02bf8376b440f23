"""Fixtures of the portal tests: a headless Chromium driven by Playwright over a live server.

The tests skip (with the reason) when Playwright or Chromium is missing. They use the system
Chromium (Debian's ``chromium`` package), never a browser downloaded by ``playwright install``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ownvision.services.accounts import AccountKeys

from ..conftest import LiveServer
from ..training.conftest import picture, trainer_server  # noqa: F401  (fixture re-exported for these tests)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TRAINING = "/customvision/v3.3/training"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("OWNVISION_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the portal tests need Playwright (pip install playwright)")
    path = chromium_path()
    if path is None:
        pytest.skip("the portal tests need Chromium (apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Portal:
    """A browser page on the portal of one server, signed in as one account."""

    page: Any
    server: LiveServer
    keys: AccountKeys
    errors: list[str]

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url + TRAINING, headers={"Training-Key": self.keys.training_key},
                            timeout=30)

    def go(self, hash_path: str) -> None:
        self.page.goto(f"{self.server.url}/#{hash_path}")

    def sign_in(self, prediction: bool = False) -> None:
        self.page.goto(self.server.url + "/")
        self.page.fill("#training-key", self.keys.training_key)
        if prediction:
            self.page.fill("#prediction-key", self.keys.prediction_key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", name="Projects", exact=True).wait_for()


def open_portal(browser: Any, server: LiveServer, keys: AccountKeys | None = None,
                viewport: tuple[int, int] = (1280, 800)) -> tuple[Any, Portal]:
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    # The browser logs every 4xx answer as "Failed to load resource"; the tests provoke some on purpose.
    page.on("console", lambda msg: errors.append(f"console: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text else None)
    return context, Portal(page, server, keys or server.new_account(), errors)


@pytest.fixture()
def portal(browser: Any, live: LiveServer) -> Iterator[Portal]:
    """A fresh account, signed out, on a server without a worker."""
    context, p = open_portal(browser, live)
    yield p
    context.close()
    assert not p.errors, p.errors


def upload_images(portal: Portal, project_id: str, images: list[tuple[str, bytes]],
                  tag_ids: list[str] | None = None) -> list[str]:
    """Upload through the API (for tests whose subject is not the upload); returns the image ids."""
    with portal.api as api:
        r = api.post(f"/projects/{project_id}/images", params={"tagIds": ",".join(tag_ids)} if tag_ids else None,
                     files=[("imageData", (name, data, "image/jpeg")) for name, data in images])
        assert r.status_code == 200, r.text
        return [i["image"]["id"] for i in r.json()["images"]]


__all__ = ["Portal", "open_portal", "picture", "upload_images"]
