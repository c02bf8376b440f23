"""Database tables (SQLAlchemy 2 ORM). Alembic migrations are generated from these.

Ownership is a tree: account -> projects -> (tags, images, iterations, predictions, jobs) -> ...
Foreign keys cascade on delete so that deleting a project or an account removes every row below it
in one statement; blobs are removed by prefix in the same service call.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _fk(target: str) -> Any:
    return ForeignKey(target, ondelete="CASCADE")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    training_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prediction_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    keys_rotated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    domain_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    classification_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    target_export_platforms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    image_processing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    export_model_container_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    notification_queue_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="Succeeded")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Bumped whenever the training set changes; TrainProject compares it with the last iteration.
    workspace_version: Mapped[int] = mapped_column(Integer, default=0)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("project_id", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    name_key: Mapped[str] = mapped_column(String(256))  # case-folded, for uniqueness
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16), default="Regular")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("project_id", "sha256"),
        Index("ix_images_project_created", "project_id", "created"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    original_key: Mapped[str] = mapped_column(Text)
    resized_key: Mapped[str] = mapped_column(Text)
    thumbnail_key: Mapped[str] = mapped_column(Text)
    # Number of tag links; kept so that tagged/untagged filters need no join.
    tag_count: Mapped[int] = mapped_column(Integer, default=0)

    tags: Mapped[list[ImageTag]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    regions: Mapped[list[ImageRegion]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    metadata_items: Mapped[list[ImageMetadata]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class ImageTag(Base):
    __tablename__ = "image_tags"

    image_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("images.id"), primary_key=True)
    tag_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("tags.id"), primary_key=True, index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    image: Mapped[Image] = relationship(back_populates="tags")
    tag: Mapped[Tag] = relationship(lazy="joined")


class ImageRegion(Base):
    __tablename__ = "image_regions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    image_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("images.id"), index=True)
    tag_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("tags.id"), index=True)
    left: Mapped[float] = mapped_column(Float)
    top: Mapped[float] = mapped_column(Float)
    width: Mapped[float] = mapped_column(Float)
    height: Mapped[float] = mapped_column(Float)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    image: Mapped[Image] = relationship(back_populates="regions")
    tag: Mapped[Tag] = relationship(lazy="joined")


class ImageMetadata(Base):
    __tablename__ = "image_metadata"
    __table_args__ = (Index("ix_image_metadata_kv", "key", "value"),)

    image_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("images.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))

    image: Mapped[Image] = relationship(back_populates="metadata_items")


class Iteration(Base):
    __tablename__ = "iterations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="Training")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    trained_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    domain_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    classification_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    training_type: Mapped[str] = mapped_column(String(16), default="Regular")
    reserved_budget_in_hours: Mapped[int] = mapped_column(Integer, default=0)
    training_time_in_minutes: Mapped[int] = mapped_column(Integer, default=0)
    publish_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    original_publish_resource_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    training_error_details: Mapped[str | None] = mapped_column(Text, nullable=True)
    selected_tags: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    workspace_version: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    # Model artefacts: blob key of the ONNX model and its preprocessing/labels manifest.
    model_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class IterationTag(Base):
    """The tags as they were when the iteration was trained (its label space, in model order)."""

    __tablename__ = "iteration_tags"

    iteration_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("iterations.id"), primary_key=True)
    tag_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))
    image_count: Mapped[int] = mapped_column(Integer, default=0)


class IterationImage(Base):
    """The training set snapshot: which images, with which tags and regions, an iteration used."""

    __tablename__ = "iteration_images"

    iteration_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("iterations.id"), primary_key=True)
    image_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("images.id"), primary_key=True, index=True)
    tag_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    regions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Held-out prediction of this image ([{tagId, probability, boundingBox?}]), null if not evaluated.
    held_out: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    """A unit of background work (training, export), claimed atomically by one worker."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"), index=True)
    iteration_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _fk("iterations.id"), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class StoredPrediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_project_created", "project_id", "created"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"))
    iteration_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("iterations.id", ondelete="SET NULL"), nullable=True
    )
    domain_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    application: Mapped[str | None] = mapped_column(String(256), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_key: Mapped[str] = mapped_column(Text)
    resized_key: Mapped[str] = mapped_column(Text)
    thumbnail_key: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(8))
    size_bytes: Mapped[int] = mapped_column(Integer)
    predictions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class PredictionTagScore(Base):
    """The highest probability of each tag in a stored prediction, for QueryPredictions' tag filters."""

    __tablename__ = "prediction_tag_scores"

    prediction_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("predictions.id"), primary_key=True)
    tag_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    probability: Mapped[float] = mapped_column(Float)


class Export(Base):
    """An exported iteration (ONNX, OpenVINO, TensorFlow Lite, CoreML, Docker bundle)."""

    __tablename__ = "exports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"), index=True)
    iteration_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("iterations.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    flavor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="Exporting")  # Exporting | Done | Failed
    blob_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AuditEvent(Base):
    """Who deleted or exported what, and when (never any content). Kept after the thing is gone."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "training-key", "cli", "worker", "retention"
    action: Mapped[str] = mapped_column(String(64))  # e.g. "project.delete"
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # counts only, e.g. "images=12"


class Suggestion(Base):
    """A smart-labeler suggestion: an iteration's prediction for an untagged image, kept for review."""

    __tablename__ = "suggestions"

    image_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("images.id"), primary_key=True)
    iteration_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("iterations.id"), primary_key=True, index=True)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, _fk("projects.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    predictions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    uncertainty: Mapped[float] = mapped_column(Float, default=0.0)
