"""`ownvision serve` run as a user runs it: a child process (the API) with its worker process.

Used by ``tests/cli/test_serve.py`` and by the benchmarks, which measure the real deployment (no
training thread and no HTTP client share the API's process).
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
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
        # The server and its worker log to this pipe: it is read all the time, or a full pipe would
        # block them mid-request.
        self.output: collections.deque[str] = collections.deque(maxlen=2000)
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put("")

    def read_keys(self, timeout: float = 60) -> dict[str, str]:
        """The keys that the first start prints."""
        keys: dict[str, str] = {}
        while len(keys) < 2:
            line = self._lines.get(timeout=timeout)
            assert line, f"serve ended early: {''.join(self.output)}"
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
        """Ctrl-C, as a user stops it; its exit status (all of its output is read by then)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
