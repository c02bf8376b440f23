"""Fixtures of the user-data tests: live servers, a project full of every kind of data, and the scanner.

``fill_project`` makes a project through the SDK (tags, images with tags, regions and metadata)
and then adds, straight into the database and blob store, what would otherwise need a real
training: a completed iteration with a model file and held-out predictions, an exported package,
and stored predictions. That way every table and every kind of file holds data of the project
without the minutes a training costs.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from msrest.authentication import ApiKeyCredentials

from ownvision.db.tables import (
    Export,
    Iteration,
    IterationImage,
    IterationTag,
    PredictionTagScore,
    StoredPrediction,
    utcnow,
)
from ownvision.services.accounts import AccountKeys

from ..conftest import LiveServer, make_image, make_settings, start_server, stop_server

TRAINING = "/customvision/v3.3/training"
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path_factory.mktemp("data")))
    yield srv
    stop_server(srv)


def sdk(srv: LiveServer, keys: AccountKeys) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(srv.url, ApiKeyCredentials(in_headers={"Training-key": keys.training_key}))


def http(srv: LiveServer, keys: AccountKeys) -> httpx.Client:
    return httpx.Client(base_url=srv.url + TRAINING, headers={"Training-Key": keys.training_key}, timeout=60)


@dataclass
class Filled:
    """A project with data of every kind, and the needles that identify it in a scan."""

    keys: AccountKeys
    project_id: str
    marker: str
    tag_ids: list[str]
    image_ids: list[str]
    images: dict[str, bytes]  # image id -> the uploaded bytes
    metadata: dict[str, dict[str, str]]
    iteration_id: str
    export_id: str
    prediction_ids: list[str]
    links: list[str] = field(default_factory=list)

    def needles(self) -> dict[str, list[bytes]]:
        """Strings that must not survive an erasure, by what they are (ids in both stored spellings)."""
        ids = [*self.tag_ids, *self.image_ids, self.iteration_id, self.export_id, *self.prediction_ids]
        out = {
            "marker": [self.marker.encode()],
            "ids": [v.encode() for i in ids for v in (i, uuid.UUID(i).hex)],
            "sha256": [hashlib.sha256(b).hexdigest().encode() for b in self.images.values()],
        }
        return out


def fill_project(srv: LiveServer, keys: AccountKeys, marker: str, *, n_images: int = 6) -> Filled:
    trainer = sdk(srv, keys)
    project = trainer.create_project(f"{marker}-project", description=f"{marker} description",
                                     domain_id=GENERAL_COMPACT)
    a = trainer.create_tag(project.id, f"{marker}-tag-a", description=f"{marker} tag")
    b = trainer.create_tag(project.id, f"{marker}-tag-b")
    images: dict[str, bytes] = {}
    metadata: dict[str, dict[str, str]] = {}
    seeds = [zlib.crc32(f'{marker}-{i}'.encode()) % 100000 for i in range(n_images)]
    entries = []
    for i, seed in enumerate(seeds):
        tags = [a.id] if i % 3 == 0 else [b.id] if i % 3 == 1 else []
        regions = [Region(tag_id=a.id, left=0.1, top=0.2, width=0.3, height=0.4)] if i == 2 else None
        entries.append(ImageFileCreateEntry(name=f"{marker}-{i}.jpg", contents=make_image(seed), tag_ids=tags,
                                            regions=regions))
    result = trainer.create_images_from_files(project.id, ImageFileCreateBatch(
        images=entries, metadata={"owner": f"{marker}-owner"}))
    assert result.is_batch_successful, [r.status for r in result.images]
    for entry, r in zip(entries, result.images, strict=True):
        images[r.image.id] = entry.contents
        metadata[r.image.id] = {"owner": f"{marker}-owner"}
    first = result.images[0].image.id
    trainer.update_image_metadata(project.id, [first], {"note": f"{marker}-note"})
    metadata[first]["note"] = f"{marker}-note"
    links = [u for r in result.images for u in (r.image.original_image_uri, r.image.thumbnail_uri)]

    iteration_id, export_id = add_trained_iteration(srv, uuid.UUID(project.id), marker)
    prediction_ids = add_stored_predictions(srv, uuid.UUID(project.id), uuid.UUID(iteration_id), marker, count=3)
    return Filled(keys, project.id, marker, [a.id, b.id], list(images), images, metadata, iteration_id,
                  export_id, prediction_ids, links)


def add_trained_iteration(srv: LiveServer, project_id: uuid.UUID, marker: str) -> tuple[str, str]:
    """A completed iteration (model file, tags, training set with held-out predictions) and one export."""
    ctx = srv.ctx
    iteration_id, export_id = uuid.uuid4(), uuid.uuid4()
    prefix = f"projects/{project_id}/iterations/{iteration_id}/"
    model = f"{marker}-model-bytes".encode() * 100
    ctx.blobs.put(prefix + "model.onnx", model)
    export_key = f"{prefix}exports/{export_id}/model.zip"
    ctx.blobs.put(export_key, f"{marker}-export-bytes".encode() * 50)
    with ctx.db.write() as s:
        from ownvision.db.tables import Image, Tag

        tags = list(s.query(Tag).filter(Tag.project_id == project_id).order_by(Tag.created))
        images = list(s.query(Image).filter(Image.project_id == project_id))
        now = utcnow()
        s.add(Iteration(id=iteration_id, project_id=project_id, name="Iteration 1", status="Completed",
                        created=now, last_modified=now, trained_at=now,
                        domain_id=uuid.UUID(GENERAL_COMPACT), classification_type="Multiclass",
                        progress=1.0, progress_message="Completed", model_key=prefix + "model.onnx",
                        model_manifest={"task": "classification", "multilabel": False,
                                        "tags": [str(t.id) for t in tags], "backbone": "lite0",
                                        "preprocess": {}},
                        details={"note": f"{marker}-details"}))
        s.flush()
        for pos, t in enumerate(tags):
            s.add(IterationTag(iteration_id=iteration_id, tag_id=t.id, position=pos, name=t.name,
                               description=t.description, type=t.type, image_count=1))
        for img in images:
            tag_ids = [str(x.tag_id) for x in img.tags]
            if not tag_ids:
                continue
            s.add(IterationImage(
                iteration_id=iteration_id, image_id=img.id, tag_ids=tag_ids, regions=[],
                held_out=[{"tagId": str(t.id), "probability": 0.9 if str(t.id) in tag_ids else 0.1} for t in tags]))
        s.add(Export(id=export_id, project_id=project_id, iteration_id=iteration_id, platform="ONNX",
                     status="Done", blob_key=export_key, size_bytes=ctx.blobs.size(export_key), finished=now))
    return str(iteration_id), str(export_id)


def add_stored_predictions(srv: LiveServer, project_id: uuid.UUID, iteration_id: uuid.UUID, marker: str, *,
                           count: int, age_days: float = 0.0, application: str | None = None) -> list[str]:
    """Stored predictions as the Prediction API keeps them (rows, tag scores, original and thumbnail files)."""
    ctx = srv.ctx
    ids = []
    with ctx.db.read() as s:
        from ownvision.db.tables import Tag

        tags = list(s.query(Tag).filter(Tag.project_id == project_id))
    for i in range(count):
        pid = uuid.uuid4()
        data = make_image(zlib.crc32(f"{marker}-prediction-{i}-{age_days}".encode()) % 100000)
        prefix = f"projects/{project_id}/predictions/{pid}/"
        ctx.blobs.put(prefix + "original.jpg", data)
        ctx.blobs.put(prefix + "thumbnail.jpg", data)
        with ctx.db.write() as s:
            s.add(StoredPrediction(
                id=pid, project_id=project_id, iteration_id=iteration_id, domain_id=uuid.UUID(GENERAL_COMPACT),
                created=utcnow() - timedelta(days=age_days), application=application or f"{marker}-app",
                width=320, height=240, original_key=prefix + "original.jpg", resized_key=prefix + "original.jpg",
                thumbnail_key=prefix + "thumbnail.jpg", sha256=hashlib.sha256(data).hexdigest(), format="jpg",
                size_bytes=len(data),
                predictions=[{"probability": 0.5, "tagId": str(t.id), "tagName": t.name, "tagType": t.type,
                              "boundingBox": None} for t in tags]))
            s.flush()
            for t in tags:
                s.add(PredictionTagScore(prediction_id=pid, tag_id=t.id, probability=0.5))
        ids.append(str(pid))
    return ids


# ---- the erasure scanner -------------------------------------------------------------------------


def checkpoint(db_path: Path) -> None:
    con = sqlite3.connect(db_path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def table_rows(db_path: Path) -> Iterator[tuple[str, tuple[Any, ...]]]:
    con = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in con.execute(f'SELECT * FROM "{t}"'):
                yield t, row
    finally:
        con.close()


def scan(data_dir: Path, needles: dict[str, list[bytes]], *, audit_may_hold: list[bytes] = ()) -> list[str]:
    """Everything in the data folder that still holds a needle: rows, raw database bytes, files, names.

    ``audit_may_hold``: ids that the audit log keeps by design; allowed in audit rows only.
    """
    db = data_dir / "ownvision.db"
    checkpoint(db)
    found: list[str] = []
    flat = [(kind, n) for kind, ns in needles.items() for n in ns]
    for table, row in table_rows(db):
        text = "|".join(str(v) for v in row).encode()
        for kind, n in flat:
            if n in text:
                found.append(f"row of {table} holds {kind} {n[:40]!r}")
        if table != "audit_events":
            for n in audit_may_hold:
                if n in text:
                    found.append(f"row of {table} holds {n!r}")
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir).as_posix()
        for kind, n in flat + [("audit id", n) for n in audit_may_hold]:
            if n.decode() in rel:
                found.append(f"path {rel} is named after {kind} {n!r}")
        if path.is_file():
            raw = path.read_bytes()
            for kind, n in flat:
                if n in raw:
                    found.append(f"file {rel} holds {kind} {n[:40]!r}")
    wal = db.with_name(db.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        found.append(f"{wal.name} is not empty after a checkpoint ({wal.stat().st_size} bytes)")
    return found


def wal_size(data_dir: Path) -> int:
    wal = data_dir / "ownvision.db-wal"
    return wal.stat().st_size if wal.exists() else 0


def audit_only(data_dir: Path, value: str) -> list[str]:
    """The tables whose rows mention ``value`` (expected: audit_events at most)."""
    hits = {t for t, row in table_rows(data_dir / "ownvision.db") if any(value in str(v) for v in row)}
    return sorted(hits)


def dead_links(links: list[str]) -> list[int]:
    return [httpx.get(u, timeout=30).status_code for u in links]


UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
