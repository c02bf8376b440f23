"""Bad input over raw HTTP: every answer is {"code", "message"} with a fitting status, never a 500."""

from __future__ import annotations

import json
import random
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from .cv_support import V33, V34, assert_error, make_image, raw_client

MISSING = "5f0e8b2c-1b7a-4c57-9e59-8d9d9b5d3c11"


@pytest.fixture(scope="module")
def project(http: httpx.Client) -> dict[str, str]:
    """A project with one tag and one image: ids the tests point at."""
    pid = http.post("/projects", params={"name": "errors"}).json()["id"]
    tid = http.post(f"/projects/{pid}/tags", params={"name": "t"}).json()["id"]
    r = http.post(f"/projects/{pid}/images", content=make_image(1),
                  headers={"Content-Type": "application/octet-stream"})
    iid = r.json()["images"][0]["image"]["id"]
    return {"pid": pid, "tid": tid, "iid": iid}


# ---- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers, code", [
    ({}, "ForbiddenUser"),
    ({"Training-Key": ""}, "ForbiddenUser"),
    ({"Training-Key": "0" * 32}, "ForbiddenUserDoesNotExist"),
    ({"Prediction-Key": "0" * 32}, "ForbiddenUser"),
])
def test_training_key_missing_or_wrong(live, headers: dict[str, str], code: str) -> None:  # noqa: ANN001
    r = httpx.get(f"{live.url}{V34}/projects", headers=headers)
    assert_error(r, 401, code)


def test_prediction_key_is_not_a_training_key(live, keys) -> None:  # noqa: ANN001
    r = httpx.get(f"{live.url}{V34}/projects", headers={"Training-Key": keys.prediction_key})
    assert_error(r, 401)


@pytest.mark.parametrize("header", ["Training-Key", "Training-key", "training-key", "TRAINING-KEY"])
def test_training_key_header_any_case(live, keys, header: str) -> None:  # noqa: ANN001
    r = httpx.get(f"{live.url}{V33}/projects", headers={header: keys.training_key})
    assert r.status_code == 200


def test_other_account_project_answers_as_missing(live, http: httpx.Client, project: dict[str, str]) -> None:  # noqa: ANN001
    other = live.new_account()
    pid = project["pid"]
    with raw_client(live, other.training_key) as stranger:
        paths = [f"/projects/{pid}", f"/projects/{pid}/tags", f"/projects/{pid}/images",
                 f"/projects/{pid}/images/count", f"/projects/{pid}/tags/{project['tid']}",
                 f"/projects/{pid}/images/id?imageIds={project['iid']}"]
        for path in paths:
            theirs = stranger.get(path)
            missing = stranger.get(path.replace(pid, MISSING))
            assert_error(theirs, 404, "NotFoundProject")
            assert theirs.json()["message"].replace(pid, MISSING) == missing.json()["message"]
        assert_error(stranger.delete(f"/projects/{pid}"), 404, "NotFoundProject")
        assert_error(stranger.patch(f"/projects/{pid}", json={"name": "x"}), 404, "NotFoundProject")
        assert_error(stranger.delete(f"/projects/{pid}/images", params={"allImages": "true"}), 404, "NotFoundProject")
        assert pid not in [p["id"] for p in stranger.get("/projects").json()]
    # nothing happened to it
    assert http.get(f"/projects/{pid}/images/count").json() == 1


