"""Project archives: one zip that holds a project, for moving it to another ownvision server.

Layout (paths inside the zip; every file is listed with its size and SHA-256 in ``manifest.json``)::

    project.json                      the project's settings
    tags.json                         [tag]
    images.json                       [image with tags, regions, metadata, "file"]
    images/<id>/original.<ext>        each image exactly as it was uploaded
    iterations.json                   [iteration with its tags and model manifest]   (optional)
    iterations/<id>/training-set.json [image id, tags, regions, held-out prediction]
    iterations/<id>/model.onnx        the trained model
    manifest.json                     {"format": "ownvision-project-archive", "version": 1, "files": [...]}

The folder of each project in an account's data export (``projects/<id>/``) has the same layout,
plus stored predictions and exports. Importing checks every file against the manifest and every
record before anything is kept; a bad archive is refused whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import select

from .. import __version__, errors
from ..db.tables import Export, Iteration, utcnow
from ..domain.enums import IterationStatus
from ..imaging.ingest import ImageRejected, IngestedImage, check_and_prepare
from ..storage import BlobNotFound
from .audit import record
from .context import Context
from .iterations import iteration_tags
from .performance import iteration_performance
from .project_copy import CopyReport, ImageLoader, InvalidSource, ModelLoader, copy_project
from .project_reader import (
    image_pages,
    iteration_rows,
    prediction_pages,
    project_row,
    relative_key,
    snapshot_pages,
    tag_rows,
)
from .projects import load_project, project_prefix
from .records import (
    FORMAT_VERSION,
    export_record,
    image_record,
    iteration_record,
    prediction_record,
    project_record,
    snapshot_record,
    stamp,
    tag_record,
)
from .zipstream import MANIFEST, ZipStream

log = logging.getLogger(__name__)

ARCHIVE_FORMAT = "ownvision-project-archive"
# Files re-made from the original on import (and regenerable at any time), left out of archives.
_DERIVED = re.compile(r"^(images|predictions)/[^/]+/(resized|thumbnail)\.[A-Za-z0-9]+$")
_MAX_JSON_BYTES = 1 << 30
_MAX_MODEL_BYTES = 4 << 30


# ---- writing -------------------------------------------------------------------------------------


def project_members(
    ctx: Context, z: ZipStream, *, account_id: uuid.UUID, project_id: uuid.UUID, base: str,
    iterations: bool, everything: bool = False,
) -> Iterator[bytes]:
    """Write one project's records and files under ``base`` (``""`` or ``projects/<id>/``).

    ``everything`` (an account's data export) adds every iteration with its performance, stored
    predictions, exports, and any other file of the project; a project archive holds what another
    server needs to recreate the project.
    """
    project = project_row(ctx, project_id)
    yield from z.add_json(f"{base}project.json", project_record(project))
    yield from z.add_json(f"{base}tags.json", [tag_record(t) for t in tag_rows(ctx, project_id)])

    written: list[tuple[str, str]] = []  # (blob key, archive path) of the originals listed in images.json

    def image_records() -> Iterator[dict[str, Any]]:
        for rows in image_pages(ctx, project_id):
            for img in rows:
                rel = relative_key(project_id, img.original_key)
                written.append((img.original_key, base + rel))
                yield image_record(img, rel)

    yield from z.add_json_array(f"{base}images.json", image_records())
    for key, path in written:
        yield from _blob(ctx, z, key, path)

    if iterations or everything:
        yield from _iterations(ctx, z, account_id=account_id, project_id=project_id, base=base, everything=everything)
    if everything:
        yield from _predictions(ctx, z, project_id=project_id, base=base)
        yield from _exports(ctx, z, project_id=project_id, base=base)
        prefix = project_prefix(project_id)
        for key in ctx.blobs.list(prefix):
            rel = key[len(prefix):]
            if base + rel not in z and not _DERIVED.match(rel):
                yield from _blob(ctx, z, key, base + rel)


def _blob(ctx: Context, z: ZipStream, key: str, path: str) -> Iterator[bytes]:
    if path in z:
        return
    try:
        yield from z.add_blob(ctx.blobs, key, path)
    except BlobNotFound:  # deleted while the archive was being written; its record says so by absence
        log.info("blob %s vanished while archiving", key)


def _iterations(ctx: Context, z: ZipStream, *, account_id: uuid.UUID, project_id: uuid.UUID, base: str,
                everything: bool) -> Iterator[bytes]:
    chosen = [it for it in iteration_rows(ctx, project_id)
              if everything or (it.status == IterationStatus.COMPLETED.value and it.model_key)]
    records = []
    for it in chosen:
        with ctx.db.read() as s:
            tags = iteration_tags(s, it.id)
        model = relative_key(project_id, it.model_key) if it.model_key else None
        rec = iteration_record(it, tags, model)
        if everything:
            rec["performance"] = _performance(ctx, account_id, project_id, it)
        rec["trainingSetFile"] = f"iterations/{it.id}/training-set.json"
        records.append(rec)
    yield from z.add_json(f"{base}iterations.json", records)
    for it in chosen:
        rows = (snapshot_record(r) for page in snapshot_pages(ctx, it.id) for r in page)
        yield from z.add_json_array(f"{base}iterations/{it.id}/training-set.json", rows)
        if it.model_key:
            yield from _blob(ctx, z, it.model_key, base + relative_key(project_id, it.model_key))


def _performance(ctx: Context, account_id: uuid.UUID, project_id: uuid.UUID, it: Iteration) -> dict[str, Any] | None:
    if it.status != IterationStatus.COMPLETED.value:
        return None
    try:
        perf = iteration_performance(ctx, account_id=account_id, project_id=project_id, iteration_id=it.id,
                                     threshold=0.5, overlap_threshold=0.5)
    except errors.OwnVisionError:
        return None
    return {
        "threshold": 0.5, "precision": perf.precision, "recall": perf.recall,
        "averagePrecision": perf.average_precision,
        "perTag": [{"id": str(t.id), "name": t.name, "precision": t.precision, "recall": t.recall,
                    "averagePrecision": t.average_precision} for t in perf.per_tag],
    }


def _predictions(ctx: Context, z: ZipStream, *, project_id: uuid.UUID, base: str) -> Iterator[bytes]:
    files: list[tuple[str, str]] = []

    def rows() -> Iterator[dict[str, Any]]:
        for page in prediction_pages(ctx, project_id):
            for p in page:
                rel = relative_key(project_id, p.original_key)
                files.append((p.original_key, base + rel))
                yield prediction_record(p, rel)

    yield from z.add_json_array(f"{base}predictions.json", rows())
    for key, path in files:
        yield from _blob(ctx, z, key, path)


def _exports(ctx: Context, z: ZipStream, *, project_id: uuid.UUID, base: str) -> Iterator[bytes]:
    with ctx.db.read() as s:
        exports = list(s.scalars(select(Export).where(Export.project_id == project_id).order_by(Export.created)))
    prefix = project_prefix(project_id)
    files = {e.id: e.blob_key for e in exports if e.blob_key and e.blob_key.startswith(prefix)}
    recs = [export_record(e, relative_key(project_id, files[e.id]) if e.id in files else None) for e in exports]
    yield from z.add_json(f"{base}exports.json", recs)
    for key in files.values():
        yield from _blob(ctx, z, key, base + relative_key(project_id, key))


def stream_project_archive(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, include_iterations: bool,
    actor: str = "training-key",
) -> Iterator[bytes]:
    """Check access and record the export at once; returns the zip's bytes as a lazy stream."""
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        record(s, account_id=account_id, actor=actor, action="project.archive", target_type="project",
               target_id=project_id, detail=f"iterations={include_iterations}")

    def body() -> Iterator[bytes]:
        z = ZipStream()
        yield from project_members(ctx, z, account_id=account_id, project_id=project_id, base="",
                                   iterations=include_iterations)
        yield from z.finish({"format": ARCHIVE_FORMAT, "version": FORMAT_VERSION, "server": f"ownvision {__version__}",
                             "created": stamp(utcnow()), "projectId": str(project_id),
                             "includesIterations": include_iterations})

    return body()


# ---- reading -------------------------------------------------------------------------------------


class ArchiveSource:
    """A project archive (zip) as a :class:`~.project_copy.ProjectSource`; every file is verified."""

    def __init__(self, zf: zipfile.ZipFile, *, max_image_bytes: int) -> None:
        self.zf = zf
        self.max_image_bytes = max_image_bytes
        try:
            manifest = json.loads(self._read(MANIFEST, _MAX_JSON_BYTES, check=False))
        except KeyError as exc:
            raise InvalidSource("manifest.json is missing: this is not an ownvision project archive") from exc
        except ValueError as exc:
            raise InvalidSource(f"manifest.json is not valid JSON: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
            raise InvalidSource(f"manifest.json does not describe an {ARCHIVE_FORMAT}")
        if not isinstance(manifest.get("version"), int) or manifest["version"] > FORMAT_VERSION:
            raise InvalidSource(f"archive version {manifest.get('version')!r} is newer than this server reads")
        self.files: dict[str, tuple[int, str]] = {}
        for f in manifest.get("files") or []:
            if isinstance(f, dict) and isinstance(f.get("path"), str):
                self.files[f["path"]] = (int(f.get("size", -1)), str(f.get("sha256", "")))

    def _read(self, path: str, limit: int, *, check: bool = True) -> bytes:
        """A member's bytes, refused when larger than ``limit`` or different from the manifest."""
        if check and path not in self.files:
            raise InvalidSource(f"{path} is not listed in the manifest")
        try:
            info = self.zf.getinfo(path)
        except KeyError:
            if check:
                raise InvalidSource(f"{path} is listed in the manifest but missing from the archive") from None
            raise
        if info.file_size > limit:
            raise InvalidSource(f"{path} is {info.file_size} bytes; at most {limit} are accepted")
        with self.zf.open(info) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidSource(f"{path} is larger than it declares")
        if check:
            size, digest = self.files[path]
            if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                raise InvalidSource(f"{path} does not match its size and SHA-256 in the manifest (damaged?)")
        return data

    def _json(self, path: str) -> Any:
        try:
            return json.loads(self._read(path, _MAX_JSON_BYTES))
        except ValueError as exc:
            raise InvalidSource(f"{path} is not valid JSON: {exc}") from exc

    def project(self) -> dict[str, Any]:
        rec = self._json("project.json")
        if not isinstance(rec, dict):
            raise InvalidSource("project.json must hold an object")
        return rec

    def tags(self) -> list[dict[str, Any]]:
        recs = self._json("tags.json")
        if not isinstance(recs, list):
            raise InvalidSource("tags.json must hold a list")
        return recs

    def image_pages(self) -> Iterator[list[tuple[dict[str, Any], ImageLoader]]]:
        recs = self._json("images.json")
        if not isinstance(recs, list):
            raise InvalidSource("images.json must hold a list")
        for i in range(0, len(recs), 64):
            yield [(r, self._image_loader(r)) for r in recs[i:i + 64]]

    def _image_loader(self, rec: Any) -> ImageLoader:
        def load() -> IngestedImage:
            path = rec.get("file") if isinstance(rec, dict) else None
            if not isinstance(path, str):
                raise InvalidSource(f"image {rec.get('id') if isinstance(rec, dict) else rec!r} names no file")
            data = self._read(path, self.max_image_bytes)
            try:
                # The image was accepted once; only the size limit of this server is not applied again.
                return check_and_prepare(data, max_bytes=max(len(data), 1))
            except ImageRejected as exc:
                raise InvalidSource(f"{path}: {exc.message}") from exc

        return load

    def iterations(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], ModelLoader]]:
        if "iterations.json" not in self.files:
            return
        recs = self._json("iterations.json")
        if not isinstance(recs, list):
            raise InvalidSource("iterations.json must hold a list")
        for rec in recs:
            if not isinstance(rec, dict):
                raise InvalidSource("an iteration record must be an object")
            model, training_set = rec.get("modelFile"), rec.get("trainingSetFile")
            if not isinstance(model, str) or not isinstance(training_set, str):
                continue  # an iteration without a model cannot be copied
            rows = self._json(training_set)
            yield rec, rows, lambda model=model: self._read(model, _MAX_MODEL_BYTES)  # type: ignore[misc]


def import_archive(
    ctx: Context, *, account_id: uuid.UUID, archive: IO[bytes], name: str | None = None,
    include_iterations: bool = True, actor: str = "training-key",
) -> CopyReport:
    """Create a project of ``account_id`` from a project archive (a seekable binary file)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            source = ArchiveSource(zf, max_image_bytes=64 << 20)
            return copy_project(ctx, account_id=account_id, source=source, name=name,
                                include_iterations=include_iterations, actor=actor, origin="archive")
    except zipfile.BadZipFile as exc:
        raise errors.BadRequest("BadRequest", f"The body is not a zip archive: {exc}.") from exc
    except InvalidSource as exc:
        raise errors.BadRequest("BadRequest", f"The project archive is not valid: {exc}.") from exc

