"""Fetching images from URLs (CreateImagesFromUrls, ClassifyImageUrl, QuickTestImageUrl).

Only http and https; redirects are followed one by one, each hop checked again; the body is read
up to the size limit and no further, within one time limit per URL. This server's own address is
refused, so a URL cannot be used to read its blobs or call its API with the server's own rights;
with ``allow_private_urls`` off, loopback and private networks are refused too.

Each hop connects to the address that was checked (the host name is resolved once, and the request
goes to that IP with the original Host header and TLS server name), so a name that resolves
differently the second time (DNS rebinding) cannot slip past the checks.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from ..config import Settings
from ..domain.enums import ImageCreateStatus

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    def __init__(self, status: ImageCreateStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _source_error(message: str) -> FetchError:
    return FetchError(ImageCreateStatus.ERROR_SOURCE, message)


def _too_large(max_bytes: int) -> FetchError:
    return FetchError(ImageCreateStatus.ERROR_IMAGE_SIZE, f"The image is larger than {max_bytes} bytes.")


@dataclass(frozen=True)
class _Target:
    url: httpx.URL  # the URL with its host replaced by the checked address
    host_header: str
    sni_hostname: str | None


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # gaierror is an OSError; IDNA errors are UnicodeErrors
        raise _source_error(f"Cannot resolve host {host[:100]!r}.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _is_this_machine(addr: IPAddress) -> bool:
    """Whether ``addr`` is one of this machine's own addresses (it can be bound to)."""
    if addr.is_loopback or addr.is_unspecified:
        return True
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((str(addr), 0))
        return True
    except OSError:
        return False


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _own_public_addresses(settings: Settings) -> set[tuple[str, int]]:
    if not settings.public_url:
        return set()
    pub = urlsplit(settings.public_url)
    if not pub.hostname:
        return set()
    port = pub.port or _default_port(pub.scheme)
    try:
        return {(str(a), port) for a in _addresses(pub.hostname, port)}
    except FetchError:
        return set()


def _check_target(url: str, settings: Settings) -> _Target:
    """Refuse what must not be fetched; otherwise the URL pinned to the address that was checked."""
    try:
        parts = urlsplit(url)
        port = parts.port or _default_port(parts.scheme)
    except ValueError as exc:  # a malformed IPv6 literal, a port out of range
        raise _source_error(f"The URL is malformed: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise _source_error(f"Only http and https URLs are fetched, not {parts.scheme or 'this'!r}.")
    host = parts.hostname
    if not host:
        raise _source_error("The URL has no host.")
    addrs = _addresses(host, port)
    if not addrs:
        raise _source_error(f"Host {host[:100]!r} has no address.")
    own_public = _own_public_addresses(settings)
    for a in addrs:
        if (port == settings.port and _is_this_machine(a)) or (str(a), port) in own_public:
            raise _source_error("URLs that point at this server itself are refused.")
        if not settings.allow_private_urls and (a.is_private or a.is_loopback or a.is_link_local or a.is_reserved):
            raise _source_error("URLs on loopback or private networks are refused.")
    try:
        pinned = httpx.URL(url).copy_with(host=str(addrs[0]))
    except (httpx.InvalidURL, ValueError) as exc:
        raise _source_error(f"The URL is malformed: {exc}.") from exc
    host_header = parts.netloc.rpartition("@")[2]  # without user:password@
    return _Target(pinned, host_header, host if parts.scheme == "https" else None)


def fetch_image(url: str | None, settings: Settings, *, max_bytes: int) -> bytes:
    """Download the image at ``url``; raises FetchError with the per-image status to report."""
    if not url or not url.strip():
        raise _source_error("The image URL is empty.")
    url = url.strip()
    deadline = time.monotonic() + settings.url_fetch_timeout_s
    timeout = httpx.Timeout(settings.url_fetch_timeout_s)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(settings.url_fetch_max_redirects + 1):
            target = _check_target(url, settings)
            headers = {"User-Agent": "ownvision", "Host": target.host_header}
            extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
            try:
                with client.stream("GET", target.url, headers=headers, extensions=extensions) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location")
                        if not location:
                            raise _source_error("A redirect without a location.")
                        url = urljoin(url, location)
                        continue
                    if resp.status_code != 200:
                        raise _source_error(f"The URL answered HTTP {resp.status_code}.")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise _too_large(max_bytes)
                    buf = bytearray()
                    for chunk in resp.iter_bytes():
                        buf += chunk
                        if len(buf) > max_bytes:
                            raise _too_large(max_bytes)
                        if time.monotonic() > deadline:
                            raise _source_error(f"The download took longer than {settings.url_fetch_timeout_s} s.")
                    return bytes(buf)
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                raise _source_error(f"Could not fetch the URL: {exc}.") from exc
    raise _source_error(f"More than {settings.url_fetch_max_redirects} redirects.")
