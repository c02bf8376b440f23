"""Shared fixtures: a real server on loopback over a temporary data folder, accounts, the SDK clients."""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from PIL import Image, ImageDraw

from ownvision.api.app import create_app
from ownvision.config import Settings
from ownvision.services import accounts
from ownvision.services.context import Context, open_context
from ownvision.worker.loop import run_worker


@dataclass
class LiveServer:
    url: str
    ctx: Context
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    def new_account(self, name: str | None = None) -> accounts.AccountKeys:
        return accounts.create_account(self.ctx, name=name or f"acct-{random.randrange(1 << 30)}")


def start_server(settings: Settings) -> LiveServer:
    ctx = open_context(settings)
    app = create_app(settings, ctx)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    settings.port = port  # so that URL uploads recognise this server as itself
    return LiveServer(f"http://127.0.0.1:{port}", ctx, settings, server, thread)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)
    live.ctx.close()


def make_settings(data_dir: Path, **kw: object) -> Settings:
    return Settings(data_dir=data_dir, workers=0, **kw)  # type: ignore[arg-type]


@contextmanager
def server_with_worker(data_dir: Path, **settings: object) -> Iterator[LiveServer]:
    """A live server with a worker thread beside it (training and export jobs); both stop on exit."""
    srv = start_server(make_settings(data_dir, job_heartbeat_s=0.5, worker_poll_s=0.2, **settings))
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(srv.ctx,), kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        yield srv
    finally:
        stop.set()
        worker.join(timeout=60)
        stop_server(srv)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path_factory.mktemp("data")))
    yield srv
    stop_server(srv)


@pytest.fixture()
def account(live: LiveServer) -> accounts.AccountKeys:
    return live.new_account()


def make_image(
    seed: int = 0, size: tuple[int, int] = (320, 240), fmt: str = "JPEG", color: tuple[int, int, int] | None = None
) -> bytes:
    """A small distinct picture: a coloured background with a few random shapes."""
    rng = random.Random(seed)
    bg = color or (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = rng.randrange(size[0] // 2), rng.randrange(size[1] // 2)
        x1, y1 = x0 + rng.randrange(10, size[0] // 2), y0 + rng.randrange(10, size[1] // 2)
        d.rectangle([x0, y0, x1, y1], fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()
