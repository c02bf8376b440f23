"""Writing a zip archive as a stream of chunks, with a manifest of every file.

Nothing is held whole in memory and nothing is written to disk: members are written in pieces
into a small buffer that the caller drains after each piece (``yield from z.add_blob(...)``), and
:mod:`zipfile` writes data descriptors since the output cannot seek. The last member,
``manifest.json``, lists every other file with its size and SHA-256.

    z = ZipStream()
    def body():
        yield from z.add_json("hello.json", {"hello": "world"})
        yield from z.finish({"format": "example"})
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..storage import BlobStore

CHUNK_BYTES = 1 << 20
MANIFEST = "manifest.json"


class _Sink:
    """A write-only file object that collects bytes for the consumer (zipfile needs no more)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


class ZipStream:
    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", allowZip64=True)
        self.files: list[FileEntry] = []
        self._paths: set[str] = set()

    def __contains__(self, path: str) -> bool:
        return path in self._paths

    def _drain(self, force: bool = False) -> Iterator[bytes]:
        buf = self._sink.buffer
        if buf and (force or len(buf) >= CHUNK_BYTES):
            data = bytes(buf)
            buf.clear()
            yield data

    def add_stream(self, path: str, pieces: Iterable[bytes], *, size_hint: int = 0,
                   compress: bool = True) -> Iterator[bytes]:
        """Add a member from pieces of bytes; yields output chunks as they fill."""
        if path in self._paths:
            raise ValueError(f"duplicate archive member {path!r}")
        info = zipfile.ZipInfo(path, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.file_size = size_hint  # lets zipfile pick ZIP64 up front for large members
        digest = hashlib.sha256()
        size = 0
        with self._zip.open(info, "w", force_zip64=size_hint > (1 << 31)) as out:
            for piece in pieces:
                out.write(piece)
                digest.update(piece)
                size += len(piece)
                yield from self._drain()
        self._paths.add(path)
        self.files.append(FileEntry(path, size, digest.hexdigest()))
        yield from self._drain()

    def add_bytes(self, path: str, data: bytes, *, compress: bool = True) -> Iterator[bytes]:
        yield from self.add_stream(path, [data], size_hint=len(data), compress=compress)

    def add_json(self, path: str, value: Any) -> Iterator[bytes]:
        yield from self.add_bytes(path, json.dumps(value, indent=1, ensure_ascii=False).encode())

    def add_json_array(self, path: str, items: Iterable[Any]) -> Iterator[bytes]:
        """A JSON array written item by item, so that a long list is never held whole."""

        def pieces() -> Iterator[bytes]:
            yield b"["
            first = True
            for item in items:
                yield (b"\n" if first else b",\n") + json.dumps(item, ensure_ascii=False).encode()
                first = False
            yield b"\n]\n"

        yield from self.add_stream(path, pieces())

    def add_blob(self, blobs: BlobStore, key: str, path: str) -> Iterator[bytes]:
        """Copy a blob into the archive without reading it whole (stored: images and models are compressed)."""

        def pieces() -> Iterator[bytes]:
            with blobs.open(key) as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk

        yield from self.add_stream(path, pieces(), size_hint=blobs.size(key), compress=False)

    def finish(self, manifest: dict[str, Any]) -> Iterator[bytes]:
        """Write ``manifest.json`` (``manifest`` plus the list of files) and close the archive."""
        body = dict(manifest, files=[{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files])
        data = json.dumps(body, indent=1, ensure_ascii=False).encode()
        info = zipfile.ZipInfo(MANIFEST, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        with self._zip.open(info, "w") as out:
            out.write(data)
        self._zip.close()
        yield from self._drain(force=True)