# ---- ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/domains/not-a-guid", 400, "BadRequestInvalidIds"),
    ("GET", "/projects/not-a-guid", 400, "BadRequestInvalidIds"),
    ("GET", "/projects/{MISSING}", 404, "NotFoundProject"),
    ("DELETE", "/projects/{MISSING}", 404, "NotFoundProject"),
    ("GET", "/projects/{pid}/tags/xyz", 400, "BadRequestInvalidIds"),
    ("GET", "/projects/{pid}/tags/{MISSING}", 404, "NotFoundTag"),
    ("DELETE", "/projects/{pid}/tags/{MISSING}", 404, "NotFoundTag"),
    ("GET", "/projects/{pid}/tags?iterationId={MISSING}", 404, "NotFoundIteration"),
    ("GET", "/projects/{pid}/images?tagIds=a,b", 400, "BadRequestInvalidIds"),
    ("GET", "/projects/{pid}/images?iterationId=nope", 400, "BadRequestInvalidIds"),
    ("GET", "/projects/{pid}/images?iterationId={MISSING}", 404, "NotFoundIteration"),
    ("GET", "/projects/{pid}/images/id?imageIds={iid},zzz", 400, "BadRequestInvalidIds"),
    ("DELETE", "/projects/{pid}/images?imageIds=zzz", 400, "BadRequestInvalidIds"),
    ("DELETE", "/projects/{pid}/images", 400, None),
    ("DELETE", "/projects/{pid}/images?allImages=maybe", 400, None),
    ("DELETE", "/projects/{pid}/images/tags?imageIds={iid}", 400, "BadRequestRequiredParamIsNull"),
    ("DELETE", "/projects/{pid}/images/tags?imageIds={iid}&tagIds=q", 400, "BadRequestInvalidIds"),
    ("DELETE", "/projects/{pid}/images/regions", 400, "BadRequestRequiredParamIsNull"),
    ("DELETE", "/projects/{pid}/images/regions?regionIds={MISSING}", 404, None),
    ("GET", "/projects/{pid}/nothing-here", 404, None),
    ("PUT", "/projects/{pid}", 405, None),
])
def test_bad_ids_and_parameters(http: httpx.Client, project: dict[str, str], method: str, path: str,
                                status: int, code: str | None) -> None:
    url = path.format(MISSING=MISSING, **project)
    assert_error(http.request(method, url), status, code)


def test_image_ids_from_another_project_are_not_found(http: httpx.Client, project: dict[str, str]) -> None:
    other = http.post("/projects", params={"name": "other"}).json()["id"]
    assert http.get(f"/projects/{other}/images/id", params={"imageIds": project["iid"]}).json() == []
    pair = {"imageId": project["iid"], "tagId": project["tid"]}
    r = http.post(f"/projects/{other}/images/tags", json={"tags": [pair]})
    assert_error(r, 404)
    http.delete(f"/projects/{other}/images", params={"imageIds": project["iid"]})
    assert http.get(f"/projects/{project['pid']}/images/count").json() == 1


# ---- bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("POST", "/projects/{pid}/images/files"), ("POST", "/projects/{pid}/images/urls"),
    ("POST", "/projects/{pid}/images/tags"), ("POST", "/projects/{pid}/images/regions"),
    ("POST", "/projects/{pid}/images/metadata?imageIds={iid}"), ("PATCH", "/projects/{pid}"),
    ("PATCH", "/projects/{pid}/tags/{tid}"),
])
@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b'{"images": [', 400),
    (b"\xff\xfe\x00garbage", 400),
    (b"[" * 100_000 + b"]" * 100_000, 400),
    (b"null", 400),
    (b"42", 400),
    (b'"text"', 400),
    (b"[]", 400),
])
def test_malformed_json_body(http: httpx.Client, project: dict[str, str], method: str, path: str, body: bytes,
                            status: int) -> None:
    r = http.request(method, path.format(**project), content=body, headers={"Content-Type": "application/json"})
    assert_error(r, status)


@pytest.mark.parametrize("body, status", [
    (b"", 200), (b"null", 200), (b"{}", 200), (b"[]", 400), (b"{bad", 400), (b"[" * 50_000, 400),
])
def test_create_project_optional_body(http: httpx.Client, body: bytes, status: int) -> None:
    # the SDK sends Content-Type: application/json with an empty body when no options are given
    r = http.post("/projects", params={"name": "optional body"}, content=body,
                  headers={"Content-Type": "application/json"})
    if status == 200:
        assert r.status_code == 200 and r.json()["name"] == "optional body"
    else:
        assert_error(r, status)


