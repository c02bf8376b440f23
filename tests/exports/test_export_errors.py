"""ExportIteration's refusals and failures: each with its Custom Vision code and a message that says why.

The refusals need no trained model, only an iteration in the right state, so these tests write the
iteration straight into the database of a server without a worker (an export stays Exporting there).
The failures that happen in the worker (a missing converter, a model that cannot be read) use the
module's server with a worker.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ownvision.db.tables import Iteration, IterationTag, Job, Tag, utcnow
from ownvision.exporters import EXPORTERS
from ownvision.services.accounts import AccountKeys

from ..conftest import LiveServer, make_settings, start_server, stop_server
from ..training.conftest import clients
from .conftest import CLASSIFICATION_COMPACT, DETECTION_COMPACT, TRAINING, Trained, wait_for_export

GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
GENERAL_COMPACT_S1 = "a1db07ca-a19a-4830-bae8-e004a42dc863"


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without a worker: exports stay Exporting."""
    srv = start_server(make_settings(tmp_path_factory.mktemp("idle-exports")))
    yield srv
    stop_server(srv)


def add_iteration(
    srv: LiveServer,
    keys: AccountKeys,
    *,
    domain_id: str = CLASSIFICATION_COMPACT,
    status: str = "Completed",
    model: bytes = b"not an onnx model",
) -> Trained:
    """A project with one tag and an iteration in the given state, written into the database."""
    trainer, predictor = clients(srv, keys)
    project = trainer.create_project(f"errors-{uuid.uuid4().hex[:6]}", domain_id=CLASSIFICATION_COMPACT)
    tag = trainer.create_tag(project.id, "only")
    pid, iid = uuid.UUID(project.id), uuid.uuid4()
    key = f"projects/{pid}/iterations/{iid}/model.onnx"
    srv.ctx.blobs.put(key, model)
    with srv.ctx.db.write() as s:
        now = utcnow()
        s.add(
            Iteration(
                id=iid,
                project_id=pid,
                name="Iteration 1",
                status=status,
                created=now,
                last_modified=now,
                trained_at=now if status == "Completed" else None,
                domain_id=uuid.UUID(domain_id),
                classification_type="Multiclass",
                model_key=key if status == "Completed" else None,
                model_manifest={
                    "task": "classification",
                    "multilabel": False,
                    "tags": [tag.id],
                    "backbone": "lite0",
                    "preprocess": {"input_size": 224},
                }
                if status == "Completed"
                else None,
            )
        )
        s.flush()
        t = s.get(Tag, uuid.UUID(tag.id))
        assert t is not None
        s.add(IterationTag(iteration_id=iid, tag_id=t.id, position=0, name=t.name, type=t.type, image_count=5))
    return Trained(srv, keys, trainer, predictor, project.id, str(iid), "")


def export(trained: Trained, **params: str) -> httpx.Response:
    with trained.http() as client:
        return client.post(trained.export_path(), params=params)


def refusal(resp: httpx.Response) -> tuple[int, str]:
    return resp.status_code, resp.json()["code"]


@pytest.fixture()
def keys(idle: LiveServer) -> AccountKeys:
    return idle.new_account()


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({}, "BadRequestRequiredParamIsNull", "platform is required"),
        ({"platform": "Banana"}, "BadRequestExportValidationFailed", "Unknown export platform 'Banana'; choose one"),
        (
            {"platform": "VAIDK"},
            "BadRequestExportValidationFailed",
            "VAIDK (Vision AI Dev Kit) export is not supported",
        ),
        ({"platform": "ONNX", "flavor": "Linux"}, "BadRequestExportValidationFailed", "flavors are ONNX10, ONNX12"),
        ({"platform": "OpenVino", "flavor": "ONNX12"}, "BadRequestExportValidationFailed", "takes no flavor"),
    ],
)
def test_export_with_bad_platform_or_flavor_is_refused(
    idle: LiveServer, keys: AccountKeys, params: dict[str, str], code: str, words: str
) -> None:
    resp = export(add_iteration(idle, keys), **params)
    assert refusal(resp) == (400, code)
    assert words in resp.json()["message"]


@pytest.mark.parametrize(
    ("domain_id", "status", "code", "words"),
    [
        (GENERAL, "Completed", "BadRequestExportValidationFailed", "not exportable: only compact domains export"),
        (CLASSIFICATION_COMPACT, "Training", "BadRequestExportWhileTraining", "still training"),
        (CLASSIFICATION_COMPACT, "Failed", "BadRequestExportValidationFailed", "only a completed iteration"),
    ],
)
def test_export_of_an_iteration_that_cannot_export_is_refused(
    idle: LiveServer, keys: AccountKeys, domain_id: str, status: str, code: str, words: str
) -> None:
    resp = export(add_iteration(idle, keys, domain_id=domain_id, status=status), platform="ONNX")
    assert refusal(resp) == (400, code)
    assert words in resp.json()["message"]


