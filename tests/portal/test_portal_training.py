"""Training in a real browser: live progress and failures (no worker needed), then a real training
with its figures, threshold slider, PR plot, publishing, export, quick test and stored predictions."""

from __future__ import annotations

import importlib.util
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ownvision.db.tables import Iteration

from ..conftest import LiveServer, make_settings, start_server, stop_server
from .conftest import Portal, open_portal, picture, upload_images

expect = pytest.importorskip("playwright.sync_api", reason="the portal tests need Playwright").expect

COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"  # General (compact): exportable
TRAINING_TIMEOUT_MS = 180_000


def _classification_project(portal: Portal, per_tag: int = 8) -> dict[str, Any]:
    with portal.api as api:
        pid = api.post("/projects", params={"name": "Shapes", "domainId": COMPACT}).json()["id"]
        tags = {n: api.post(f"/projects/{pid}/tags", params={"name": n}).json() for n in ("Disc", "Stripes")}
    for name, kind in (("Disc", "disc"), ("Stripes", "stripes")):
        upload_images(portal, pid, [(f"{kind}{i}.jpg", picture(kind, i)) for i in range(per_tag)], [tags[name]["id"]])
    return {"pid": pid, "tags": tags}


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


def _start_training(page: Any) -> None:
    page.get_by_role("button", name="Train the first iteration").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Budget (hours, Advanced only)")).to_be_disabled()
    dialog.get_by_role("button", name="Start training").click()


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without a worker: trainings stay queued until the test moves them on."""
    srv = start_server(make_settings(tmp_path_factory.mktemp("idle-portal")))
    yield srv
    stop_server(srv)


def test_training_progress_is_live_and_a_failure_shows_its_reason(browser: Any, idle: LiveServer) -> None:
    context, portal = open_portal(browser, idle)
    try:
        page = portal.page
        project = _classification_project(portal, per_tag=5)
        portal.sign_in()
        portal.go(f"/projects/{project['pid']}/train")
        _start_training(page)
        expect(page.locator(".progress-pct")).to_have_text("0%")
        iteration_id = uuid.UUID(re.search(r"/train/([0-9a-f-]{36})", page.url).group(1))  # type: ignore[union-attr]
        with portal.api as api:
            queued = api.get(f"/projects/{project['pid']}/iterations/{iteration_id}").json()
        expect(page.locator(".progress-message")).to_have_text(queued["progressMessage"] or "Waiting for a worker…")

        with idle.ctx.db.write() as s:
            it = s.get(Iteration, iteration_id)
            it.progress, it.progress_message = 0.42, "epoch 2 of 5"
        expect(page.locator(".progress-message")).to_have_text("epoch 2 of 5")
        expect(page.locator(".progress-pct")).to_have_text("42%")
        assert page.locator(".progress-box progress").evaluate("p => p.value") == pytest.approx(0.42)

        with idle.ctx.db.write() as s:
            it = s.get(Iteration, iteration_id)
            it.status, it.training_error_details = "Failed", "Training diverged: the loss became NaN at epoch 3."
        expect(page.get_by_role("alert")).to_contain_text("Training diverged: the loss became NaN at epoch 3.")
        expect(page.locator(".iteration-link .badge")).to_have_text("Failed")

        # Train again: a new iteration starts; a third request meanwhile is refused, with the server's message.
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_role("dialog").get_by_role("button", name="Start training").click()
        expect(page.locator(".iteration-link")).to_have_count(2)
        expect(page.locator(".iteration-head .badge")).to_have_text("Training")
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_role("dialog").get_by_role("button", name="Start training").click()
        expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("already in progress")
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        assert not portal.errors, portal.errors
    finally:
        context.close()


@pytest.mark.skipif(importlib.util.find_spec("ownvision.ml.classifier") is None,
                    reason="the classification trainer (ownvision.ml.classifier) is not in this checkout yet")
def test_train_evaluate_publish_export_and_quick_test(browser: Any, trainer_server: LiveServer) -> None:
    context, portal = open_portal(browser, trainer_server)
    try:
        page = portal.page
        project = _classification_project(portal, per_tag=5)
        pid = project["pid"]
        portal.sign_in(prediction=True)
        portal.go(f"/projects/{pid}/train")
        _start_training(page)
        expect(page.locator(".progress-box progress").or_(page.locator("#perf-title"))).to_be_visible()
        expect(page.locator(".iteration-head .badge")).to_have_text("Completed", timeout=TRAINING_TIMEOUT_MS)
        iteration_id = re.search(r"/train/([0-9a-f-]{36})", page.url).group(1)  # type: ignore[union-attr]

        # Figures at 50%, then at 100% after moving the slider with the keyboard.
        expect(page.locator("[data-figure=precision]")).to_have_text(re.compile(r"^\d+\.\d%$"))
        expect(page.locator(".pr-plot .pr-line")).to_have_count(2)
        expect(page.locator(".perf-table tbody tr")).to_have_count(2)
        page.locator("#threshold").focus()
        page.keyboard.press("End")
        expect(page.locator("#threshold-value")).to_have_text("100%")
        with portal.api as api:
            strict = api.get(f"/projects/{pid}/iterations/{iteration_id}/performance", params={"threshold": 1.0}).json()
        expect(page.locator("[data-figure=recall]")).to_have_text(f"{strict['recall'] * 100:.1f}%")
        expect(page.get_by_role("heading", name=re.compile(r"^(Mistakes|No mistakes) at 100%"))).to_be_visible()

        # Publish.
        page.fill("#publish-name", "classifyModel")
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.locator(".publish-name")).to_have_text("classifyModel")
        with portal.api as api:
            assert api.get(f"/projects/{pid}/iterations/{iteration_id}").json()["publishName"] == "classifyModel"

        # Export to ONNX (or a clear message where the server cannot export yet).
        export = page.locator(".export-section")
        missing = export.get_by_text("not available on this server")
        expect(export.get_by_text("No exports yet.").or_(missing)).to_be_visible()
        if not missing.is_visible():
            export.locator("#export-platform").select_option("ONNX")
            export.get_by_role("button", name="Export", exact=True).click()
            expect(export.locator("tbody tr").first.or_(missing)).to_be_visible()

        # Quick test an image, then keep it as a training image.
        page.get_by_role("link", name="Predictions").click()
        page.set_input_files("#test-file", _file("probe.jpg", picture("disc", 500)))
        expect(page.locator(".test-result .prediction-list li").first).to_contain_text("Disc")
        expect(page.locator(".prediction-grid .image-card")).to_have_count(1)
        page.locator(".prediction-grid .image-check").check()
        page.locator("#prediction-tag").select_option(label="Disc")
        page.get_by_role("button", name="Add to training images").click()
        expect(page.locator(".prediction-grid .image-card")).to_have_count(0)
        with portal.api as api:
            assert int(api.get(f"/projects/{pid}/images/count").json()) == 11

        # The published endpoint with the Prediction-Key.
        page.locator("#test-target").select_option(label="Published “classifyModel” (Prediction API)")
        page.set_input_files("#test-file", _file("probe2.jpg", picture("stripes", 501)))
        expect(page.locator(".test-result .prediction-list li").first).to_contain_text("Stripes")

        # That call was stored too: delete it.
        expect(page.locator(".prediction-grid .image-card")).to_have_count(1)
        page.locator(".prediction-grid .image-check").check()
        page.locator(".selection-bar").get_by_role("button", name="Delete").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(page.get_by_text("No stored predictions.")).to_be_visible()
        with portal.api as api:
            assert api.post(f"/projects/{pid}/predictions/query", json={}).json()["results"] == []

        # Unpublish (confirmed): the publish form is back.
        page.get_by_role("link", name="Train & evaluate").click()
        page.get_by_role("button", name="Unpublish").click()
        page.get_by_role("dialog").get_by_role("button", name="Unpublish").click()
        expect(page.locator("#publish-name")).to_be_visible()
        with portal.api as api:
            assert api.get(f"/projects/{pid}/iterations/{iteration_id}").json()["publishName"] is None
        assert not portal.errors, portal.errors
    finally:
        context.close()