@pytest.mark.parametrize("body", [
    {"images": "nope"},
    {"images": [{"contents": 5}]},
    {"images": [{"contents": "AAAA", "tagIds": ["x"]}]},
    {"images": [{"contents": "AAAA", "regions": [{"tagId": MISSING, "left": "a"}]}]},
    {"tagIds": "x"},
    {"metadata": {"k": 1}},
    {"metadata": ["k"]},
])
def test_create_images_from_files_invalid_shapes(http: httpx.Client, project: dict[str, str], body: object) -> None:
    assert_error(http.post(f"/projects/{project['pid']}/images/files", json=body), 400)


@pytest.mark.parametrize("body, code", [
    ({"name": 5}, None),
    ({"name": ""}, "BadRequestProjectName"),
    ({"name": "x" * 300}, "BadRequestProjectName"),
    ({"description": ["a"]}, None),
    ({"settings": "x"}, None),
    ({"settings": {"domainId": "nope"}}, None),
    ({"settings": {"domainId": MISSING}}, "BadRequestProjectUnknownDomain"),
    ({"settings": {"domainId": "da2e3a8a-40a5-4171-82f4-58522f70fbc1"}},
     "BadRequestProjectUnsupportedDomainTypeChange"),
    ({"settings": {"classificationType": 3}}, None),
    ({"settings": {"classificationType": "Sideways"}}, "BadRequestProjectUnknownClassification"),
    ({"settings": {"targetExportPlatforms": "ONNX"}}, None),
    ({"settings": {"targetExportPlatforms": [1, 2]}}, None),
    ({"settings": {"targetExportPlatforms": ["ONNX"]}}, "BadRequestProjectUnsupportedExportPlatform"),
    ({"settings": {"imageProcessingSettings": {"augmentationMethods": {"rotation": "sometimes"}}}}, None),
    ({"settings": {"imageProcessingSettings": 7}}, None),
])
def test_update_project_invalid(http: httpx.Client, project: dict[str, str], body: dict[str, object],
                                code: str | None) -> None:
    r = http.patch(f"/projects/{project['pid']}", json=body)
    assert r.status_code in (400, 404), r.text
    assert_error(r, r.status_code, code)
    assert http.get(f"/projects/{project['pid']}").json()["name"] == "errors"


def test_update_project_image_processing_round_trip(http: httpx.Client) -> None:
    pid = http.post("/projects", params={"name": "ips"}).json()["id"]
    body = {"settings": {"imageProcessingSettings": {"augmentationMethods": {"rotation": True, "scaling": False}}}}
    r = http.patch(f"/projects/{pid}", json=body)
    assert r.status_code == 200
    assert r.json()["settings"]["imageProcessingSettings"] == body["settings"]["imageProcessingSettings"]


@pytest.mark.parametrize("query, code", [
    ({}, "BadRequestProjectName"),
    ({"name": "  "}, "BadRequestProjectName"),
    ({"name": "p", "domainId": "zz"}, "BadRequestInvalidIds"),
    ({"name": "p", "domainId": MISSING}, "BadRequestProjectUnknownDomain"),
    ({"name": "p", "classificationType": "Both"}, "BadRequestProjectUnknownClassification"),
    ({"name": "p", "targetExportPlatforms": "Nokia"}, "BadRequestProjectUnsupportedExportPlatform"),
    ({"name": "p", "targetExportPlatforms": "ONNX"}, "BadRequestProjectUnsupportedExportPlatform"),
    ({"name": "p", "description": "d" * 5000}, "BadRequestProjectDescription"),
])
def test_create_project_invalid(http: httpx.Client, query: dict[str, str], code: str) -> None:
    r = http.post("/projects", params=query)
    assert_error(r, 404 if code.startswith("NotFound") else 400, code)


def test_create_project_options_body_types(http: httpx.Client) -> None:
    r = http.post("/projects", params={"name": "p"}, json={"exportModelContainerUri": 5})
    assert_error(r, 400)
    r = http.post("/projects", params={"name": "p"}, json={"notificationQueueUri": "https://q.example/x"})
    assert r.status_code == 200 and r.json()["settings"]["notificationQueueUri"] == "https://q.example/x"


