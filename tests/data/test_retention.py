"""Stored predictions are purged by the worker once older than ``prediction_retention_days``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken

from ownvision.services.audit import list_events
from ownvision.services.context import Context, open_context
from ownvision.worker.loop import run_worker

from ..conftest import LiveServer, make_settings, start_server, stop_server
from .conftest import add_stored_predictions, dead_links, fill_project, sdk, wal_size


@pytest.fixture(scope="module")
def week_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(make_settings(tmp_path_factory.mktemp("retention"), prediction_retention_days=7))
    yield srv
    stop_server(srv)


def run_maintenance(ctx: Context) -> None:
    """One pass of the worker loop (its maintenance runs first), in a thread as a worker would."""
    t = threading.Thread(target=run_worker, args=(ctx,), kwargs={"once": True})
    t.start()
    t.join(timeout=60)
    assert not t.is_alive()


def test_worker_purges_predictions_older_than_the_retention_period(week_server: LiveServer) -> None:
    filled = fill_project(week_server, week_server.new_account(), "retention")
    pid, iid = uuid.UUID(filled.project_id), uuid.UUID(filled.iteration_id)
    old = add_stored_predictions(week_server, pid, iid, "old", count=2, age_days=8)
    trainer = sdk(week_server, filled.keys)
    listed = trainer.query_predictions(filled.project_id, PredictionQueryToken(max_count=50)).results
    old_links = [r.original_image_uri for r in listed if r.id in old]
    assert len(old_links) == 2 and set(dead_links(old_links)) == {200}

    run_maintenance(week_server.ctx)

    left = {r.id for r in trainer.query_predictions(filled.project_id, PredictionQueryToken(max_count=50)).results}
    assert left == set(filled.prediction_ids)  # the fresh ones stay
    for p in old:
        assert list(week_server.ctx.blobs.list(f"projects/{pid}/predictions/{p}/")) == []
    assert set(dead_links(old_links)) == {404}
    purges = [e for e in list_events(week_server.ctx) if e.action == "predictions.purge"]
    assert purges and purges[0].actor == "retention" and "predictions=2" in (purges[0].detail or "")
    assert wal_size(week_server.settings.data_dir) == 0


def test_retention_zero_keeps_predictions_forever(week_server: LiveServer) -> None:
    filled = fill_project(week_server, week_server.new_account(), "keepforever")
    ancient = add_stored_predictions(week_server, uuid.UUID(filled.project_id), uuid.UUID(filled.iteration_id),
                                     "ancient", count=1, age_days=3650)
    forever = open_context(make_settings(week_server.settings.data_dir, prediction_retention_days=0))
    try:
        run_maintenance(forever)
    finally:
        forever.close()
    left = {r.id for r in sdk(week_server, filled.keys).query_predictions(
        filled.project_id, PredictionQueryToken(max_count=50)).results}
    assert set(ancient) <= left
