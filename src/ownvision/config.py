"""Typed settings for the server, the worker and the CLI.

Settings are read once, at start-up, from command-line flags, `OWNVISION_*` environment variables
and defaults, and are then passed explicitly (`create_app(settings)`); nothing reads them at import.

    >>> s = Settings(data_dir=Path("/tmp/ov"))
    >>> s.resolved_database_url()
    'sqlite:////tmp/ov/ownvision.db'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of ownvision, with its help text (shown by `ownvision settings`)."""

    model_config = SettingsConfigDict(env_prefix="OWNVISION_", extra="ignore")

    data_dir: Path = Field(
        Path("./ownvision-data"),
        description="Folder for the embedded database, image blobs, models and the signing secret.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database. Default: SQLite (WAL) inside data_dir. "
        "postgresql://... for a shared database.",
    )
    blob_url: str | None = Field(
        None,
        description="Where blobs live. Default: file:// the 'blobs' folder inside data_dir.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8080, description="Port the HTTP server listens on.")
    public_url: str | None = Field(
        None,
        description="Base URL used in links handed to clients (image and download URIs). "
        "Default: the URL the request came in on.",
    )
    link_ttl_seconds: int = Field(
        24 * 3600, description="How long signed image and download links stay valid, in seconds."
    )
    max_request_mb: int = Field(
        520,
        description="Largest request body accepted, in MB (a batch of 64 images of 6 MB as base64 JSON).",
    )
    max_image_mb: float = Field(6.0, description="Largest training image accepted, in MB.")
    max_prediction_image_mb: float = Field(4.0, description="Largest prediction image accepted, in MB.")
    url_fetch_timeout_s: float = Field(15.0, description="Time limit for fetching one image URL.")
    url_fetch_max_redirects: int = Field(5, description="Redirects followed when fetching an image URL.")
    allow_private_urls: bool = Field(
        True,
        description="Allow image URLs on loopback and private networks (a self-hosted server often "
        "fetches from its own LAN). file:// and this server's own paths are always refused.",
    )
    workers: int = Field(
        1, description="Training/export worker processes that `serve` starts beside the API (0: none)."
    )
    worker_poll_s: float = Field(1.0, description="How often an idle worker looks for queued jobs.")
    job_heartbeat_s: float = Field(5.0, description="How often a worker records that its job is alive.")
    job_stale_after_s: float = Field(
        60.0, description="A running job whose heartbeat is older than this is taken to be dead."
    )
    job_max_attempts: int = Field(2, description="How many times a job is tried before it is failed.")
    train_threads: int | None = Field(None, description="Torch threads for training (default: all cores).")
    advanced_budget_cap_s: float | None = Field(
        None,
        description="Upper bound on an Advanced training's wall-clock budget, in seconds, whatever "
        "reservedBudgetInHours asks (useful on small machines and in tests).",
    )
    detection_regular_budget_s: float = Field(
        240.0, description="Wall-clock budget of a Regular object detection training, in seconds."
    )
    inference_threads: int = Field(2, description="ONNX Runtime intra-op threads per model.")
    model_cache_size: int = Field(8, description="Published models kept loaded in memory.")
    prediction_retention_days: int = Field(
        30, description="Stored predictions older than this are purged (0: keep forever)."
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR.")

    @field_validator("port")
    @classmethod
    def _port_range(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {v}")
        return v

    @field_validator("workers", "job_max_attempts", "model_cache_size")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'ownvision.db'}"

    def resolved_blob_url(self) -> str:
        if self.blob_url:
            return self.blob_url
        return (self.data_dir.resolve() / "blobs").as_uri()