@pytest.mark.parametrize("query, code", [
    ({}, "BadRequestTagName"),
    ({"name": "t"}, "BadRequestTagNameNotUnique"),
    ({"name": "T"}, "BadRequestTagNameNotUnique"),
    ({"name": "u", "type": "Weird"}, "BadRequestTagType"),
    ({"name": "x" * 300}, "BadRequestTagName"),
])
def test_create_tag_invalid(http: httpx.Client, project: dict[str, str], query: dict[str, str], code: str) -> None:
    assert_error(http.post(f"/projects/{project['pid']}/tags", params=query), 400, code)


def test_create_tag_second_negative(http: httpx.Client) -> None:
    pid = http.post("/projects", params={"name": "neg"}).json()["id"]
    assert http.post(f"/projects/{pid}/tags", params={"name": "n1", "type": "Negative"}).status_code == 200
    r = http.post(f"/projects/{pid}/tags", params={"name": "n2", "type": "Negative"})
    assert_error(r, 400, "BadRequestMultipleNegativeTag")


@pytest.mark.parametrize("body", [{"name": 7}, {"name": ""}, {"type": "Weird"}, {"description": {"a": 1}}])
def test_update_tag_invalid(http: httpx.Client, project: dict[str, str], body: dict[str, object]) -> None:
    r = http.patch(f"/projects/{project['pid']}/tags/{project['tid']}", json=body)
    assert_error(r, 400)


