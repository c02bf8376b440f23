"""Fetching images from URLs (CreateImagesFromUrls, ClassifyImageUrl, QuickTestImageUrl).

Only http and https; redirects are followed one by one, each hop checked again; the body is read
up to the size limit and no further. This server's own address is refused, so a URL cannot be used
to read its blobs or call its API with the server's own rights; with ``allow_private_urls`` off,
loopback and private networks are refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from ..config import Settings
from ..domain.enums import ImageCreateStatus


class FetchError(Exception):
    def __init__(self, status: ImageCreateStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(ImageCreateStatus.ERROR_SOURCE, f"Cannot resolve host {host!r}.") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _check_target(url: str, settings: Settings) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(ImageCreateStatus.ERROR_SOURCE, f"Only http and https URLs are fetched, not {parts.scheme or 'this'!r}.")
    if not parts.hostname:
        raise FetchError(ImageCreateStatus.ERROR_SOURCE, "The URL has no host.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addrs = _addresses(parts.hostname, port)
    own = set()
    if settings.public_url:
        pub = urlsplit(settings.public_url)
        if pub.hostname:
            own |= {(str(a), pub.port or (443 if pub.scheme == "https" else 80)) for a in _addresses(pub.hostname, 80)}
    for a in addrs:
        local = a.is_loopback or a.is_unspecified or str(a) == settings.host
        if (local and port == settings.port) or (str(a), port) in own:
            raise FetchError(ImageCreateStatus.ERROR_SOURCE, "URLs that point at this server itself are refused.")
        if not settings.allow_private_urls and (a.is_private or a.is_loopback or a.is_link_local or a.is_reserved):
            raise FetchError(ImageCreateStatus.ERROR_SOURCE, "URLs on loopback or private networks are refused.")


def fetch_image(url: str | None, settings: Settings, *, max_bytes: int) -> bytes:
    """Download the image at ``url``; raises FetchError with the per-image status to report."""
    if not url or not url.strip():
        raise FetchError(ImageCreateStatus.ERROR_SOURCE, "The image URL is empty.")
    url = url.strip()
    timeout = httpx.Timeout(settings.url_fetch_timeout_s)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(settings.url_fetch_max_redirects + 1):
            _check_target(url, settings)
            try:
                with client.stream("GET", url, headers={"User-Agent": "ownvision"}) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location")
                        if not location:
                            raise FetchError(ImageCreateStatus.ERROR_SOURCE, "A redirect without a location.")
                        url = urljoin(url, location)
                        continue
                    if resp.status_code != 200:
                        raise FetchError(ImageCreateStatus.ERROR_SOURCE, f"The URL answered HTTP {resp.status_code}.")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(ImageCreateStatus.ERROR_IMAGE_SIZE, f"The image is larger than {max_bytes} bytes.")
                    buf = bytearray()
                    for chunk in resp.iter_bytes():
                        buf += chunk
                        if len(buf) > max_bytes:
                            raise FetchError(ImageCreateStatus.ERROR_IMAGE_SIZE, f"The image is larger than {max_bytes} bytes.")
                    return bytes(buf)
            except httpx.HTTPError as exc:
                raise FetchError(ImageCreateStatus.ERROR_SOURCE, f"Could not fetch the URL: {exc}.") from exc
    raise FetchError(ImageCreateStatus.ERROR_SOURCE, f"More than {settings.url_fetch_max_redirects} redirects.")
