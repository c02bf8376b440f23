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
projects_app = typer.Typer(help="Move projects between servers (project archives).", no_args_is_help=True)
app.add_typer(projects_app, name="projects")

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


@accounts_app.command("show")
def accounts_show(name: str, data_dir: DataDir = None) -> None:
    """Show an account: key fingerprints, quotas and usage per project (as JSON, never the keys)."""
    from .api.training.account import account_wire
    from .services import account_data, erasure
    from .services.context import open_context

    ctx = open_context(_settings(data_dir))
    acc = _or_exit(lambda: erasure.find_account(ctx, name_or_id=name))
    typer.echo(json.dumps(account_wire(account_data.account_overview(ctx, account_id=acc.id)), indent=1))


@accounts_app.command("delete")
def accounts_delete(
    name: str, data_dir: DataDir = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: erase the account, its keys and all its data.")] = False,
) -> None:
    """Erase an account: its keys, projects, images, models, predictions, exports and files."""
    from .services import erasure
    from .services.context import open_context

    if not yes:
        typer.echo("This erases the account and all of its data for good; pass --yes to confirm.", err=True)
        raise typer.Exit(2)
    ctx = open_context(_settings(data_dir))
    acc = _or_exit(lambda: erasure.find_account(ctx, name_or_id=name))
    gone = erasure.delete_account(ctx, account_id=acc.id, actor="cli")
    typer.echo(json.dumps({"deleted": str(gone.account_id), "projects": gone.projects, "images": gone.images,
                           "iterations": gone.iterations, "predictions": gone.predictions,
                           "exports": gone.exports, "files": gone.files}))


@accounts_app.command("export-data")
def accounts_export_data(
    name: str, data_dir: DataDir = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip file to write.")] = Path("account.zip"),
) -> None:
    """Write all of an account's data (records as JSON, every file) to one zip with a manifest."""
    from .services import account_data, erasure
    from .services.context import open_context

    ctx = open_context(_settings(data_dir))
    acc = _or_exit(lambda: erasure.find_account(ctx, name_or_id=name))
    _write_stream(output, account_data.export_account_data(ctx, account_id=acc.id, actor="cli"))


@app.command("audit")
def audit(
    data_dir: DataDir = None,
    account: Annotated[str | None, typer.Option(help="Only this account (its name, or its id once deleted).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many events, newest first.")] = 1000,
) -> None:
    """Show the audit log: deletions, exports and imports (who, what, when; never content)."""
    import uuid as _uuid

    from .services import audit as audit_svc
    from .services import erasure
    from .services.context import open_context
    from .services.records import audit_record

    ctx = open_context(_settings(data_dir))
    account_id = None
    if account is not None:
        try:
            account_id = erasure.find_account(ctx, name_or_id=account).id
        except Exception:
            try:
                account_id = _uuid.UUID(account)  # a deleted account: its id is all that is left
            except ValueError:
                typer.echo(f"No account named {account!r}.", err=True)
                raise typer.Exit(1) from None
    for event in audit_svc.list_events(ctx, account_id=account_id, limit=limit):
        typer.echo(json.dumps(audit_record(event)))


Endpoint = Annotated[str | None, typer.Option("--endpoint", help="A running server (instead of --data-dir).")]
TrainingKey = Annotated[str | None, typer.Option("--training-key", help="The training key, with --endpoint.")]


@projects_app.command("export-archive")
def projects_export_archive(
    project_id: str, data_dir: DataDir = None, endpoint: Endpoint = None, training_key: TrainingKey = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip file to write.")] = Path("project.zip"),
    iterations: Annotated[bool, typer.Option(help="Include trained iterations and their models.")] = True,
) -> None:
    """Write a project archive (tags, images, regions, metadata, models) that another server imports."""
    import uuid as _uuid

    if endpoint:
        import httpx

        url = f"{endpoint.rstrip('/')}/customvision/v3.3/training/projects/{project_id}/archive"
        with httpx.stream("GET", url, params={"includeIterations": str(iterations).lower()},
                          headers={"Training-Key": training_key or ""}, timeout=None) as resp:
            if resp.status_code != 200:
                typer.echo(f"HTTP {resp.status_code}: {resp.read().decode(errors='replace')}", err=True)
                raise typer.Exit(1)
            _write_stream(output, resp.iter_bytes())
        return
    from .services import archive
    from .services.context import open_context
    from .services.project_reader import project_row

    ctx = open_context(_settings(data_dir))
    project = _or_exit(lambda: project_row(ctx, _uuid.UUID(project_id)))
    _write_stream(output, archive.stream_project_archive(ctx, account_id=project.account_id, project_id=project.id,
                                                         include_iterations=iterations, actor="cli"))


