"""Readable contrast and keyboard access on the main pages, measured in the browser.

Contrast: for every visible element with text of its own, the WCAG 2 contrast ratio between its
colour and the first opaque background behind it must be at least 4.5:1 (AA for normal text), or 3:1
for large text (24 px, or 18.66 px bold). Keyboard: every control can be reached with Tab, shows a
focus outline, and the sign-in form works with the keyboard alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Portal, picture, upload_images

expect = pytest.importorskip("playwright.sync_api", reason="the portal tests need Playwright").expect

LOW_CONTRAST = """
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a >= 0.99) return c;
      if (getComputedStyle(e).backgroundImage !== 'none') return null;  // gradients and pictures: not judged
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el), box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || box.width === 0 || box.height === 0 || style.opacity === '0') continue;
    if (el.closest('[aria-hidden="true"], [disabled], .stage-layer')) continue;
    const fg = parse(style.color), bg = background(el);
    if (!fg || !bg) continue;
    const a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = `${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < need) bad.push(`${what} ${ratio.toFixed(2)}:1`);
  }
  return bad;
}
"""

UNREACHABLE = """
() => [...document.querySelectorAll('a[href], button, input, select, textarea')]
  .filter((e) => e.getBoundingClientRect().width > 0 && !e.disabled && e.tabIndex < 0 && e.type !== 'hidden')
  .map((e) => e.outerHTML.slice(0, 80))
"""


def _pages(portal: Portal) -> dict[str, str]:
    with portal.api as api:
        pid = api.post("/projects", params={"name": "Contrast"}).json()["id"]
        tag = api.post(f"/projects/{pid}/tags", params={"name": "disc"}).json()["id"]
    upload_images(portal, pid, [("a.jpg", picture("disc", 1)), ("b.jpg", picture("stripes", 2))], [tag])
    return {"projects": "/projects", "images": f"/projects/{pid}/images", "train": f"/projects/{pid}/train",
            "settings": f"/projects/{pid}/settings", "label": f"/projects/{pid}/label?i=0", "account": "/account"}


def test_text_has_readable_contrast_on_every_main_page(portal: Portal) -> None:
    page = portal.page
    page.goto(portal.server.url + "/")
    assert page.evaluate(LOW_CONTRAST) == [], "sign-in page"
    portal.sign_in()
    for name, route in _pages(portal).items():
        portal.go(route)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(LOW_CONTRAST) == [], name


def test_controls_are_reachable_with_the_keyboard_and_show_focus(portal: Portal) -> None:
    page: Any = portal.page
    page.goto(portal.server.url + "/")
    # Sign in with the keyboard alone.
    page.locator("#training-key").focus()
    page.keyboard.type(portal.keys.training_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    for name, route in _pages(portal).items():
        portal.go(route)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNREACHABLE) == [], name
    # From the page's heading, Tab moves the focus onto the page's controls, and each shows a ring.
    portal.go("/projects")
    page.wait_for_load_state("networkidle")
    page.focus("main h1")
    for _ in range(4):
        page.keyboard.press("Tab")
        # The focus ring is on the control, or on the card around it (``:focus-within``).
        focused = page.evaluate("""() => {
            const e = document.activeElement;
            let ring = false;
            for (let a = e, up = 0; a && up < 4 && !ring; a = a.parentElement, up++) {
                const s = getComputedStyle(a);
                ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
            }
            return {tag: e.tagName, html: e.outerHTML.slice(0, 80), ring};
        }""")
        assert focused["tag"] in ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA"), focused
        assert focused["ring"], f"no visible focus on {focused}"
