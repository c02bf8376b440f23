"""Fixtures of the command-line tests: two live servers on loopback, and the CLI run in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from ownvision.cli import app

from ..conftest import LiveServer, make_settings, start_server, stop_server


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path_factory.mktemp("source")))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path_factory.mktemp("target")))
    yield srv
    stop_server(srv)


def cli(*args: Any) -> tuple[int, str]:
    """Run ``ownvision ARGS`` in this process; returns the exit code and the output (stdout and stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
