"""The BlobStore protocol and the factory that picks an implementation by URL scheme.

Keys are '/'-separated relative paths. Every blob of a project lives under
``projects/<project id>/`` so that a project is erased by deleting one prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol


class BlobNotFound(KeyError):
    """No blob under that key."""


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def open(self, key: str) -> BinaryIO: ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def local_path(self, key: str) -> str | None:
        """A filesystem path for the blob when the store has one (lets the server stream files)."""
        ...


def open_blob_store(url: str) -> BlobStore:
    """Return the store for ``file:///path`` (the default); other schemes are refused clearly."""
    if url.startswith("file://"):
        from .local import LocalBlobStore

        return LocalBlobStore.from_url(url)
    scheme = url.split(":", 1)[0]
    raise ValueError(f"unsupported blob store URL scheme {scheme!r}: use file:///path")
