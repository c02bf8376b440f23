"""Screenshots of the browser portal for the docs: ``python docs/make_screenshots.py [--out DIR]``.

Starts a server with a training worker on a temporary data folder, fills it with made-up pictures
(a classification project that it trains and publishes, a detection project with boxes), then
drives the portal in headless Chromium and writes PNG files (default: docs/screenshots/).

Needs the train extras, Playwright (``pip install playwright``) and Chromium (Debian: ``apt-get
install -y chromium``; set OWNVISION_CHROMIUM to use another binary). Takes about a minute or two.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image, ImageDraw

from ownvision.api.app import create_app
from ownvision.config import Settings
from ownvision.services import accounts
from ownvision.services.context import open_context
from ownvision.worker.loop import run_worker

TRAINING = "/customvision/v3.3/training"
COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"  # General (compact), classification
OD_COMPACT = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"  # General (compact), object detection


def picture(kind: str, seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """Orange discs, blue stripes or a green checkerboard, varied by seed."""
    rng = random.Random(f"{kind}-{seed}")
    w, h = size
    if kind == "disc":
        img = Image.new("RGB", size, (rng.randrange(10, 50),) * 3)
        d = ImageDraw.Draw(img)
        for _ in range(rng.randrange(1, 4)):
            r = rng.randrange(25, 70)
            x, y = rng.randrange(r, w - r), rng.randrange(r, h - r)
            d.ellipse([x - r, y - r, x + r, y + r], fill=(240, rng.randrange(100, 160), 20))
    elif kind == "stripes":
        img = Image.new("RGB", size, (250, 250, 250))
        d = ImageDraw.Draw(img)
        step = rng.randrange(12, 26)
        for x in range(-h, w, step * 2):
            d.polygon([(x, 0), (x + step, 0), (x + step + h, h), (x + h, h)], fill=(20, 40, rng.randrange(160, 230)))
    else:
        img = Image.new("RGB", size, (230, 240, 230))
        d = ImageDraw.Draw(img)
        cell = rng.randrange(18, 36)
        for i in range(0, w, cell):
            for j in range(0, h, cell):
                if (i // cell + j // cell) % 2 == 0:
                    d.rectangle([i, j, i + cell - 1, j + cell - 1], fill=(30, rng.randrange(120, 180), 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def bench_scene(seed: int) -> tuple[bytes, list[tuple[str, float, float, float, float]]]:
    """A grey workbench with discs and striped plates; returns the JPEG and its (kind, box) list."""
    rng = random.Random(seed)
    w, h = 640, 480
    img = Image.new("RGB", (w, h), (rng.randrange(70, 110),) * 3)
    d = ImageDraw.Draw(img)
    boxes = []
    for _ in range(rng.randrange(2, 5)):
        kind = rng.choice(["disc", "plate"])
        bw, bh = rng.randrange(80, 170), rng.randrange(70, 150)
        x, y = rng.randrange(0, w - bw), rng.randrange(0, h - bh)
        if kind == "disc":
            bh = bw = min(bw, bh)
            d.ellipse([x, y, x + bw, y + bh], fill=(240, rng.randrange(100, 160), 20))
        else:
            d.rectangle([x, y, x + bw, y + bh], fill=(250, 250, 250))
            for sx in range(x, x + bw, 14):
                d.rectangle([sx, y, min(sx + 6, x + bw), y + bh], fill=(20, 40, 200))
        boxes.append((kind, x / w, y / h, bw / w, bh / h))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue(), boxes


class Server:
    """The API and a worker thread on a temporary data folder."""

    def __init__(self, data: Path) -> None:
        self.settings = Settings(data_dir=data, workers=0, job_heartbeat_s=0.5, worker_poll_s=0.2,  # type: ignore[call-arg]
                                 advanced_budget_cap_s=30.0)
        self.ctx = open_context(self.settings)
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.settings, self.ctx), host="127.0.0.1", port=0,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.stop = threading.Event()
        self.worker = threading.Thread(target=run_worker, args=(self.ctx,), kwargs={"stop": self.stop}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.settings.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.worker.join(timeout=60)
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.ctx.close()


def seed(api: httpx.Client) -> dict[str, Any]:
    """Projects to photograph. Returns their ids and the trained iteration's id."""
    shapes = api.post("/projects", params={"name": "Shapes", "domainId": COMPACT, "classificationType": "Multiclass",
                                           "description": "Tell discs, stripes and checkerboards apart."}).json()["id"]
    tag_ids = {}
    for name, kind in (("Disc", "disc"), ("Stripes", "stripes"), ("Checkerboard", "grid")):
        tag_ids[name] = tag = api.post(f"/projects/{shapes}/tags", params={"name": name}).json()["id"]
        files = [("imageData", (f"{kind}{i}.jpg", picture(kind, i), "image/jpeg")) for i in range(10)]
        api.post(f"/projects/{shapes}/images", params={"tagIds": tag}, files=files).raise_for_status()
    # A few wrong labels, as real data has: they show up as mistakes on the performance page.
    for name, kind, seeds in (("Disc", "stripes", (50, 51)), ("Checkerboard", "disc", (52,))):
        files = [("imageData", (f"odd{i}.jpg", picture(kind, i), "image/jpeg")) for i in seeds]
        api.post(f"/projects/{shapes}/images", params={"tagIds": tag_ids[name]}, files=files).raise_for_status()
    untagged = [("imageData", (f"new{i}.jpg", picture(kind, 100 + i), "image/jpeg"))
                for i, kind in enumerate(["disc", "grid", "stripes"])]
    api.post(f"/projects/{shapes}/images", files=untagged).raise_for_status()

    bench = api.post("/projects", params={
        "name": "Parts on the bench", "domainId": OD_COMPACT,
        "description": "Find discs and striped plates on the workbench camera."}).json()["id"]
    tags = {n: api.post(f"/projects/{bench}/tags", params={"name": n}).json()["id"] for n in ("disc", "plate")}
    scenes = [bench_scene(i) for i in range(12)]
    created = api.post(f"/projects/{bench}/images", files=[("imageData", (f"bench{i}.jpg", data, "image/jpeg"))
                                                            for i, (data, _) in enumerate(scenes)]).json()["images"]
    regions = [{"imageId": c["image"]["id"], "tagId": tags[kind], "left": x, "top": y, "width": w, "height": h}
               for c, (_, boxes) in zip(created[:9], scenes[:9], strict=True) for kind, x, y, w, h in boxes]
    api.post(f"/projects/{bench}/images/regions", json={"regions": regions}).raise_for_status()
    listed = api.get(f"/projects/{bench}/images", params={"take": 50}).json()
    label_index = next((i for i, im in enumerate(listed)
                        if len({r["tagId"] for r in im.get("regions") or []}) == 2 and len(im["regions"]) >= 3), 0)

    api.post("/projects", params={"name": "Shelf audit", "classificationType": "Multilabel",
                                  "description": "Products on shop shelves (several per photo)."}).raise_for_status()

    iteration = api.post(f"/projects/{shapes}/train").json()
    deadline = time.time() + 600
    while iteration["status"] == "Training":
        if time.time() > deadline:
            raise SystemExit("training did not finish in 10 minutes")
        time.sleep(1)
        iteration = api.get(f"/projects/{shapes}/iterations/{iteration['id']}").json()
    if iteration["status"] != "Completed":
        raise SystemExit(f"training failed: {iteration.get('trainingErrorDetails')}")
    api.post(f"/projects/{shapes}/iterations/{iteration['id']}/publish",
             params={"publishName": "shapes", "predictionId": "ownvision"}).raise_for_status()
    return {"shapes": shapes, "bench": bench, "iteration": iteration["id"], "label_index": label_index}


