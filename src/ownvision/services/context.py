"""What every service needs, built once at start-up and passed explicitly."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..db.engine import Database, open_database
from ..storage import BlobStore, open_blob_store
from .links import LinkSigner
from .models import ModelCache


@dataclass
class Context:
    settings: Settings
    db: Database
    blobs: BlobStore
    links: LinkSigner
    models: ModelCache

    def close(self) -> None:
        self.db.dispose()


def open_context(settings: Settings, *, migrate: bool = True) -> Context:
    """Open the database (migrating it) and the blob store that ``settings`` name."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.resolved_database_url(), migrate=migrate)
    blobs = open_blob_store(settings.resolved_blob_url())
    return Context(settings=settings, db=db, blobs=blobs, links=LinkSigner(_signing_secret(settings.data_dir)),
                   models=ModelCache(blobs, settings))


def _signing_secret(data_dir: Path) -> bytes:
    """The secret that signs links, created once per data folder (readable by its owner only)."""
    path = data_dir / "secret.key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        try:
            tmp.rename(path)  # atomic; if another process won the race, keep theirs
        except OSError:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()
