"""The portal in a real browser: sign in, projects, upload with progress, tagging, filters, deletion."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..conftest import LiveServer
from .conftest import Portal, open_portal, picture

expect = pytest.importorskip("playwright.sync_api", reason="the portal tests need Playwright").expect


def _count(portal: Portal, project_id: str, status: str = "All", tag: str | None = None) -> int:
    with portal.api as api:
        params = {"taggingStatus": status, **({"tagIds": tag} if tag else {})}
        return int(api.get(f"/projects/{project_id}/images/count", params=params).json())


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


def _project_id(portal: Portal) -> str:
    m = re.search(r"#/projects/([0-9a-f-]{36})", portal.page.url)
    assert m, portal.page.url
    return m.group(1)


def test_sign_in_refuses_a_wrong_key_and_keeps_the_key_in_the_tab(portal: Portal) -> None:
    page = portal.page
    page.goto(portal.server.url + "/")
    page.fill("#training-key", "not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.fill("#training-key", portal.keys.training_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('ownvision.trainingKey')") == portal.keys.training_key
    assert page.evaluate("localStorage.length") == 0
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#training-key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('ownvision.trainingKey')") is None


def test_project_images_flow_upload_tag_filter_delete(portal: Portal) -> None:
    page = portal.page
    portal.sign_in()

    # Create a multiclass project.
    page.get_by_role("button", name="New project").click()
    page.fill("#project-name", "Shapes")
    page.fill("#project-description", "discs and stripes")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=re.compile("Shapes"))).to_be_visible()
    pid = _project_id(portal)

    # Tags from the sidebar.
    for name in ("Disc", "Stripes"):
        page.locator("#new-tag").fill(name)
        page.locator("aside.sidebar").get_by_role("button", name="Add tag").click()
        expect(page.locator("aside.sidebar .tag-name", has_text=name)).to_be_visible()

    # Upload four discs tagged Disc plus one file that is not an image: progress and a per-file error.
    page.locator(".upload-tags").get_by_label("Disc").check()
    files = [_file(f"disc{i}.jpg", picture("disc", i)) for i in range(4)]
    files.append(_file("notes.jpg", b"this is not a picture"))
    page.set_input_files("#upload-input", files)
    expect(page.locator(".upload-item")).to_have_count(5)
    page.get_by_role("button", name="Upload 5 images").click()
    expect(page.locator(".upload-summary")).to_contain_text("Finished: 4 added, 1 failed")
    assert page.locator(".upload-progress progress").evaluate("p => p.value") == 1
    bad = page.locator(".upload-item", has_text="notes.jpg")
    expect(bad.locator(".status-error")).to_contain_text("Not a supported image")
    expect(page.locator(".upload-item .status-ok")).to_have_count(4)
    expect(page.locator(".image-card")).to_have_count(4)
    assert _count(portal, pid, "Tagged") == 4

    # Two more without a tag, then tag them from the Untagged filter.
    page.get_by_role("button", name="Clear list").click()
    page.locator(".upload-tags").get_by_label("Disc").uncheck()
    page.set_input_files("#upload-input", [_file(f"s{i}.jpg", picture("stripes", i)) for i in range(2)])
    page.get_by_role("button", name="Upload 2 images").click()
    expect(page.locator(".upload-summary")).to_contain_text("Finished: 2 added")
    page.locator("aside.sidebar").get_by_role("link", name=re.compile("^Untagged")).click()
    expect(page.locator(".image-card")).to_have_count(2)
    page.get_by_label("Select page").check()
    expect(page.locator(".selection-bar")).to_contain_text("2 selected")
    page.locator("#bulk-tag").select_option(label="Stripes")
    page.get_by_role("button", name="Tag selected", exact=True).click()
    expect(page.locator(".grid-heading")).to_have_text("No images untagged.")
    assert _count(portal, pid, "Untagged") == 0

    # Filter by tag, untag one image.
    page.locator("aside.sidebar").get_by_role("link", name=re.compile("^Disc")).click()
    expect(page.locator(".image-card")).to_have_count(4)
    page.locator(".image-card .image-check").first.check()
    page.locator("#bulk-tag").select_option(label="Disc")
    page.get_by_role("button", name="Untag selected").click()
    expect(page.locator(".image-card")).to_have_count(3)
    assert _count(portal, pid, "Untagged") == 1

    # Delete two images (with confirmation; cancelling first keeps them).
    page.locator("aside.sidebar").get_by_role("link", name=re.compile("^All images")).click()
    expect(page.locator(".image-card")).to_have_count(6)
    checks = page.locator(".image-card .image-check")
    checks.nth(0).check()
    checks.nth(1).check()
    page.locator(".selection-bar").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert _count(portal, pid) == 6
    page.locator(".selection-bar").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator(".image-card")).to_have_count(4)
    assert _count(portal, pid) == 4

    # Edit the project, then delete it.
    page.get_by_role("link", name="Settings").click()
    page.fill("#project-name", "Shapes v2")
    page.get_by_label("Classification: several tags per image").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name=re.compile("Shapes v2"))).to_be_visible()
    with portal.api as api:
        project = api.get(f"/projects/{pid}").json()
    assert project["name"] == "Shapes v2" and project["settings"]["classificationType"] == "Multilabel"
    page.get_by_role("button", name="Delete project…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
    with portal.api as api:
        assert api.get(f"/projects/{pid}").status_code == 404


def test_api_errors_show_the_server_message(portal: Portal) -> None:
    page = portal.page
    portal.sign_in()
    page.get_by_role("button", name="New project").click()
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("name")
    page.evaluate("document.querySelector('#project-name').removeAttribute('maxlength')")
    page.fill("#project-name", "x" * 300)
    page.get_by_role("button", name="Create project").click()
    with portal.api as api:
        message = api.post("/projects", params={"name": "x" * 300}).json()["message"]
    expect(page.get_by_role("dialog").get_by_role("alert")).to_have_text(message)


def test_account_page_shows_usage_and_deletes_with_typed_confirmation(portal: Portal) -> None:
    page = portal.page
    portal.sign_in()
    page.get_by_role("link", name="Account").click()
    with portal.api as api:
        r = api.get("/account")
    if r.status_code == 404:
        expect(page.get_by_text("not available on this server")).to_be_visible()
        return
    account_id = r.json()["id"]
    expect(page.get_by_text(account_id).first).to_be_visible()
    expect(page.get_by_role("heading", name="Usage and quotas")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download all my data").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(2) == b"PK"
    assert download.value.suggested_filename.endswith(".zip")
    page.get_by_role("button", name="Delete account…").click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Delete my account")
    expect(confirm).to_be_disabled()
    dialog.get_by_role("textbox").fill("wrong")
    expect(confirm).to_be_disabled()
    dialog.get_by_role("textbox").fill(account_id)
    confirm.click()
    expect(page.locator("#training-key")).to_be_visible()
    with portal.api as api:
        assert api.get("/projects").status_code == 401


def test_missing_operations_are_reported_as_not_available(portal: Portal) -> None:
    """An older server answers 404 NotFound for the account operations: the page says so plainly."""
    page = portal.page
    not_here = {"code": "NotFound", "message": "The requested resource or operation does not exist."}
    page.route("**/customvision/v3.3/training/account", lambda route: route.fulfill(status=404, json=not_here))
    portal.sign_in()
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("status").filter(has_text="not available on this server")).to_be_visible()
    page.route("**/customvision/v3.3/training/account", lambda route: route.fulfill(
        status=500, json={"code": "ErrorUnknown", "message": "The disk is full."}))
    page.reload()
    expect(page.get_by_role("alert")).to_have_text("The disk is full.")


def test_pages_fit_a_narrow_screen(browser: Any, live: LiveServer) -> None:
    context, portal = open_portal(browser, live, viewport=(390, 844))
    try:
        page = portal.page
        portal.sign_in()
        with portal.api as api:
            pid = api.post("/projects", params={"name": "A project with a rather long name to wrap"}).json()["id"]
        portal.go(f"/projects/{pid}/images")
        expect(page.locator(".dropzone")).to_be_visible()
        for route in (f"/projects/{pid}/images", f"/projects/{pid}/train", f"/projects/{pid}/settings", "/projects"):
            portal.go(route)
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{route} overflows by {overflow}px"
        assert not portal.errors, portal.errors
    finally:
        context.close()