def test_export_of_an_unknown_iteration_is_not_found(idle: LiveServer, keys: AccountKeys) -> None:
    trained = add_iteration(idle, keys)
    trained.iteration_id = str(uuid.uuid4())
    assert refusal(export(trained, platform="ONNX")) == (404, "NotFoundIteration")
    with trained.http() as client:
        assert refusal(client.get(trained.export_path())) == (404, "NotFoundIteration")


def test_a_second_export_of_the_same_platform_and_flavor_waits_for_the_first(
    idle: LiveServer, keys: AccountKeys
) -> None:
    trained = add_iteration(idle, keys, domain_id=GENERAL_COMPACT_S1)
    first = export(trained, platform="ONNX")
    assert first.status_code == 200
    assert {k: first.json()[k] for k in ("platform", "status", "downloadUri", "flavor", "newerVersionAvailable")} == {
        "platform": "ONNX",
        "status": "Exporting",
        "downloadUri": None,
        "flavor": None,
        "newerVersionAvailable": False,
    }

    again = export(trained, platform="onnx")
    other_flavor = export(trained, platform="ONNX", flavor="ONNX12")
    docker = export(trained, platform="DockerFile")

    assert refusal(again) == (400, "BadRequestExportAlreadyInProgress")
    assert "already queued for export to ONNX" in again.json()["message"]
    assert other_flavor.status_code == 200 and docker.status_code == 200
    # the platform's default flavor, so that DockerFile and DockerFile/Linux are one
    assert docker.json()["flavor"] == "Linux"
    assert refusal(export(trained, platform="DockerFile", flavor="linux")) == (400, "BadRequestExportAlreadyInProgress")
    listed = trained.trainer.get_exports(trained.project_id, trained.iteration_id)
    assert [(e.platform, e.flavor, e.status) for e in listed] == [
        ("ONNX", None, "Exporting"),
        ("ONNX", "ONNX12", "Exporting"),
        ("DockerFile", "Linux", "Exporting"),
    ]


def test_an_export_whose_job_failed_for_good_is_listed_as_failed(idle: LiveServer, keys: AccountKeys) -> None:
    trained = add_iteration(idle, keys)
    export_id = export(trained, platform="ONNX").json()["id"]
    reason = "The worker running this job stopped 2 time(s) (killed, out of memory, or the machine restarted)"
    with idle.ctx.db.write() as s:  # what jobs.recover_stale does when no attempt is left
        job = s.query(Job).filter(Job.iteration_id == uuid.UUID(trained.iteration_id), Job.kind == "export").one()
        assert job.payload == {"export_id": export_id}
        job.status, job.error = "failed", reason

    [listed] = trained.trainer.get_exports(trained.project_id, trained.iteration_id)

    assert listed.status == "Failed" and listed.additional_properties["errorDetails"] == reason
    assert export(trained, platform="ONNX").status_code == 200  # and it can be exported again


def test_detection_iterations_export_to_the_detection_platforms(idle: LiveServer, keys: AccountKeys) -> None:
    trained = add_iteration(idle, keys, domain_id=DETECTION_COMPACT)
    assert export(trained, platform="ONNX").status_code == 200
    with trained.http() as client:
        it = client.get(f"/projects/{trained.project_id}/iterations/{trained.iteration_id}").json()
    assert "VAIDK" not in it["exportableTo"] and "ONNX" in it["exportableTo"]


# ---- failures in the worker -----------------------------------------------------------------------


def missing_converters() -> list[Any]:
    """Platforms whose converter package is not installed here (their export must fail clearly)."""
    modules = {"OpenVino": "openvino", "TensorFlow": "tensorflow", "CoreML": "coremltools"}
    out = [
        pytest.param(p, e.extra, id=p)
        for p, e in EXPORTERS.items()
        if p in modules and importlib.util.find_spec(modules[p]) is None
    ]
    return out or [pytest.param(None, None, marks=pytest.mark.skip(reason="every converter is installed"))]


@pytest.mark.parametrize(("platform", "extra"), missing_converters())
def test_export_without_its_converter_fails_naming_the_extra(
    export_server: LiveServer, classifier: Trained, platform: str, extra: str
) -> None:
    classifier.trainer.export_iteration(classifier.project_id, classifier.iteration_id, platform)
    flavor = EXPORTERS[platform].default_flavor
    failed = wait_for_export(classifier, platform, flavor)
    assert failed.status == "Failed" and failed.download_uri is None
    assert f"pip install 'ownvision[{extra}]'" in failed.additional_properties["errorDetails"]


def test_export_of_a_broken_model_fails_with_the_reason(export_server: LiveServer) -> None:
    trained = add_iteration(export_server, export_server.new_account(), model=b"garbage")
    with trained.http() as client:
        assert client.post(trained.export_path(), params={"platform": "ONNX", "flavor": "ONNX12"}).status_code == 200
    failed = wait_for_export(trained, "ONNX", "ONNX12")
    assert failed.status == "Failed"
    assert "ONNX export failed" in failed.additional_properties["errorDetails"]
    with httpx.Client(
        base_url=export_server.url + TRAINING, headers={"Training-Key": trained.keys.training_key}
    ) as client:
        [row] = client.get(trained.export_path()).json()
    assert row["downloadUri"] is None and row["errorDetails"]
