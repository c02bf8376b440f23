"""What the server benchmarks share: the server as users run it, and the model it serves, in this process.

``served()`` starts ``ownvision serve`` in a child process on a temporary data folder (the API in one
process, its worker in another, as in a real deployment), so that neither training nor the benchmark's
own HTTP client shares the API's process. ``loaded_model()`` opens the same data folder here and loads
an iteration's model as the server does, to time the bare model next to the HTTP figures.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.served import Served  # noqa: E402

from ownvision.config import Settings  # noqa: E402
from ownvision.db.tables import Iteration  # noqa: E402
from ownvision.services.context import open_context  # noqa: E402
from ownvision.services.iterations import iteration_tags  # noqa: E402
from ownvision.services.models import LoadedModel  # noqa: E402


@contextmanager
def served(**settings: object) -> Iterator[tuple[Served, dict[str, str]]]:
    """A fresh server; yields it and the keys of its first account. ``settings``: OWNVISION_* values."""
    env = {f"OWNVISION_{k.upper()}": str(v) for k, v in settings.items() if v is not None}
    srv = Served(Path(tempfile.mkdtemp(prefix="ownvision-bench-")) / "data", env=env)
    try:
        keys = srv.read_keys()
        srv.wait_ready()
        yield srv, keys
    finally:
        srv.stop() if srv.proc.poll() is None else None
        srv.kill()


def loaded_model(srv: Served, iteration_id: str) -> LoadedModel:
    """The iteration's model, loaded in this process as the server loads it (same runner, same threads)."""
    ctx = open_context(Settings(data_dir=srv.data_dir, workers=0), migrate=False)
    with ctx.db.read() as s:
        iteration = s.get(Iteration, uuid.UUID(iteration_id))
        tags = [(t.tag_id, t.name, t.type) for t in iteration_tags(s, iteration.id)]
    return ctx.models.get(iteration, tags)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


__all__: list[Any] = ["loaded_model", "percentile", "served"]
