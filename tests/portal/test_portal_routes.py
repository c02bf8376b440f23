"""The portal's routes: index.html at /, static files under /portal/, nothing else shadowed (no browser needed)."""

from __future__ import annotations

import httpx
import pytest

from ownvision.api.portal import content_security_policy

from ..conftest import LiveServer


def test_portal_files_are_served_without_shadowing_the_api(live: LiveServer) -> None:
    index = httpx.get(live.url + "/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "script-src 'self'" in index.headers["content-security-policy"]
    js = httpx.get(live.url + "/portal/js/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert httpx.get(live.url + "/portal/../pyproject.toml").status_code == 404
    assert httpx.get(live.url + "/portal/%2e%2e/api/portal.py").status_code == 404
    missing = httpx.get(live.url + "/portal/nope.js")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "message"}
    assert httpx.get(live.url + "/status").json()["status"] == "ok"
    assert httpx.get(live.url + "/customvision/v3.3/training/projects").status_code == 401


@pytest.mark.parametrize("public_url, images", [
    (None, "img-src 'self' blob: data:;"),
    ("https://vision.example.com/base/", "img-src 'self' blob: data: https://vision.example.com;"),
    ("not a url", "img-src 'self' blob: data:;"),
])
def test_content_security_policy_allows_images_from_the_public_url(public_url: str | None, images: str) -> None:
    policy = content_security_policy(public_url)
    assert images in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
