"""The command line: ``ownvision serve | worker | accounts ... | settings``."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .config import Settings

app = typer.Typer(help="ownvision: a self-hosted Custom Vision server.", no_args_is_help=True)
accounts_app = typer.Typer(help="Manage accounts and their keys.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default ./ownvision-data).")]


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes for training and exports (default 1).")] = None,
) -> None:
    """Run the API server (and its training worker) on embedded defaults."""
    import uvicorn

    from .api.app import create_app
    from .services import accounts
    from .services.context import open_context

    settings = _settings(data_dir, host=host, port=port, workers=workers)
    _logging(settings.log_level)
    ctx = open_context(settings)
    if accounts.count_accounts(ctx) == 0:
        keys = accounts.create_account(ctx, name="default")
        typer.echo("Created account 'default'. Its keys are shown once; keep them:")
        typer.echo(f"  Training-Key:   {keys.training_key}")
        typer.echo(f"  Prediction-Key: {keys.prediction_key}")
        typer.echo(f"  Endpoint:       http://{settings.host}:{settings.port}")
    children = [_spawn_worker(settings) for _ in range(settings.workers)]
    try:
        uvicorn.run(create_app(settings, ctx), host=settings.host, port=settings.port, log_level="warning")
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def _spawn_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["OWNVISION_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["OWNVISION_DATABASE_URL"] = settings.database_url
    if settings.blob_url:
        env["OWNVISION_BLOB_URL"] = settings.blob_url
    return subprocess.Popen([sys.executable, "-m", "ownvision", "worker"], env=env)


@app.command()
def worker(data_dir: DataDir = None) -> None:
    """Run a training/export worker on its own (it shares the data folder or database with the server)."""
    from .services.context import open_context
    from .worker.loop import run_worker

    settings = _settings(data_dir)
    _logging(settings.log_level)
    run_worker(open_context(settings))


@accounts_app.command("create")
def accounts_create(name: str, data_dir: DataDir = None) -> None:
    """Create an account; prints its id and keys as one line of JSON (the keys are not shown again)."""
    from .services import accounts
    from .services.context import open_context

    keys = accounts.create_account(open_context(_settings(data_dir)), name=name)
    typer.echo(json.dumps({"id": str(keys.id), "name": keys.name, "training_key": keys.training_key,
                           "prediction_key": keys.prediction_key}))


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None) -> None:
    """List accounts (never their keys)."""
    from .services import accounts
    from .services.context import open_context

    for a in accounts.list_accounts(open_context(_settings(data_dir))):
        typer.echo(json.dumps({"id": str(a.id), "name": a.name, "created": a.created.isoformat(),
                               "training_key_fingerprint": a.training_key_fingerprint,
                               "prediction_key_fingerprint": a.prediction_key_fingerprint}))


@accounts_app.command("rotate-keys")
def accounts_rotate(name: str, data_dir: DataDir = None) -> None:
    """Issue new keys for an account; the old ones stop working at once."""
    from . import errors
    from .services import accounts
    from .services.context import open_context

    try:
        keys = accounts.rotate_keys(open_context(_settings(data_dir)), name=name)
    except errors.OwnVisionError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"id": str(keys.id), "name": keys.name, "training_key": keys.training_key,
                           "prediction_key": keys.prediction_key}))


@app.command("settings")
def show_settings() -> None:
    """List every setting with its default and help text (set them as OWNVISION_<NAME>)."""
    for name, field in Settings.model_fields.items():
        typer.echo(f"OWNVISION_{name.upper()}  (default: {field.default!r})\n    {field.description}")


def main() -> None:
    app()
