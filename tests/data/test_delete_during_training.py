"""Deleting a project while its training runs: the job stops and nothing it would write survives."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

from ..conftest import LiveServer
from ..training.conftest import clients, trainer_server, upload  # noqa: F401  (trainer_server is a fixture)
from .conftest import GENERAL_COMPACT, scan


class _Watch(logging.Handler):
    """Remembers the worker's log lines about one iteration."""

    def __init__(self, iteration_id: str) -> None:
        super().__init__()
        self.iteration_id, self.lines, self.ended = iteration_id, [], threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if self.iteration_id in msg:
            self.lines.append(msg)
            if any(w in msg for w in ("cancelled", "deleted during training", "gone", "completed")):
                self.ended.set()
        if "job" in msg and ("ended" in msg or "failed" in msg):
            self.ended.set()


def test_delete_project_while_training_stops_the_job_and_leaves_nothing(trainer_server: LiveServer) -> None:  # noqa: F811
    pytest.importorskip("ownvision.ml.classifier", reason="the classifier trainer is not available")
    trainer, _ = clients(trainer_server, trainer_server.new_account())
    project = trainer.create_project("trainingdoomed", domain_id=GENERAL_COMPACT)
    a, b = trainer.create_tag(project.id, "doomed-a"), trainer.create_tag(project.id, "doomed-b")
    upload(trainer, project.id, a.id, "disc", range(6))
    upload(trainer, project.id, b.id, "stripes", range(6))
    iteration = trainer.train_project(project.id)
    watch = _Watch(iteration.id)
    loggers = [logging.getLogger("ownvision.worker.training_job"), logging.getLogger("ownvision.worker.loop")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(watch)
        lg.setLevel(logging.INFO)
    try:
        deadline = time.time() + 120
        while True:  # until the worker is really training (past loading, progress reported)
            it = trainer.get_iteration(project.id, iteration.id)
            if it.status != "Training":
                pytest.fail(f"the training ended before it could be interrupted: {it.status}")
            if it.additional_properties.get("progressMessage") not in (None, "", "Queued"):
                break
            assert time.time() < deadline, "the worker never started the training"
            time.sleep(0.05)

        trainer.delete_project(project.id)
        assert trainer.get_projects() == []

        assert watch.ended.wait(60), f"the worker did not stop: {watch.lines}"
        time.sleep(1.5)  # anything still in flight would land now
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(watch)
            lg.setLevel(level)

    data_dir = trainer_server.settings.data_dir
    pid = uuid.UUID(project.id)
    needles = {
        "ids": [v.encode() for i in (iteration.id, a.id, b.id) for v in (i, uuid.UUID(i).hex)] + [pid.hex.encode()],
        "names": [b"trainingdoomed", b"doomed-a", b"doomed-b"],
    }
    assert scan(data_dir, needles, audit_may_hold=[project.id.encode()]) == []
    assert not (data_dir / "blobs" / "projects" / project.id).exists()
    assert any("cancelled" in line or "deleted during training" in line for line in watch.lines), watch.lines
    assert not any("completed in" in line for line in watch.lines), watch.lines


class _FakeResult:
    """What ``train_classifier`` returns, as far as the training job reads it."""

    def __init__(self, n: int, classes: int) -> None:
        self.onnx_model = b"late-model-bytes" * 64
        self.held_out = [(i, [1.0 / classes] * classes) for i in range(n)]
        self.details: dict[str, object] = {}

        class _Pre:
            def to_dict(self) -> dict[str, object]:
                return {}

        self.preprocess = _Pre()


def test_training_that_finishes_after_the_deletion_saves_nothing(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The worst race: the trainer ignores the stop request and hands back a model after the deletion."""
    import sys
    import types

    from ownvision.worker.loop import run_worker

    from ..conftest import make_settings, start_server, stop_server

    deleted, started = threading.Event(), threading.Event()

    def train_classifier(samples, classes, config, *, progress, should_stop):  # type: ignore[no-untyped-def]
        progress(0.1, "Training (fake)")
        started.set()
        deleted.wait(30)
        time.sleep(0.5)  # a heartbeat or two passes: the job row is gone
        return _FakeResult(len(samples), classes)

    fake = types.ModuleType("ownvision.ml.classifier")
    fake.train_classifier = train_classifier  # type: ignore[attr-defined]
    fake.ClassifierConfig = lambda **kw: types.SimpleNamespace(**kw)  # type: ignore[attr-defined]
    fake.TrainingSample = lambda **kw: types.SimpleNamespace(**kw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ownvision.ml.classifier", fake)
    caplog.set_level(logging.INFO, logger="ownvision.worker.training_job")

    srv = start_server(make_settings(tmp_path_factory.mktemp("race"), job_heartbeat_s=0.2, worker_poll_s=0.1))
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(srv.ctx,), kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        trainer, _ = clients(srv, srv.new_account())
        project = trainer.create_project("racedoomed", domain_id=GENERAL_COMPACT)
        a, b = trainer.create_tag(project.id, "race-a"), trainer.create_tag(project.id, "race-b")
        upload(trainer, project.id, a.id, "disc", range(5))
        upload(trainer, project.id, b.id, "stripes", range(5))
        iteration = trainer.train_project(project.id)
        assert started.wait(30), "the worker did not start the training"
        trainer.delete_project(project.id)
        deleted.set()
        removed = f"iteration {iteration.id} was deleted during training; its files were removed"
        deadline = time.time() + 30
        while removed not in caplog.text:  # the job wrote its model, found the iteration gone, removed it
            assert time.time() < deadline, caplog.text
            time.sleep(0.1)
        data_dir = srv.settings.data_dir
        needles = {"ids": [v.encode() for i in (iteration.id, a.id, b.id, project.id.replace("-", ""))
                           for v in {i, uuid.UUID(i).hex}],
                   "names": [b"racedoomed", b"race-a", b"race-b", b"late-model-bytes"]}
        assert scan(data_dir, needles, audit_may_hold=[project.id.encode()]) == []
    finally:
        stop.set()
        worker.join(timeout=30)
        stop_server(srv)