# ---- content types and sizes ---------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_json_endpoint_wrong_content_type(http: httpx.Client, project: dict[str, str], ctype: str) -> None:
    r = http.post(f"/projects/{project['pid']}/images/tags", content=b'{"tags": []}', headers={"Content-Type": ctype})
    assert_error(r, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
def test_image_upload_wrong_content_type(http: httpx.Client, project: dict[str, str], ctype: str) -> None:
    r = http.post(f"/projects/{project['pid']}/images", content=make_image(2), headers={"Content-Type": ctype})
    assert_error(r, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("ctype, body", [
    ("multipart/form-data", b"--x\r\n"),
    ("multipart/form-data; boundary=abc", b"garbage without boundary"),
    ("multipart/form-data; boundary=abc", b"--abc--\r\n"),
    ("application/octet-stream", b""),
])
def test_image_upload_malformed_body(http: httpx.Client, project: dict[str, str], ctype: str, body: bytes) -> None:
    r = http.post(f"/projects/{project['pid']}/images", content=body, headers={"Content-Type": ctype})
    assert_error(r, 400)


def test_request_body_over_limit_is_413(live, keys, http: httpx.Client) -> None:  # noqa: ANN001
    pid = http.post("/projects", params={"name": "big"}).json()["id"]
    limit = live.settings.max_request_mb * 1024 * 1024
    host, port = live.url.removeprefix("http://").split(":")
    # a declared length over the limit is refused before the body is sent
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {V34}/projects/{pid}/images HTTP/1.1\r\nHost: {host}\r\n"
            f"Training-Key: {keys.training_key}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {limit + 1}\r\n\r\n".encode()
        )
        answer = b""
        while b"}" not in answer.partition(b"\r\n\r\n")[2]:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413")
    assert json.loads(body)["code"] == "BadRequestImageSizeBytes"


def test_chunked_body_over_limit_is_413(live, keys, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(live.settings, "max_request_mb", 1)
    chunk = b"\0" * 65536

    def body() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(40):
            yield chunk

    with raw_client(live, keys.training_key) as c:
        pid = c.post("/projects", params={"name": "chunked"}).json()["id"]
        r = c.post(f"/projects/{pid}/images", content=body(), headers={"Content-Type": "application/octet-stream"})
        assert_error(r, 413)
        r = c.post(f"/projects/{pid}/images/files", content=body(), headers={"Content-Type": "application/json"})
        assert_error(r, 413)


def test_small_json_bodies_have_a_lower_limit(http: httpx.Client, project: dict[str, str]) -> None:
    big = b'{"tags": [' + b"1," * (9 * 1024 * 1024) + b"1]}"  # 18 MB of JSON without a single image
    r = http.post(f"/projects/{project['pid']}/images/tags", content=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413)


# ---- limits --------------------------------------------------------------------------------------


def test_too_many_images_in_a_batch(http: httpx.Client, project: dict[str, str]) -> None:
    images = [{"name": f"{i}", "contents": ""} for i in range(65)]
    assert_error(http.post(f"/projects/{project['pid']}/images/files", json={"images": images}), 400,
                 "BadRequestExceededBatchSize")
    urls = [{"url": f"http://127.0.0.1:9/{i}.jpg"} for i in range(65)]
    assert_error(http.post(f"/projects/{project['pid']}/images/urls", json={"images": urls}), 400,
                 "BadRequestExceededBatchSize")
    files = [("imageData", (None, b"x")) for _ in range(65)]
    assert_error(http.post(f"/projects/{project['pid']}/images", files=files), 400, "BadRequestExceededBatchSize")


def test_empty_batches(http: httpx.Client, project: dict[str, str]) -> None:
    for path in ("files", "urls"):
        assert_error(http.post(f"/projects/{project['pid']}/images/{path}", json={"images": []}), 400)
        assert_error(http.post(f"/projects/{project['pid']}/images/{path}", json={}), 400)
    assert_error(http.post(f"/projects/{project['pid']}/images/tags", json={"tags": []}), 400)
    assert_error(http.post(f"/projects/{project['pid']}/images/regions", json={"regions": []}), 400)


def test_too_many_tags_in_a_batch(http: httpx.Client, project: dict[str, str]) -> None:
    pid = project["pid"]
    tag_ids = [str(uuid.uuid4()) for _ in range(21)]
    r = http.post(f"/projects/{pid}/images/files", json={"images": [{"contents": ""}], "tagIds": tag_ids})
    assert_error(r, 400, "BadRequestExceededBatchSize")
    r = http.post(f"/projects/{pid}/images", params={"tagIds": ",".join(tag_ids)}, content=make_image(3),
                  headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 400, "BadRequestExceededBatchSize")
    assert_error(http.get(f"/projects/{pid}/images/tagged", params={"tagIds": ",".join(tag_ids)}), 400)


def test_unknown_tag_in_upload(http: httpx.Client, project: dict[str, str]) -> None:
    r = http.post(f"/projects/{project['pid']}/images", params={"tagIds": MISSING}, content=make_image(4),
                  headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 400, "BadRequestImageTags")


@pytest.mark.parametrize("query", [
    {"take": "257"}, {"take": "-1"}, {"take": "many"}, {"skip": "-5"}, {"skip": "1e3"},
    {"skip": str(2**70)}, {"orderBy": "Random"}, {"taggingStatus": "Sometimes"},
    {"$filter": "color eq"}, {"$filter": "color = 'red'"}, {"$filter": "(color eq 'red'"},
    {"$filter": "color eq 'red' and"}, {"$filter": "(" * 3000 + "a eq 'b'" + ")" * 3000},
    {"$filter": " or ".join(["a eq 'b'"] * 400)}, {"$filter": "a eq 'unterminated"},
    {"$filter": "(" * 1000 + "a eq 'b'" + ")" * 1000}, {"$filter": " or ".join(["a eq 'b'"] * 300)},
    {"$filter": "a eq 'b' and or c eq 'd'"}, {"$filter": "eq 'b'"}, {"$filter": "a eq b"},
])
def test_image_query_invalid(http: httpx.Client, project: dict[str, str], query: dict[str, str]) -> None:
    assert_error(http.get(f"/projects/{project['pid']}/images", params=query), 400)
    if "$filter" in query:
        assert_error(http.get(f"/projects/{project['pid']}/images/count", params=query), 400)


def test_take_256_allowed(http: httpx.Client, project: dict[str, str]) -> None:
    r = http.get(f"/projects/{project['pid']}/images/tagged", params={"take": 256, "skip": 2**31 - 1})
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize("region", [
    {"left": -0.1, "top": 0, "width": 0.5, "height": 0.5},
    {"left": 0.8, "top": 0, "width": 0.5, "height": 0.5},
    {"left": 0, "top": 0, "width": 0, "height": 0.5},
    {"left": 0, "top": 0, "width": 0.5, "height": -1},
    {"left": 0, "top": 0.9, "width": 0.5, "height": 0.5},
    {"left": 0, "top": 0, "width": 1e309, "height": 0.5},
    {"left": "NaN", "top": 0, "width": 0.5, "height": 0.5},
    {"left": 0, "top": 0, "width": 0.5},
])
def test_bad_regions(http: httpx.Client, project: dict[str, str], region: dict[str, object]) -> None:
    pid = project["pid"]
    body = json.dumps({"regions": [{"imageId": project["iid"], "tagId": project["tid"], **region}]})
    r = http.post(f"/projects/{pid}/images/regions", content=body.replace('"NaN"', "NaN"),
                  headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    entry = {"contents": "AAAA", "regions": [{"tagId": project["tid"], **region}]}
    body = json.dumps({"images": [entry]})
    r = http.post(f"/projects/{pid}/images/files", content=body.replace('"NaN"', "NaN"),
                  headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_region_batch_limits(http: httpx.Client, project: dict[str, str]) -> None:
    pid = project["pid"]
    region = {"imageId": project["iid"], "tagId": project["tid"], "left": 0, "top": 0, "width": 0.1, "height": 0.1}
    assert_error(http.post(f"/projects/{pid}/images/regions", json={"regions": [region] * 65}), 400,
                 "BadRequestExceededBatchSize")
    assert_error(http.post(f"/projects/{pid}/images/regions", json={"regions": [{**region, "imageId": MISSING}]}),
                 404, "NotFoundImage")
    assert_error(http.post(f"/projects/{pid}/images/regions", json={"regions": [{**region, "tagId": MISSING}]}),
                 404, "NotFoundTag")
    ids = ",".join(str(uuid.uuid4()) for _ in range(65))
    assert_error(http.delete(f"/projects/{pid}/images/regions", params={"regionIds": ids}), 400,
                 "BadRequestExceededBatchSize")


def test_image_tag_batch_limits(http: httpx.Client, project: dict[str, str]) -> None:
    pid = project["pid"]
    pair = {"imageId": project["iid"], "tagId": project["tid"]}
    assert_error(http.post(f"/projects/{pid}/images/tags", json={"tags": [pair] * 129}), 400,
                 "BadRequestExceededBatchSize")
    ids = ",".join(str(uuid.uuid4()) for _ in range(65))
    r = http.delete(f"/projects/{pid}/images/tags", params={"imageIds": ids, "tagIds": project["tid"]})
    assert_error(r, 400, "BadRequestExceededBatchSize")


@pytest.mark.parametrize("query, body, status, code", [
    ({}, {"a": "b"}, 400, "BadRequestRequiredParamIsNull"),
    ({"imageIds": ",".join([MISSING] * 65)}, {"a": "b"}, 400, "BadRequestExceededBatchSize"),
    ({"imageIds": "{iid}"}, {"a": 1}, 400, None),
    ({"imageIds": "{iid}"}, {"": "b"}, 400, "BadRequestImageMetadataKey"),
    ({"imageIds": "{iid}"}, {"k" * 300: "b"}, 400, "BadRequestImageMetadataKey"),
    ({"imageIds": "{iid}"}, {"a": "v" * 600}, 400, "BadRequestImageMetadataValue"),
    ({"imageIds": "{iid}"}, {f"k{i}": "v" for i in range(51)}, 400, None),
])
def test_update_metadata_invalid(http: httpx.Client, project: dict[str, str], query: dict[str, str],
                                 body: dict[str, object], status: int, code: str | None) -> None:
    params = {k: v.format(**project) for k, v in query.items()}
    assert_error(http.post(f"/projects/{project['pid']}/images/metadata", params=params, json=body), status, code)


def test_no_500_on_odd_paths(http: httpx.Client, project: dict[str, str]) -> None:
    pid = project["pid"]
    for method, path in [("GET", "/projects/%00"), ("GET", f"/projects/{pid}/images/id?imageIds=,,,"),
                         ("GET", f"/projects/{pid}/images?tagIds=%20"), ("POST", "/domains"),
                         ("GET", f"/projects/{pid}/tags/{pid}"), ("GET", "/projects/" + "a" * 5000)]:
        r = http.request(method, path)
        assert r.status_code < 500, (path, r.status_code, r.text)
        if r.status_code >= 400:
            assert_error(r, r.status_code)


# ---- a deterministic sweep of odd requests -------------------------------------------------------

_SWEEP_PATHS = ["/domains/{x}", "/projects", "/projects/{p}", "/projects/{p}/tags", "/projects/{p}/tags/{t}",
                "/projects/{p}/images", "/projects/{p}/images/files", "/projects/{p}/images/urls",
                "/projects/{p}/images/id", "/projects/{p}/images/count", "/projects/{p}/images/tagged",
                "/projects/{p}/images/untagged/count", "/projects/{p}/images/tags", "/projects/{p}/images/regions",
                "/projects/{p}/images/metadata"]
_SWEEP_PARAMS = ["tagIds", "imageIds", "regionIds", "take", "skip", "orderBy", "taggingStatus", "$filter",
                 "iterationId", "name", "domainId", "classificationType", "targetExportPlatforms", "type", "allImages"]
_SWEEP_KEYS = ["images", "tags", "regions", "tagIds", "metadata", "name", "settings", "contents", "url", "imageId",
               "tagId", "left", "width", "domainId", "targetExportPlatforms", "imageProcessingSettings"]


def test_sweep_of_odd_requests_never_500(http: httpx.Client, project: dict[str, str]) -> None:
    rng = random.Random(20240601)
    pid, tid, iid = project["pid"], project["tid"], project["iid"]
    values = ["", " ", "null", "-1", "1e9", "NaN", "true", "\u00e9", "a" * 300, tid, iid, f"{tid},{iid}", ",,",
              MISSING, "' or 1=1 --", "(", "a eq 'b'", "Oldest", "Untagged", "ONNX"]
    atoms: list[object] = [None, True, 1, -1, 1.5, 1e308, "x", "", tid, iid, [], {}, "AAAA", [tid], {"tagId": tid}]

    def value(depth: int) -> object:
        r = rng.random()
        if depth > 2 or r < 0.4:
            return rng.choice(atoms)
        if r < 0.7:
            return {rng.choice(_SWEEP_KEYS): value(depth + 1) for _ in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(150):
        path = rng.choice(_SWEEP_PATHS).format(p=rng.choice([pid, pid, "zz", MISSING]), t=rng.choice([tid, "q"]),
                                               x=rng.choice(["ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "x"]))
        method = rng.choice(["GET", "POST", "PATCH", "DELETE"])
        params = {rng.choice(_SWEEP_PARAMS): rng.choice(values) for _ in range(rng.randrange(4))}
        if rng.random() < 0.6:
            body = json.dumps({rng.choice(_SWEEP_KEYS): value(0) for _ in range(rng.randrange(1, 4))}).encode()
            ctype = "application/json"
        else:
            body = rng.randbytes(rng.randrange(64))
            ctype = rng.choice(["application/octet-stream", "multipart/form-data; boundary=b", "text/plain", ""])
        r = http.request(method, path, params=params, content=body, headers={"Content-Type": ctype} if ctype else {})
        assert r.status_code < 500, (method, path, params, body[:100], r.text[:300])
        if r.status_code >= 400:
            assert_error(r, r.status_code)
