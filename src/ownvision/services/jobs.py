"""The job queue in the database: claim atomically, heartbeat, finish, and recover from dead workers.

A claim is one conditional UPDATE (``... WHERE id = :candidate AND status = 'queued'``); only the
worker whose UPDATE changed the row owns the job, on SQLite and PostgreSQL alike. A job whose
heartbeat is older than ``job_stale_after_s`` belonged to a worker that died: it is queued again
while attempts remain, else failed, and its iteration is marked Failed with the reason.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from ..db.tables import Iteration, Job, utcnow
from ..domain.enums import IterationStatus
from .context import Context

log = logging.getLogger(__name__)


def claim_next(ctx: Context, *, worker_id: str, kinds: tuple[str, ...] | None = None) -> Job | None:
    """Take the oldest queued job, or return None when there is none."""
    for _ in range(5):
        with ctx.db.write() as s:
            q = select(Job.id).where(Job.status == "queued")
            if kinds:
                q = q.where(Job.kind.in_(kinds))
            candidate = s.scalar(q.order_by(Job.created).limit(1))
            if candidate is None:
                return None
            now = utcnow()
            res = s.execute(
                update(Job)
                .where(Job.id == candidate, Job.status == "queued")
                .values(status="running", worker_id=worker_id, heartbeat_at=now, started=now,
                        attempts=Job.attempts + 1)
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                job = s.get(Job, candidate)
                assert job is not None
                s.refresh(job)
                return job
    return None


def heartbeat(ctx: Context, *, job_id: uuid.UUID, worker_id: str) -> bool:
    """Record that the job is alive; False if it is gone or no longer ours (deleted, taken over)."""
    with ctx.db.write() as s:
        res = s.execute(
            update(Job).where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(heartbeat_at=utcnow())
        )
        return bool(res.rowcount)  # type: ignore[attr-defined]


def finish(ctx: Context, *, job_id: uuid.UUID, error: str | None = None) -> None:
    with ctx.db.write() as s:
        s.execute(update(Job).where(Job.id == job_id).values(
            status="failed" if error else "done", finished=utcnow(), error=error))


def recover_stale(ctx: Context) -> int:
    """Requeue or fail running jobs whose worker stopped sending heartbeats; returns how many."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.job_stale_after_s)
    handled = 0
    with ctx.db.write() as s:
        stale = list(s.scalars(select(Job).where(Job.status == "running", Job.heartbeat_at < cutoff)))
        for job in stale:
            handled += 1
            it = s.get(Iteration, job.iteration_id) if job.iteration_id else None
            if job.attempts < ctx.settings.job_max_attempts:
                job.status, job.worker_id = "queued", None
                if it is not None and it.status == IterationStatus.TRAINING.value:
                    it.progress, it.progress_message = 0.0, f"Restarting: the worker stopped (attempt {job.attempts})"
                log.warning("job %s (%s) lost its worker; queued again", job.id, job.kind)
            else:
                reason = (f"The worker running this job stopped {job.attempts} time(s) "
                          "(killed, out of memory, or the machine restarted); giving up.")
                job.status, job.finished, job.error = "failed", utcnow(), reason
                if it is not None and it.status == IterationStatus.TRAINING.value:
                    it.status, it.training_error_details, it.last_modified = IterationStatus.FAILED.value, reason, utcnow()
                log.error("job %s (%s) failed: %s", job.id, job.kind, reason)
    return handled
