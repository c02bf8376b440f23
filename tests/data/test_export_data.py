"""'Download my data': one zip per account with every record and every file, and a manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import httpx

from ownvision.services.accounts import hash_key
from ownvision.services.zipstream import CHUNK_BYTES, ZipStream

from ..conftest import LiveServer
from .conftest import TRAINING, Filled, fill_project


def download(server: LiveServer, training_key: str) -> tuple[httpx.Headers, bytes, int]:
    chunks = 0
    buf = bytearray()
    with httpx.stream("GET", server.url + TRAINING + "/account/export", headers={"Training-Key": training_key},
                      timeout=60) as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_raw():
            buf += chunk
            chunks += 1
        return resp.headers, bytes(buf), chunks


def check_manifest(zf: zipfile.ZipFile) -> dict[str, dict[str, object]]:
    manifest = json.loads(zf.read("manifest.json"))
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(zf.namelist()) - {"manifest.json"}
    for path, f in listed.items():
        data = zf.read(path)
        assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"], path
    return listed


def check_project(zf: zipfile.ZipFile, base: str, filled: Filled) -> None:
    project = json.loads(zf.read(base + "project.json"))
    assert project["id"] == filled.project_id and project["name"] == f"{filled.marker}-project"
    tags = {t["id"]: t for t in json.loads(zf.read(base + "tags.json"))}
    assert set(tags) == set(filled.tag_ids)
    images = {i["id"]: i for i in json.loads(zf.read(base + "images.json"))}
    assert set(images) == set(filled.images)
    for image_id, data in filled.images.items():
        rec = images[image_id]
        assert zf.read(base + rec["file"]) == data  # byte for byte as uploaded
        assert rec["sha256"] == hashlib.sha256(data).hexdigest()
        assert rec["metadata"] == filled.metadata[image_id]
        assert all(t["tagId"] in tags for t in rec["tags"])
    with_region = [i for i in images.values() if i["regions"]]
    assert len(with_region) == 1
    assert {k: with_region[0]["regions"][0][k] for k in ("left", "top", "width", "height")} == {
        "left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}
    [iteration] = json.loads(zf.read(base + "iterations.json"))
    assert iteration["id"] == filled.iteration_id and iteration["status"] == "Completed"
    assert iteration["performance"]["precision"] == 1.0 and len(iteration["performance"]["perTag"]) == 2
    assert zf.read(base + iteration["modelFile"]) == f"{filled.marker}-model-bytes".encode() * 100
    training_set = json.loads(zf.read(base + iteration["trainingSetFile"]))
    assert len(training_set) == 4 and all(len(r["heldOut"]) == 2 for r in training_set)
    [export] = json.loads(zf.read(base + "exports.json"))
    assert export["id"] == filled.export_id and zf.read(base + export["file"]).startswith(
        f"{filled.marker}-export-bytes".encode())
    predictions = {p["id"]: p for p in json.loads(zf.read(base + "predictions.json"))}
    assert set(predictions) == set(filled.prediction_ids)
    for p in predictions.values():
        assert hashlib.sha256(zf.read(base + p["file"])).hexdigest() == p["sha256"]
    assert not [n for n in zf.namelist() if n.startswith(base) and ("thumbnail" in n or "resized" in n)]


def test_account_export_holds_every_record_and_file(server: LiveServer) -> None:
    keys = server.new_account()
    first = fill_project(server, keys, "exportone")
    second = fill_project(server, keys, "exporttwo")

    headers, body, _chunks = download(server, keys.training_key)

    assert headers["content-type"] == "application/zip"
    assert "content-length" not in headers  # streamed while it is written
    assert f"ownvision-{keys.name}.zip" in headers["content-disposition"]
    zf = zipfile.ZipFile(io.BytesIO(body))
    assert zf.testzip() is None
    check_manifest(zf)
    for filled in (first, second):
        check_project(zf, f"projects/{filled.project_id}/", filled)
    account = json.loads(zf.read("account.json"))
    assert account == {"id": str(keys.id), "name": keys.name, "created": account["created"],
                       "keysRotated": account["keysRotated"]}
    for secret in (keys.training_key, keys.prediction_key, hash_key(keys.training_key), hash_key(keys.prediction_key)):
        assert secret.encode() not in body
    audit = json.loads(zf.read("audit.json"))
    assert [e["action"] for e in audit][-1] == "account.export"
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "ownvision-account-export" and manifest["accountId"] == str(keys.id)


def test_account_export_of_another_account_is_not_reachable(server: LiveServer) -> None:
    mine, theirs = server.new_account(), server.new_account()
    fill_project(server, theirs, "notmine")
    _, body, _ = download(server, mine.training_key)
    zf = zipfile.ZipFile(io.BytesIO(body))
    assert [n for n in zf.namelist() if n.startswith("projects/")] == []
    assert b"notmine" not in body


def test_zip_stream_hands_out_bounded_chunks() -> None:
    class Blobs:
        data = bytes(range(256)) * (5 * 4096)  # 5 MiB

        def open(self, key: str) -> io.BytesIO:
            return io.BytesIO(self.data)

        def size(self, key: str) -> int:
            return len(self.data)

    z = ZipStream()
    chunks = [*z.add_blob(Blobs(), "k", "big.bin"), *z.add_json_array("n.json", ({"i": i} for i in range(10))),
              *z.finish({"format": "test"})]
    assert len(chunks) >= 5 and max(len(c) for c in chunks) <= CHUNK_BYTES + 64 * 1024
    zf = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert zf.read("big.bin") == Blobs.data and json.loads(zf.read("n.json"))[9] == {"i": 9}
