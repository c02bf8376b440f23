"""URL fetching rules: schemes, malformed URLs, this server's own address, private networks."""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import pytest

from ownvision.config import Settings
from ownvision.domain.enums import ImageCreateStatus
from ownvision.services.fetch import FetchError, _check_target, fetch_image

REFUSED = pytest.raises(FetchError)


def settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, port=8080, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("url, kw, expectation", [
    ("http://127.0.0.1:9000/a.jpg", {}, does_not_raise()),
    ("https://127.0.0.1/a.jpg", {}, does_not_raise()),
    ("http://[::1]:9000/a.jpg", {}, does_not_raise()),
    ("http://127.0.0.1:8080/a.jpg", {}, REFUSED),  # this server
    ("http://localhost:8080/status", {}, REFUSED),
    ("http://0.0.0.0:8080/", {}, REFUSED),
    ("http://[::1]:8080/", {}, REFUSED),
    ("http://127.0.0.2:8080/", {}, REFUSED),  # all of 127/8 is this machine
    ("http://127.0.0.1:9000/a.jpg", {"allow_private_urls": False}, REFUSED),
    ("http://10.1.2.3/a.jpg", {"allow_private_urls": False}, REFUSED),
    ("http://169.254.169.254/latest/meta-data", {"allow_private_urls": False}, REFUSED),
    ("http://127.0.0.1:9443/a.jpg", {"public_url": "https://127.0.0.1:9443"}, REFUSED),  # behind a proxy
    ("file:///etc/passwd", {}, REFUSED),
    ("ftp://127.0.0.1/a.jpg", {}, REFUSED),
    ("gopher://127.0.0.1/", {}, REFUSED),
    ("http:///a.jpg", {}, REFUSED),
    ("http://[::1/a.jpg", {}, REFUSED),
    ("http://127.0.0.1:70000/a.jpg", {}, REFUSED),
    ("http://" + "a" * 64 + ".example/a.jpg", {}, REFUSED),
    ("a.jpg", {}, REFUSED),
])
def test_check_target_cases(tmp_path: Path, url: str, kw: dict[str, object],
                            expectation: AbstractContextManager[object]) -> None:
    with expectation:
        target = _check_target(url, settings(tmp_path, **kw))
        assert target.url.host in ("127.0.0.1", "::1")


def test_check_target_pins_the_checked_address(tmp_path: Path) -> None:
    target = _check_target("http://localhost:9000/x.jpg?q=1", settings(tmp_path))
    assert target.url.host in ("127.0.0.1", "::1") and target.url.path == "/x.jpg" and target.url.query == b"q=1"
    assert target.host_header == "localhost:9000" and target.sni_hostname is None
    assert _check_target("https://user:pw@localhost/x", settings(tmp_path)).sni_hostname == "localhost"


@pytest.mark.parametrize("url", [None, "", "   "])
def test_fetch_image_empty_url(tmp_path: Path, url: str | None) -> None:
    with pytest.raises(FetchError) as exc:
        fetch_image(url, settings(tmp_path), max_bytes=10)
    assert exc.value.status is ImageCreateStatus.ERROR_SOURCE
