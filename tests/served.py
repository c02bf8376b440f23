"""`ownvision serve` run as a user runs it: a child process (the API) with its worker process.

Used by ``tests/cli/test_serve.py`` and by the benchmarks, which measure the real deployment (no
training thread and no HTTP client share the API's process).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``ownvision serve --data-dir DATA_DIR`` on a free port; ``env`` adds ``OWNVISION_*`` settings."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OWNVISION_WORKER_POLL_S": "0.2", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ownvision", "serve", "--data-dir", str(data_dir), "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
        )
        self.output: list[str] = []

    def read_keys(self) -> dict[str, str]:
        assert self.proc.stdout is not None
        keys: dict[str, str] = {}
        while len(keys) < 2:
            line = self.proc.stdout.readline()
            assert line, f"serve ended early: {''.join(self.output)}"
            self.output.append(line)
            for name in ("Training-Key", "Prediction-Key"):
                if line.strip().startswith(name + ":"):
                    keys[name] = line.split(":", 1)[1].strip()
        return keys

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}"
            try:
                httpx.get(self.url + "/customvision/v3.3/training/domains", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("serve did not answer")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
