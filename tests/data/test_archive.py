"""Project archives: a zip from one live server recreates the project on another."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from ..conftest import LiveServer, make_settings, start_server, stop_server
from .conftest import TRAINING, Filled, fill_project, http, sdk
from .test_transfer import labels


@pytest.fixture(scope="module")
def other_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path_factory.mktemp("other")))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def filled(server: LiveServer) -> Filled:
    return fill_project(server, server.new_account(), "archived")


def get_archive(server: LiveServer, filled: Filled, include_iterations: bool = True) -> bytes:
    resp = http(server, filled.keys).get(f"/projects/{filled.project_id}/archive",
                                         params={"includeIterations": str(include_iterations).lower()})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    return resp.content


def post_archive(server: LiveServer, key: str, body: bytes, **params: str) -> httpx.Response:
    return httpx.post(server.url + TRAINING + "/projects/archive", content=body, params=params,
                      headers={"Training-Key": key, "Content-Type": "application/zip"}, timeout=60)


def test_archive_holds_the_project_and_every_original(server: LiveServer, filled: Filled) -> None:
    zf = zipfile.ZipFile(io.BytesIO(get_archive(server, filled)))
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "ownvision-project-archive" and manifest["includesIterations"] is True
    for f in manifest["files"]:
        data = zf.read(f["path"])
        assert (len(data), hashlib.sha256(data).hexdigest()) == (f["size"], f["sha256"])
    images = json.loads(zf.read("images.json"))
    assert {i["id"]: zf.read(i["file"]) for i in images} == filled.images
    assert not [n for n in zf.namelist() if "thumbnail" in n or "resized" in n or "predictions" in n]
    [it] = json.loads(zf.read("iterations.json"))
    assert zf.read(it["modelFile"]) == b"archived-model-bytes" * 100


def test_archive_round_trip_between_two_servers(server: LiveServer, other_server: LiveServer,
                                                filled: Filled) -> None:
    body = get_archive(server, filled)
    keys = other_server.new_account()

    resp = post_archive(other_server, keys.training_key, body, name="arrived")

    assert resp.status_code == 200, resp.text
    project = resp.json()
    assert project["name"] == "arrived" and project["status"] == "Succeeded"
    there, here = sdk(other_server, keys), sdk(server, filled.keys)
    assert labels(there, project["id"]) == labels(here, filled.project_id)
    [it] = there.get_iterations(project["id"])
    assert it.status == "Completed"
    assert there.get_iteration_performance(project["id"], it.id).precision == 1.0
    assert there.get_image_performance_count(project["id"], it.id) == 4


def test_archive_without_iterations(server: LiveServer, other_server: LiveServer, filled: Filled) -> None:
    body = get_archive(server, filled, include_iterations=False)
    assert "iterations.json" not in zipfile.ZipFile(io.BytesIO(body)).namelist()
    keys = other_server.new_account()
    project = post_archive(other_server, keys.training_key, body).json()
    assert project["name"] == "archived-project"
    assert sdk(other_server, keys).get_iterations(project["id"]) == []
    assert sdk(other_server, keys).get_image_count(project["id"]) == 6


def _damaged(body: bytes) -> bytes:
    """The same archive with one byte of one image changed (its manifest entry no longer matches)."""
    src = zipfile.ZipFile(io.BytesIO(body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        victim = next(n for n in src.namelist() if n.startswith("images/"))
        for name in src.namelist():
            data = src.read(name)
            if name == victim:
                data = data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:]
            dst.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("spoil", [_damaged, lambda b: b"not a zip at all", lambda b: b[: len(b) // 2]],
                         ids=["changed-image", "not-a-zip", "truncated"])
def test_bad_archive_is_refused_and_leaves_nothing(server: LiveServer, other_server: LiveServer, filled: Filled,
                                                   spoil: object) -> None:
    body = spoil(get_archive(server, filled))  # type: ignore[operator]
    keys = other_server.new_account()
    before = set(other_server.ctx.blobs.list("projects/"))

    resp = post_archive(other_server, keys.training_key, body)

    assert resp.status_code == 400 and resp.json()["code"] == "BadRequest"
    assert sdk(other_server, keys).get_projects() == []
    assert set(other_server.ctx.blobs.list("projects/")) == before


def test_archive_of_another_accounts_project_is_not_found(server: LiveServer, filled: Filled) -> None:
    stranger = server.new_account()
    resp = http(server, stranger).get(f"/projects/{filled.project_id}/archive")
    assert resp.status_code == 404 and resp.json()["code"] == "NotFoundProject"
