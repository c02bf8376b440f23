"""Runs one export job: lay out a work folder, build the bundle in a child process, store the zip.

The build runs as ``python -m ownvision.exporters`` so that a converter that crashes, hangs or eats
memory fails the export rather than the worker. The zip is stored under the export's own folder
(``projects/<p>/iterations/<i>/exports/<export id>/``) and the export marked Done, but only if the
export still exists and is still Exporting; if it was deleted meanwhile (with its iteration or
project), the file is removed again. Every way the build can fail marks the export Failed with a
reason a user can act on.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from ..db.tables import Export, Image, Iteration, IterationImage, Job
from ..domain.domains import find_domain
from ..exporters.base import IMAGES_DIR, MODEL_FILE, ExportSource
from ..services import exports
from ..services.context import Context
from ..services.iterations import iteration_tags

log = logging.getLogger(__name__)

# A build that runs longer than this is stopped and the export failed.
BUILD_TIMEOUT_S = 30 * 60.0
# Sample images copied for the bundle's verification (and int8 calibration).
SAMPLE_IMAGES = 8
_POLL_S = 0.5
_STDERR_TAIL = 1500


@dataclass(frozen=True)
class _Task:
    export_id: uuid.UUID
    project_id: uuid.UUID
    iteration_id: uuid.UUID
    platform: str
    flavor: str | None
    source: ExportSource
    model_key: str
    image_keys: list[str]


class _BuildFailed(Exception):
    """The child process could not build the bundle; ``str(exc)`` is the reason shown to the user."""


def run_export(ctx: Context, job: Job, alive: Callable[[], bool]) -> None:
    export_id = uuid.UUID(str(job.payload.get("export_id")))
    try:
        task = _load(ctx, export_id)
        if task is None:
            log.info("export %s is gone or no longer exporting; nothing to do", export_id)
            return
        with tempfile.TemporaryDirectory(prefix="ownvision-export-") as tmp:
            workdir = Path(tmp)
            _lay_out(ctx, task, workdir)
            zip_path = _build(task, workdir, alive)
            if zip_path is None:
                log.info("export %s stopped (job cancelled or worker stopping)", export_id)
                return
            _store(ctx, task, zip_path)
    except _BuildFailed as exc:
        _fail(ctx, export_id, str(exc))
    except Exception as exc:
        _fail(ctx, export_id, f"Export failed unexpectedly: {type(exc).__name__}: {exc}")
        raise


def _load(ctx: Context, export_id: uuid.UUID) -> _Task | None:
    """What the build needs, or None when there is nothing to do (the export is gone or finished).

    Raises:
        _BuildFailed: The iteration has no model to export.
    """
    with ctx.db.read() as s:
        e = s.get(Export, export_id)
        if e is None or e.status != exports.EXPORTING:
            return None
        it = s.get(Iteration, e.iteration_id)
        if it is None:
            return None
        if not it.model_key or not it.model_manifest:
            raise _BuildFailed(f"Iteration {it.id} has no trained model to export.")
        names = {str(t.tag_id): t for t in iteration_tags(s, it.id)}
        tags = [
            {
                "id": tid,
                "name": names[tid].name if tid in names else tid,
                "type": names[tid].type if tid in names else "Regular",
            }
            for tid in it.model_manifest["tags"]
        ]
        domain = find_domain(it.domain_id)
        keys = list(
            s.scalars(
                select(Image.resized_key)
                .join(IterationImage, IterationImage.image_id == Image.id)
                .where(IterationImage.iteration_id == it.id)
                .order_by(Image.created, Image.id)
                .limit(SAMPLE_IMAGES)
            )
        )
        iteration = {
            "id": str(it.id),
            "name": it.name,
            "projectId": str(it.project_id),
            "trainedAt": it.trained_at.strftime("%Y-%m-%dT%H:%M:%SZ") if it.trained_at else None,
            "domain": domain.name if domain else str(it.domain_id),
        }
        source = ExportSource(Path(MODEL_FILE), dict(it.model_manifest), tags, iteration)
        return _Task(e.id, e.project_id, e.iteration_id, e.platform, e.flavor, source, it.model_key, keys)


def _lay_out(ctx: Context, task: _Task, workdir: Path) -> None:
    """``source.json``, ``model.onnx`` and ``images/`` as ``ownvision.exporters.base`` describes."""
    task.source.save(workdir)
    (workdir / MODEL_FILE).write_bytes(ctx.blobs.get(task.model_key))
    images = workdir / IMAGES_DIR
    images.mkdir()
    for i, key in enumerate(task.image_keys):
        try:
            data = ctx.blobs.get(key)
        except KeyError:  # an image deleted since training: verify with the others
            continue
        (images / f"{i:03d}{Path(key).suffix or '.jpg'}").write_bytes(data)


def _build(task: _Task, workdir: Path, alive: Callable[[], bool]) -> Path | None:
    """Run the build in a child process; the zip's path, or None when the job was stopped."""
    cmd = [sys.executable, "-m", "ownvision.exporters", str(workdir), "--platform", task.platform]
    if task.flavor:
        cmd += ["--flavor", task.flavor]
    log.info("building export %s: %s %s", task.export_id, task.platform, task.flavor or "")
    stderr_path = workdir / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        child = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=stderr, cwd=workdir, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        try:
            while child.poll() is None:
                if not alive():
                    child.kill()
                    child.wait()
                    return None
                if time.monotonic() > deadline:
                    child.kill()
                    child.wait()
                    raise _BuildFailed(
                        f"The {task.platform} export took longer than {BUILD_TIMEOUT_S / 60:.0f} "
                        "minutes and was stopped."
                    )
                time.sleep(_POLL_S)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    result_path = workdir / "result.json"
    result = json.loads(result_path.read_text(encoding="utf-8")) if result_path.exists() else None
    if result is not None and result.get("ok"):
        return Path(result["zip"])
    if result is not None:
        raise _BuildFailed(f"{task.platform} export failed: {result.get('error')}")
    tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-_STDERR_TAIL:].strip()
    how = f"was killed by signal {-child.returncode}" if child.returncode < 0 else f"exited with {child.returncode}"
    raise _BuildFailed(
        f"The {task.platform} converter process {how} (out of memory or a crash)" + (f": {tail}" if tail else ".")
    )


def _store(ctx: Context, task: _Task, zip_path: Path) -> None:
    key = f"{exports.export_prefix(task.project_id, task.iteration_id, task.export_id)}{zip_path.name}"
    data = zip_path.read_bytes()
    ctx.blobs.put(key, data)
    with ctx.db.write() as s:
        done = exports.complete_export(s, task.export_id, blob_key=key, size_bytes=len(data))
    if not done:
        ctx.blobs.delete_prefix(exports.export_prefix(task.project_id, task.iteration_id, task.export_id))
        log.info("export %s was deleted while it was built; its file was removed", task.export_id)
        return
    log.info("export %s done: %s, %d bytes", task.export_id, key, len(data))


def _fail(ctx: Context, export_id: uuid.UUID, reason: str) -> None:
    log.warning("export %s failed: %s", export_id, reason)
    with ctx.db.write() as s:
        exports.fail_export(s, export_id, reason)