@projects_app.command("import-archive")
def projects_import_archive(
    file: Path, data_dir: DataDir = None, endpoint: Endpoint = None, training_key: TrainingKey = None,
    account: Annotated[str | None, typer.Option(help="The account that gets the project (with --data-dir).")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the new project (default: the archived name).")] = None,
    iterations: Annotated[bool, typer.Option(help="Import trained iterations and their models too.")] = True,
) -> None:
    """Create a project from a project archive; prints the new project as JSON."""
    if endpoint:
        import httpx

        params = {"includeIterations": str(iterations).lower(), **({"name": name} if name else {})}
        with file.open("rb") as f:
            resp = httpx.post(f"{endpoint.rstrip('/')}/customvision/v3.3/training/projects/archive", params=params,
                              content=f, headers={"Training-Key": training_key or "",
                                                  "Content-Type": "application/zip"}, timeout=None)
        if resp.status_code != 200:
            typer.echo(f"HTTP {resp.status_code}: {resp.text}", err=True)
            raise typer.Exit(1)
        typer.echo(json.dumps(resp.json()))
        return
    from .services import archive, erasure
    from .services.context import open_context

    if not account:
        typer.echo("--account is required with --data-dir.", err=True)
        raise typer.Exit(2)
    ctx = open_context(_settings(data_dir))
    acc = _or_exit(lambda: erasure.find_account(ctx, name_or_id=account))
    with file.open("rb") as f:
        report = _or_exit(lambda: archive.import_archive(ctx, account_id=acc.id, archive=f, name=name,
                                                         include_iterations=iterations, actor="cli"))
    typer.echo(json.dumps({"id": str(report.project.id), "name": report.project.name, "tags": report.tags,
                           "images": report.images, "regions": report.regions, "iterations": report.iterations,
                           "skipped": report.skipped}))


@app.command("migrate")
def migrate(
    from_endpoint: Annotated[str, typer.Option("--from-endpoint", help="Source Training API endpoint (Azure too).")],
    from_key: Annotated[str, typer.Option("--from-key", help="Source training key.")],
    to_endpoint: Annotated[str, typer.Option("--to-endpoint", help="Target endpoint (an ownvision server).")],
    to_key: Annotated[str, typer.Option("--to-key", help="Target training key.")],
    project: Annotated[list[str] | None, typer.Option("--project", help="A source project id (repeatable; "
                                                      "default: all).")] = None,
    state: Annotated[Path, typer.Option(help="State file that makes the migration resumable.")] = Path(
        "ownvision-migration.json"),
    max_images: Annotated[int | None, typer.Option(help="Stop after this many images (resume later).")] = None,
) -> None:
    """Copy projects (tags, images with tags, regions, metadata) between Custom Vision Training APIs.

    Exit status: 0 done, 1 some images failed (see the state file), 3 stopped early (--max-images).
    """
    from .services.migrate import MigrationError, TrainingClient, summarize
    from .services.migrate import migrate as run_migration

    try:
        with TrainingClient(from_endpoint, from_key) as source, TrainingClient(to_endpoint, to_key) as target:
            report = run_migration(source, target, state_path=state, project_ids=project or [],
                                   progress=typer.echo, max_images=max_images)
    except MigrationError as exc:
        typer.echo(f"migration failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in summarize(report):
        typer.echo(line)
    if report.stopped_early:
        raise typer.Exit(3)
    if report.failed:
        raise typer.Exit(1)


def _or_exit(fn: Any) -> Any:
    from . import errors

    try:
        return fn()
    except errors.OwnVisionError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


def _write_stream(output: Path, chunks: Any) -> None:
    """Write chunks to ``output`` through a temporary file, so that a failed export leaves no half file."""
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("wb") as f:
            for chunk in chunks:
                f.write(chunk)
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    typer.echo(json.dumps({"output": str(output), "bytes": output.stat().st_size}))


@app.command("settings")
def show_settings() -> None:
    """List every setting with its default and help text (set them as OWNVISION_<NAME>)."""
    for name, field in Settings.model_fields.items():
        typer.echo(f"OWNVISION_{name.upper()}  (default: {field.default!r})\n    {field.description}")


def main() -> None:
    app()