def jpeg(name: str, data: bytes) -> dict[str, Any]:
    """A file for Playwright's set_input_files."""
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


def shoot(url: str, keys: accounts.AccountKeys, ids: dict[str, Any], out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    chromium = os.environ.get("OWNVISION_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    written: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--hide-scrollbars"])

        def page_at(width: int, height: int) -> Any:
            page = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1).new_page()
            page.goto(url + "/")
            page.fill("#training-key", keys.training_key)
            page.fill("#prediction-key", keys.prediction_key)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Projects", exact=True).wait_for()
            return page

        def save(page: Any, name: str, full: bool = False) -> None:
            page.wait_for_load_state("networkidle")
            page.evaluate("document.activeElement && document.activeElement.blur()")
            time.sleep(0.3)
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=full)
            written.append(path)

        page = page_at(1280, 800)
        save(page, "projects")

        page.goto(f"{url}/#/projects/{ids['shapes']}/images")
        expect(page.locator(".image-card")).to_have_count(36)
        save(page, "images")

        page.get_by_role("button", name="Add images").click()
        page.locator(".upload-tags").get_by_label("Disc").check()
        page.set_input_files("#upload-input", [
            *(jpeg(f"disc-{i}.jpg", picture("disc", 200 + i)) for i in range(5)),
            jpeg("notes.txt.jpg", b"not a picture"),
        ])
        page.get_by_role("button", name="Upload 6 images").click()
        expect(page.locator(".upload-summary")).to_contain_text("Finished")
        save(page, "upload")

        page.goto(f"{url}/#/projects/{ids['bench']}/label?i={ids['label_index']}")
        expect(page.locator(".stage-layer .box").first).to_be_visible()
        page.locator(".box-select").first.click()
        save(page, "labeler")

        page.goto(f"{url}/#/projects/{ids['shapes']}/train/{ids['iteration']}")
        expect(page.locator(".pr-plot")).to_be_visible()
        page.locator("#threshold").fill("70")
        page.locator("#threshold").dispatch_event("input")
        expect(page.locator("#threshold-value")).to_have_text("70%")
        save(page, "performance", full=True)

        page.goto(f"{url}/#/projects/{ids['shapes']}/predictions")
        page.set_input_files("#test-file", jpeg("probe.jpg", picture("stripes", 300)))
        expect(page.locator(".test-result .prediction-list")).to_be_visible()
        save(page, "predictions", full=True)

        page.goto(f"{url}/#/account")
        page.get_by_role("heading", name="Usage and quotas").or_(page.get_by_role("status")).first.wait_for()
        save(page, "account", full=True)

        narrow = page_at(390, 844)
        narrow.goto(f"{url}/#/projects/{ids['shapes']}/images")
        expect(narrow.locator(".image-card").first).to_be_visible()
        save(narrow, "narrow-images")
        narrow.goto(f"{url}/#/projects/{ids['bench']}/label?i={ids['label_index']}")
        expect(narrow.locator(".stage-layer .box").first).to_be_visible()
        save(narrow, "narrow-labeler")
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ownvision-shots-") as tmp, Server(Path(tmp)) as server:
        keys = accounts.create_account(server.ctx, name="docs")
        headers = {"Training-Key": keys.training_key}
        with httpx.Client(base_url=server.url + TRAINING, headers=headers, timeout=120) as api:
            ids = seed(api)
        for path in shoot(server.url, keys, ids, args.out):
            print(path)


if __name__ == "__main__":
    main()
