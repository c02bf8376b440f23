"""The detection labeler in a real browser: boxes drawn, moved, resized, retagged and deleted with the
mouse and keyboard are saved as regions through the Training API."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Portal, picture, upload_images

expect = pytest.importorskip("playwright.sync_api", reason="the portal tests need Playwright").expect

OD_GENERAL = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"


def _regions(portal: Portal, pid: str, image_id: str) -> list[dict[str, Any]]:
    with portal.api as api:
        [image] = api.get(f"/projects/{pid}/images/id", params={"imageIds": image_id}).json()
    return image.get("regions") or []


def _saved(page: Any) -> None:
    expect(page.locator(".save-status")).to_have_text("All changes saved")


def _shown(page: Any) -> str:
    """The id of the image the labeler shows."""
    return str(page.locator(".stage-wrap").get_attribute("data-image-id"))


@pytest.fixture()
def detection(portal: Portal) -> dict[str, Any]:
    with portal.api as api:
        pid = api.post("/projects", params={"name": "Detect", "domainId": OD_GENERAL}).json()["id"]
        tags = [api.post(f"/projects/{pid}/tags", params={"name": n}).json() for n in ("disc", "stripes")]
    pictures = [(f"{k}{i}.jpg", picture(k, i)) for k, i in (("disc", 1), ("stripes", 2), ("disc", 3))]
    ids = upload_images(portal, pid, pictures)
    portal.sign_in()
    return {"pid": pid, "tags": tags, "ids": ids}


def test_draw_move_resize_retag_and_delete_boxes(portal: Portal, detection: dict[str, Any]) -> None:
    page, pid, (disc, stripes) = portal.page, detection["pid"], detection["tags"]
    portal.go(f"/projects/{pid}/images")
    page.locator(".image-card .thumb").first.click()
    expect(page.locator(".position")).to_have_text("Image 1 of 3")
    layer = page.locator(".stage-layer")
    expect(page.locator(".stage-image")).to_have_js_property("complete", True)
    # the layer takes the image's size once the image is laid out, a moment after it has loaded
    page.wait_for_function("() => document.querySelector('.stage-layer').getBoundingClientRect().width > 100")
    box = layer.bounding_box()
    assert box and box["width"] > 100

    # Draw from 20%,30% to 60%,70% with the mouse.
    x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    expect(page.locator(".stage-layer .box")).to_have_count(1)
    _saved(page)
    image_id = _shown(page)
    [region] = _regions(portal, pid, image_id)
    assert region["tagId"] == disc["id"]
    assert region["left"] == pytest.approx(0.2, abs=0.01) and region["top"] == pytest.approx(0.3, abs=0.01)
    assert region["width"] == pytest.approx(0.4, abs=0.01) and region["height"] == pytest.approx(0.4, abs=0.01)

    # Move it right by 10% of the width by dragging its middle.
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + box["width"] * 0.1, cy, steps=6)
    page.mouse.up()
    _saved(page)
    [moved] = _regions(portal, pid, image_id)
    assert moved["left"] == pytest.approx(0.3, abs=0.01) and moved["width"] == pytest.approx(0.4, abs=0.01)
    assert moved["regionId"] != region["regionId"]

    # Resize from the bottom-right handle.
    handle = page.locator(".handle-se").bounding_box()
    assert handle
    hx, hy = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(hx + box["width"] * 0.1, hy + box["height"] * 0.1, steps=6)
    page.mouse.up()
    _saved(page)
    [resized] = _regions(portal, pid, image_id)
    assert resized["width"] == pytest.approx(0.5, abs=0.015) and resized["height"] == pytest.approx(0.5, abs=0.015)

    # Retag it from the box list, then with the keyboard (2 = second tag, 1 = first).
    page.get_by_label("Tag of box 1").select_option(label="stripes")
    _saved(page)
    assert _regions(portal, pid, image_id)[0]["tagId"] == stripes["id"]
    page.keyboard.press("1")
    _saved(page)
    assert _regions(portal, pid, image_id)[0]["tagId"] == disc["id"]

    # Arrow keys nudge the selected box; Escape deselects; then arrows step between images.
    before = _regions(portal, pid, image_id)[0]["left"]
    page.keyboard.press("Shift+ArrowRight")
    _saved(page)
    assert _regions(portal, pid, image_id)[0]["left"] > before
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowRight")
    expect(page.locator(".position")).to_have_text("Image 2 of 3")
    expect(page.locator(".stage-layer .box")).to_have_count(0)

    # A box from the keyboard on image 2, then deleted with the Delete key.
    page.keyboard.press("n")
    _saved(page)
    second = _shown(page)
    assert second != image_id
    assert len(_regions(portal, pid, second)) == 1
    page.keyboard.press("Delete")
    _saved(page)
    assert _regions(portal, pid, second) == []

    # Back to image 1: its box is still there.
    page.keyboard.press("ArrowLeft")
    expect(page.locator(".position")).to_have_text("Image 1 of 3")
    expect(page.locator(".stage-layer .box")).to_have_count(1)
    assert "i=0" in page.url


def test_smart_labeler_says_when_the_server_lacks_it(portal: Portal, detection: dict[str, Any]) -> None:
    page, pid = portal.page, detection["pid"]
    not_here = {"code": "NotFound", "message": "The requested resource or operation does not exist."}
    page.route("**/regionproposals", lambda route: route.fulfill(status=404, json=not_here))
    portal.go(f"/projects/{pid}/label?i=0")
    page.get_by_role("button", name="Propose boxes").click()
    expect(page.get_by_text("Box proposal is not available on this server yet.")).to_be_visible()
    expect(page.locator(".stage-layer .box.suggested")).to_have_count(0)


def test_smart_labeler_proposals_are_accepted_or_reported_missing(portal: Portal, detection: dict[str, Any]) -> None:
    page, pid = portal.page, detection["pid"]
    portal.go(f"/projects/{pid}/label?i=0")
    expect(page.locator(".stage-image")).to_have_js_property("complete", True)
    page.get_by_role("button", name="Propose boxes").click()
    suggested = page.locator(".stage-layer .box.suggested")
    missing = page.get_by_text("not available on this server")
    none = page.get_by_text("No objects proposed")
    expect(suggested.first.or_(missing).or_(none)).to_be_visible()
    if missing.is_visible() or none.is_visible():
        return
    count = suggested.count()
    page.locator(".suggestion-list li").first.get_by_role("button", name="Accept").click()
    expect(suggested).to_have_count(count - 1)
    _saved(page)
    image_id = _shown(page)
    assert len(_regions(portal, pid, image_id)) == 1
    if count > 1:
        page.get_by_role("button", name="Reject all").click()
        expect(suggested).to_have_count(0)
    assert len(_regions(portal, pid, image_id)) == 1
