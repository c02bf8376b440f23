"""Fixtures of the Training API tests: one account per module, its SDK client and a raw HTTP client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient

from ownvision.services.accounts import AccountKeys

from .cv_support import make_image, raw_client, sdk_client

if TYPE_CHECKING:
    from ..conftest import LiveServer


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> AccountKeys:
    return live.new_account()


@pytest.fixture(scope="module")
def trainer(live: LiveServer, keys: AccountKeys) -> CustomVisionTrainingClient:
    return sdk_client(live, keys.training_key)


@pytest.fixture(scope="module")
def http(live: LiveServer, keys: AccountKeys) -> Iterator[httpx.Client]:
    with raw_client(live, keys.training_key) as client:
        yield client


class _ImageHandler(BaseHTTPRequestHandler):
    """Serves test images: /<seed>.jpg|.png, /redirect/<n>/<path>, /to?url=<location>, /loop, /big, /missing."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        path = url.path
        if path.startswith("/redirect/"):
            _, _, n, rest = path.split("/", 3)
            target = f"/redirect/{int(n) - 1}/{rest}" if int(n) > 1 else f"/{rest}"
            return self._send(302, headers={"Location": target})
        if path == "/to":
            return self._send(307, headers={"Location": parse_qs(url.query)["url"][0]})
        if path == "/loop":
            return self._send(301, headers={"Location": "/loop"})
        if path == "/big":
            return self._send(200, b"\xff\xd8" + b"\0" * (6 * 1024 * 1024 + 10), {"Content-Type": "image/jpeg"})
        if path == "/page":
            return self._send(200, b"<html>not an image</html>", {"Content-Type": "text/html"})
        name, _, ext = path.lstrip("/").partition(".")
        if ext in ("jpg", "png"):
            seed = sum(map(ord, name)) + 1000
            body = make_image(seed, fmt="JPEG" if ext == "jpg" else "PNG")
            return self._send(200, body, {"Content-Type": f"image/{'jpeg' if ext == 'jpg' else 'png'}"})
        return self._send(404, b"missing")


@pytest.fixture(scope="session")
def image_server() -> Iterator[str]:
    """Base URL of a tiny HTTP server on 127.0.0.1 that serves test images (and redirects)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
