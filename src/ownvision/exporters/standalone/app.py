"""A small prediction server for an exported ownvision model (standard library + predict.py).

This file is copied unchanged into DockerFile export bundles beside ``predict.py`` and ``model.json``.
It answers the Custom Vision Prediction API's request and response shapes, so the official SDK's
prediction client (or any HTTP client) can point at it:

    POST /image                                          image bytes (or multipart field imageData)
    POST /url                                            {"url": "https://..."}
    POST /customvision/v3.{0,1}/prediction/{project}/{classify|detect}/iterations/{name}/image[/nostore]
    POST /customvision/v3.{0,1}/prediction/{project}/{classify|detect}/iterations/{name}/url[/nostore]
    GET  /                                               health: the model's task, tags and iteration

Every answer to a POST is an ``ImagePrediction`` (``id``, ``project``, ``iteration``, ``created``,
``predictions``); errors are ``{"code", "message"}``. Nothing is stored. The project id and
published name in the path are not checked (the container serves one model). When the
``PREDICTION_KEY`` environment variable is set, requests must send it in a ``Prediction-Key`` header.

Usage::

    python app.py --host 0.0.0.0 --port 80
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import sys
import urllib.request
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from predict import ExportedModel, load_image  # noqa: E402

MAX_IMAGE_BYTES = 4 * 1024 * 1024
URL_TIMEOUT_S = 15.0
_PREDICTION_PATH = re.compile(
    r"^/customvision/v3\.[01]/prediction/[^/]+/(classify|detect)/iterations/[^/]+/(image|url)(/nostore)?/?$",
    re.IGNORECASE,
)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def route(method: str, path: str, task: str) -> str | None:
    """``"image"`` or ``"url"`` for a prediction request, None for anything else.

    Raises:
        ApiError: A classify request to a detector, or a detect request to a classifier.
    """
    if method != "POST":
        return None
    if path.rstrip("/").lower() in ("/image", "/url"):
        return path.strip("/").lower()
    m = _PREDICTION_PATH.match(path)
    if m is None:
        return None
    wanted = "detection" if m.group(1).lower() == "detect" else "classification"
    if wanted != task:
        verb = "detect" if task == "detection" else "classify"
        raise ApiError(400, "BadRequestNotSupported", f"This model is a {task} model: use {verb}.")
    return m.group(2).lower()


def image_from_body(body: bytes, content_type: str) -> bytes:
    """The image bytes of a raw or ``multipart/form-data`` body."""
    if content_type.lower().startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            if payload:
                return bytes(payload)
        raise ApiError(400, "BadRequestImageFormat", "The multipart body holds no file.")
    return body


def image_from_url(body: bytes) -> bytes:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"The body is not valid JSON: {exc}.") from exc
    url = (data.get("url") or data.get("Url")) if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ApiError(400, "BadRequestImageUrl", 'The body must be {"url": "http(s)://..."}.')
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as resp:
            data = resp.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise ApiError(400, "BadRequestImageUrl", f"Could not fetch the image URL: {exc}.") from exc
    return bytes(data)


class Handler(BaseHTTPRequestHandler):
    model: ExportedModel
    key: str | None = None
    server_version = "ownvision-export"

    def log_message(self, format: str, *args: Any) -> None:  # quieter than the default
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path.split("?")[0].rstrip("/") in ("", "/health"):
            meta = self.model.meta
            self._send(
                200,
                {
                    "status": "ok",
                    "task": meta["task"],
                    "platform": meta["platform"],
                    "iteration": meta["iteration"],
                    "tags": meta["tags"],
                },
            )
        else:
            self._send(404, {"code": "NotFound", "message": f"No resource at {self.path}."})

    def do_POST(self) -> None:
        try:
            status, body = 200, self._predict()
        except ApiError as exc:
            status, body = exc.status, {"code": exc.code, "message": exc.message}
        except Exception as exc:  # keep serving; report the failure
            status, body = 500, {"code": "ErrorUnknown", "message": f"{type(exc).__name__}: {exc}"}
        self._send(status, body)

    def _predict(self) -> dict[str, Any]:
        if self.key is not None and not hmac.compare_digest(self.headers.get("Prediction-Key", ""), self.key):
            raise ApiError(401, "Unauthorized", "A valid Prediction-Key header is required.")
        kind = route("POST", self.path.split("?")[0], self.model.meta["task"])
        if kind is None:
            raise ApiError(404, "NotFound", f"No operation at {self.path}.")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_IMAGE_BYTES * 2:
            raise ApiError(413, "BadRequestImageSizeBytes", f"The body exceeds {MAX_IMAGE_BYTES * 2} bytes.")
        body = self.rfile.read(length)
        if kind == "url":
            data = image_from_url(body)
        else:
            data = image_from_body(body, self.headers.get("Content-Type", ""))
        if len(data) > MAX_IMAGE_BYTES:
            raise ApiError(413, "BadRequestImageSizeBytes", f"The image exceeds {MAX_IMAGE_BYTES} bytes.")
        try:
            load_image(data)
        except Exception as exc:
            raise ApiError(400, "BadRequestImageFormat", "The data is not a readable image.") from exc
        result: dict[str, Any] = self.model.predict(data)
        return result


def make_server(folder: Path, host: str, port: int, key: str | None = None) -> ThreadingHTTPServer:
    """A ready server for the bundle in ``folder`` (``serve_forever()`` runs it)."""
    handler = type("BundleHandler", (Handler,), {"model": ExportedModel(folder), "key": key or None})
    return ThreadingHTTPServer((host, port), handler)


def main(argv: tuple[str, ...] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve an exported ownvision model over HTTP.")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--model", default=str(Path(__file__).resolve().parent), help="bundle folder")
    args = parser.parse_args(argv)
    server = make_server(Path(args.model), args.host, args.port, os.environ.get("PREDICTION_KEY"))
    print(f"serving {args.model} on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
