"""The worker loop: claim a job, run it with a heartbeat beside it, repeat; recover dead workers' jobs.

``ownvision serve`` starts worker processes beside the API (``--workers``); ``ownvision worker`` runs
one on its own, on this machine or another that shares the database and blob store.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import update

from ..db.tables import Job
from ..services import jobs
from ..services.context import Context
from ..services.predictions import purge_old_predictions

log = logging.getLogger(__name__)

MAINTENANCE_EVERY_S = 30.0


class Heartbeat:
    """Beats for a running job in a thread; ``alive()`` turns False when the job is gone or we must stop."""

    def __init__(self, ctx: Context, job_id: uuid.UUID, worker_id: str, stop: threading.Event) -> None:
        self.ctx, self.job_id, self.worker_id, self.stop = ctx, job_id, worker_id, stop
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.ctx.settings.job_heartbeat_s):
            try:
                if not jobs.heartbeat(self.ctx, job_id=self.job_id, worker_id=self.worker_id):
                    self.lost.set()
                    return
            except Exception:  # a busy database must not kill the job; the next beat retries
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)

    def alive(self) -> bool:
        return not self.lost.is_set() and not self.stop.is_set()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def _runner(kind: str) -> Callable[[Context, Job, Callable[[], bool]], None]:
    if kind == "train":
        from .training_job import run_training

        return run_training
    if kind == "export":
        from .export_job import run_export

        return run_export
    raise ValueError(f"unknown job kind {kind!r}")


def run_job(ctx: Context, job: Job, worker_id: str, stop: threading.Event) -> None:
    log.info("job %s (%s) started, attempt %d", job.id, job.kind, job.attempts)
    with Heartbeat(ctx, job.id, worker_id, stop) as hb:
        try:
            _runner(job.kind)(ctx, job, hb.alive)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            jobs.finish(ctx, job_id=job.id, error=str(exc) or type(exc).__name__)
            return
    if stop.is_set() and not hb.lost.is_set():
        # Stopped on purpose (shutdown): hand the job back at once, without counting the attempt.
        with ctx.db.write() as s:
            s.execute(update(Job).where(Job.id == job.id, Job.status == "running").values(
                status="queued", worker_id=None, attempts=Job.attempts - 1))
        log.info("job %s handed back for another worker", job.id)
        return
    if not hb.lost.is_set():
        jobs.finish(ctx, job_id=job.id)
    log.info("job %s (%s) ended", job.id, job.kind)


def run_worker(ctx: Context, *, stop: threading.Event | None = None, once: bool = False) -> None:
    """Process jobs until ``stop`` is set (or, with ``once``, until the queue is empty)."""
    stop = stop or threading.Event()
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info("worker %s started", worker_id)
    last_maintenance = 0.0
    maintenance_every = min(MAINTENANCE_EVERY_S, ctx.settings.job_stale_after_s / 2)
    while not stop.is_set():
        if time.monotonic() - last_maintenance > maintenance_every:
            last_maintenance = time.monotonic()
            try:
                jobs.recover_stale(ctx)
                purge_old_predictions(ctx, older_than_days=ctx.settings.prediction_retention_days)
            except Exception:
                log.warning("maintenance failed", exc_info=True)
        job = jobs.claim_next(ctx, worker_id=worker_id)
        if job is None:
            if once:
                return
            stop.wait(ctx.settings.worker_poll_s)
            continue
        run_job(ctx, job, worker_id, stop)
    log.info("worker %s stopped", worker_id)
