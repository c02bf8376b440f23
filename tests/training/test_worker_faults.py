"""A worker killed in the middle of a training: the job is retried by another worker, or failed clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import LiveServer, make_settings, start_server, stop_server
from .conftest import clients, upload, wait_for


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path / "data"))
    yield srv
    stop_server(srv)


def spawn_worker(data_dir: Path, **env: str) -> subprocess.Popen[bytes]:
    full = dict(os.environ, OWNVISION_DATA_DIR=str(data_dir), OWNVISION_JOB_HEARTBEAT_S="0.3",
                OWNVISION_JOB_STALE_AFTER_S="3", OWNVISION_WORKER_POLL_S="0.2", OWNVISION_TRAIN_THREADS="2", **env)
    return subprocess.Popen([sys.executable, "-m", "ownvision", "worker"], env=full)


def start_training(srv: LiveServer) -> tuple[object, str, str]:
    trainer = clients(srv, srv.new_account())[0]
    domain = next(d for d in trainer.get_domains() if d.name == "General (compact)" and d.type == "Classification")
    p = trainer.create_project("faults", domain_id=domain.id)
    a, b = trainer.create_tag(p.id, "a"), trainer.create_tag(p.id, "b")
    upload(trainer, p.id, a.id, "disc", range(6))
    upload(trainer, p.id, b.id, "stripes", range(6))
    return trainer, p.id, trainer.train_project(p.id).id


def wait_until_running(trainer: object, project_id: str, iteration_id: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        it = trainer.get_iteration(project_id, iteration_id)  # type: ignore[attr-defined]
        if it.additional_properties.get("progressMessage") not in (None, "Queued"):
            return
        time.sleep(0.1)
    raise AssertionError("the worker never started the training")


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_worker_killed_mid_training_is_retried_by_another_worker(server: LiveServer) -> None:
    trainer, pid, iid = start_training(server)
    first = spawn_worker(server.settings.data_dir)
    try:
        wait_until_running(trainer, pid, iid)
        kill(first)
        assert trainer.get_iteration(pid, iid).status == "Training"
        second = spawn_worker(server.settings.data_dir)
        try:
            it = wait_for(trainer, pid, iid, timeout=180)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            kill(first)
    assert it.status == "Completed", it.training_error_details


def test_worker_killed_with_no_attempts_left_fails_the_iteration_with_a_reason(server: LiveServer) -> None:
    trainer, pid, iid = start_training(server)
    first = spawn_worker(server.settings.data_dir, OWNVISION_JOB_MAX_ATTEMPTS="1")
    try:
        wait_until_running(trainer, pid, iid)
        kill(first)
        second = spawn_worker(server.settings.data_dir, OWNVISION_JOB_MAX_ATTEMPTS="1")
        try:
            it = wait_for(trainer, pid, iid, timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            kill(first)
    assert it.status == "Failed"
    assert "worker" in it.training_error_details and "stopped" in it.training_error_details
