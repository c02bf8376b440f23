"""Exports of a trained compact classifier: ONNX (three flavors) and DockerFile, downloaded without keys,
run as their READMEs say, and compared with the server's own predictions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from msrest.authentication import ApiKeyCredentials

from ownvision.db.tables import Export

from ..training.conftest import picture, wait_for
from .bundle import CONVERTED_TOLERANCE, SAME_MODEL_TOLERANCE, by_tag, run_predict, serve_bundle
from .conftest import Trained, download, wait_for_export

SAMPLES = [("disc", 100), ("stripes", 101), ("disc", 102)]


def sample_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, seed in SAMPLES:
        path = folder / f"{kind}{seed}.jpg"
        path.write_bytes(picture(kind, seed))
        paths.append(path)
    return paths


def server_predictions(trained: Trained) -> list[dict[str, float]]:
    return [
        by_tag(
            trained.predictor.classify_image_with_no_store(
                trained.project_id, trained.publish_name, picture(kind, seed)
            ).predictions
        )
        for kind, seed in SAMPLES
    ]


def assert_same(ours: list[dict[str, float]], theirs: list[dict[str, float]], tolerance: float) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert set(a) == set(b)
        assert max(a, key=a.__getitem__) == max(b, key=b.__getitem__)
        assert max(abs(a[t] - b[t]) for t in a) <= tolerance, (a, b)


@pytest.mark.parametrize(
    ("flavor", "tolerance"),
    [(None, SAME_MODEL_TOLERANCE), ("ONNX12", CONVERTED_TOLERANCE), ("ONNX10", CONVERTED_TOLERANCE)],
)
def test_onnx_export_predicts_like_the_server(
    classifier: Trained, tmp_path: Path, flavor: str | None, tolerance: float
) -> None:
    started = classifier.trainer.export_iteration(classifier.project_id, classifier.iteration_id, "ONNX", flavor=flavor)
    assert (started.platform, started.flavor, started.status, started.download_uri) == (
        "ONNX",
        flavor,
        "Exporting",
        None,
    )

    done = wait_for_export(classifier, "ONNX", flavor)

    assert done.status == "Done", done.additional_properties.get("errorDetails")
    assert done.newer_version_available is False
    bundle = download(done.download_uri, tmp_path / "bundle")
    assert {p.name for p in bundle.iterdir()} >= {
        "model.onnx",
        "model.json",
        "labels.txt",
        "predict.py",
        "README.md",
        "verification.json",
    }
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["onnx_opset"] == {None: 17, "ONNX12": 12, "ONNX10": 10}[flavor]
    assert (bundle / "labels.txt").read_text().splitlines() == [t["name"] for t in meta["tags"]]
    assert set(meta["preprocess"]) >= {"input_height", "input_width", "mean", "resize_mode", "std"}
    assert "Input" in (bundle / "README.md").read_text()
    ours = [by_tag(r["predictions"]) for r in run_predict(bundle, sample_files(tmp_path / "images"))]
    assert_same(ours, server_predictions(classifier), tolerance)


def test_docker_export_serves_the_prediction_api(classifier: Trained, tmp_path: Path) -> None:
    classifier.trainer.export_iteration(classifier.project_id, classifier.iteration_id, "DockerFile")
    done = wait_for_export(classifier, "DockerFile", "Linux")
    assert done.status == "Done", done.additional_properties.get("errorDetails")
    bundle = download(done.download_uri, tmp_path / "bundle")
    dockerfile = (bundle / "Dockerfile").read_text()
    assert dockerfile.startswith("FROM python:") and "app.py" in dockerfile
    assert "onnxruntime" in (bundle / "requirements.txt").read_text()
    theirs = server_predictions(classifier)

    with serve_bundle(bundle) as url:
        raw = [httpx.post(url + "/image", content=picture(k, s), timeout=60).json() for k, s in SAMPLES]
        sdk = CustomVisionPredictionClient(url, ApiKeyCredentials(in_headers={"Prediction-key": "unused"}))
        via_sdk = [sdk.classify_image(classifier.project_id, "anything", picture(k, s)) for k, s in SAMPLES]
        wrong_task = httpx.post(
            f"{url}/customvision/v3.0/prediction/{classifier.project_id}/detect/iterations/x/image",
            content=picture("disc", 1),
            timeout=60,
        )
        not_an_image = httpx.post(url + "/image", content=b"not an image", timeout=60)

    assert_same([by_tag(r["predictions"]) for r in raw], theirs, SAME_MODEL_TOLERANCE)
    assert_same([by_tag(r.predictions) for r in via_sdk], theirs, SAME_MODEL_TOLERANCE)
    assert all(r["iteration"] == classifier.iteration_id and r["project"] == classifier.project_id for r in raw)
    assert (wrong_task.status_code, wrong_task.json()["code"]) == (400, "BadRequestNotSupported")
    assert (not_an_image.status_code, not_an_image.json()["code"]) == (400, "BadRequestImageFormat")


def test_exporting_again_replaces_the_package(classifier: Trained) -> None:
    first = classifier.trainer.export_iteration(classifier.project_id, classifier.iteration_id, "ONNX", flavor="ONNX12")
    done = wait_for_export(classifier, "ONNX", "ONNX12")
    assert done.status == "Done"
    old_uri = done.download_uri
    assert first.additional_properties["id"] == done.additional_properties["id"]

    classifier.trainer.export_iteration(classifier.project_id, classifier.iteration_id, "onnx", flavor="onnx12")
    again = wait_for_export(classifier, "ONNX", "ONNX12")

    assert again.status == "Done" and again.additional_properties["id"] != done.additional_properties["id"]
    assert httpx.get(old_uri).status_code == 404
    assert httpx.get(again.download_uri).status_code == 200
    listed = classifier.trainer.get_exports(classifier.project_id, classifier.iteration_id)
    kinds = [(e.platform, e.flavor) for e in listed]
    assert len(kinds) == len(set(kinds))  # one per platform and flavor


def test_v34_preview_path_and_plain_http_list_the_same_exports(classifier: Trained) -> None:
    srv, keys = classifier.server, classifier.keys
    urls = [f"{srv.url}/customvision/{v}/training{classifier.export_path()}" for v in ("v3.3", "v3.4-preview")]
    bodies = [httpx.get(u, headers={"Training-Key": keys.training_key}).json() for u in urls]
    assert bodies[0] == bodies[1]
    for e in bodies[0]:
        assert set(e) >= {"platform", "status", "downloadUri", "flavor", "newerVersionAvailable"}


def test_deleting_the_iteration_deletes_its_exports(classifier: Trained) -> None:
    trainer, srv = classifier.trainer, classifier.server
    it = trainer.train_project(classifier.project_id, force_train=True)
    assert wait_for(trainer, classifier.project_id, it.id).status == "Completed"
    trainer.export_iteration(classifier.project_id, it.id, "ONNX")
    other = Trained(srv, classifier.keys, trainer, classifier.predictor, classifier.project_id, it.id, "")
    done = wait_for_export(other, "ONNX")
    assert done.status == "Done"
    prefix = f"projects/{classifier.project_id}/iterations/{it.id}/exports/"
    assert list(srv.ctx.blobs.list(prefix))

    trainer.delete_iteration(classifier.project_id, it.id)

    assert list(srv.ctx.blobs.list(prefix)) == []
    assert httpx.get(done.download_uri).status_code == 404
    with srv.ctx.db.read() as s:
        assert s.query(Export).filter(Export.iteration_id == uuid.UUID(it.id)).count() == 0
