"""LocalBlobStore: key rules, writes, reads, and erasure that leaves no empty folders behind."""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import pytest

from ownvision.storage import BlobNotFound, open_blob_store
from ownvision.storage.local import LocalBlobStore


@pytest.fixture()
def store(tmp_path: Path) -> LocalBlobStore:
    blobs = open_blob_store((tmp_path / "blobs").as_uri())
    assert isinstance(blobs, LocalBlobStore)
    return blobs


@pytest.mark.parametrize("key, expectation", [
    ("a", does_not_raise()),
    ("projects/p/images/i/original.jpg", does_not_raise()),
    ("", pytest.raises(ValueError)),
    ("/etc/passwd", pytest.raises(ValueError)),
    ("../outside", pytest.raises(ValueError)),
    ("a/../../outside", pytest.raises(ValueError)),
    ("a//b", pytest.raises(ValueError)),
    ("a/./b", pytest.raises(ValueError)),
    ("a\\b", pytest.raises(ValueError)),
    ("a/", pytest.raises(ValueError)),
])
def test_local_key_rules(store: LocalBlobStore, key: str, expectation: AbstractContextManager[object]) -> None:
    with expectation:
        store.put(key, b"x")
        assert store.get(key) == b"x"


def test_local_put_get_replace(store: LocalBlobStore) -> None:
    store.put("p/a.bin", b"one")
    store.put("p/a.bin", b"two")
    assert store.get("p/a.bin") == b"two" and store.size("p/a.bin") == 3 and store.exists("p/a.bin")
    with store.open("p/a.bin") as f:
        assert f.read() == b"two"
    assert list(store.list()) == ["p/a.bin"]  # no temporary files left behind


@pytest.mark.parametrize("method", ["get", "open", "size"])
def test_local_missing_blob(store: LocalBlobStore, method: str) -> None:
    with pytest.raises(BlobNotFound):
        getattr(store, method)("nothing/here")
    assert not store.exists("nothing/here")


def test_local_delete_prunes_empty_folders(store: LocalBlobStore) -> None:
    store.put("projects/p1/images/i1/original.jpg", b"1")
    store.put("projects/p1/images/i1/thumbnail.jpg", b"2")
    store.put("projects/p2/images/i2/original.jpg", b"3")
    store.delete("projects/p1/images/i1/original.jpg")
    assert list(store.list("projects/p1/")) == ["projects/p1/images/i1/thumbnail.jpg"]
    assert store.delete_prefix("projects/p1/") == 1
    assert not (store.root / "projects" / "p1").exists()
    assert list(store.list()) == ["projects/p2/images/i2/original.jpg"]
    assert store.delete_prefix("projects/p2/images/i2/") == 1
    assert list(store.root.iterdir()) == []  # nothing of either project remains, not even folders
    assert store.delete_prefix("projects/none/") == 0
    store.delete("projects/none/x")  # deleting what is not there is not an error


def test_open_blob_store_refuses_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        open_blob_store("ftp://example/blobs")
