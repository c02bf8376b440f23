"""Upload throughput and listing latency of the Training API, through the official SDK.

Starts an ownvision server in a child process over a temporary data folder (or uses ``--endpoint`` and
``--key``), then:

1. uploads 640x480 JPEGs in batches of 64 with ``create_images_from_files`` and reports images/s
   (the images are made before the clock starts, so only the client's request time and the server count);
2. fills one project to ``--images`` images (10,000 by default), every image tagged;
3. measures GetTaggedImages for pages of 256 (``--calls`` calls, skips spread over the project) and
   GetTaggedImageCount, and prints p50/p95. A page is timed through the SDK (whose msrest models cost
   the client some 20 ms per 256 images) and through plain httpx (server time plus JSON parsing).

With a local server the table also shows the server's CPU time per call, read from /proc: on a busy
machine wall-clock times stretch, CPU time much less, so that is the column to compare versions by.

Aims: at least 100 images/s upload; a page of 256 under 50 ms.

    python bench/upload_and_listing.py
    python bench/upload_and_listing.py --images 2000 --calls 50
    python bench/upload_and_listing.py --endpoint http://127.0.0.1:8080 --key <training key>
"""

from __future__ import annotations

import argparse
import io
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry
from msrest.authentication import ApiKeyCredentials
from PIL import Image, ImageDraw

BATCH = 64
PAGE = 256

_SERVER = """
import sys, uvicorn
from ownvision.api.app import create_app
from ownvision.config import Settings
settings = Settings(data_dir=sys.argv[1], port=int(sys.argv[2]), workers=0, log_level="WARNING")
uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
"""


def jpeg(index: int, rng: random.Random) -> bytes:
    """A distinct 640x480 JPEG (q=85): 64x48 random colours scaled up smoothly, with the index written on it.

    About 60 KB, like a photo of that size (flat noise blocks would compress to a third of that).
    """
    noise = Image.frombytes("RGB", (64, 48), rng.randbytes(64 * 48 * 3))
    img = noise.resize((640, 480), Image.Resampling.BILINEAR)
    ImageDraw.Draw(img).text((20, 20), f"#{index}", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc), 0.0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def local_server() -> Iterator[tuple[str, str, int]]:
    """A server in a child process over a temporary data folder; yields (endpoint, training key, pid)."""
    from ownvision.config import Settings
    from ownvision.services import accounts
    from ownvision.services.context import open_context

    with tempfile.TemporaryDirectory(prefix="ov-bench-") as data:
        ctx = open_context(Settings(data_dir=Path(data), workers=0))
        keys = accounts.create_account(ctx, name="bench")
        ctx.close()
        port = _free_port()
        log = open(Path(data) / "server.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-c", _SERVER, data, str(port)], stdout=log, stderr=log)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if httpx.get(f"{endpoint}/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"server did not start; see {log.name}")
                time.sleep(0.1)
            yield endpoint, keys.training_key, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def upload_batches(trainer: CustomVisionTrainingClient, project_id: str, batches: list[list[bytes]],
                   tag_ids: list[str], start: int) -> float:
    """Upload pre-made batches; returns the seconds spent in requests."""
    spent = 0.0
    for n, batch in enumerate(batches):
        entries = [ImageFileCreateEntry(name=f"{start + n * BATCH + i}.jpg", contents=data)
                   for i, data in enumerate(batch)]
        began = time.perf_counter()
        summary = trainer.create_images_from_files(
            project_id, ImageFileCreateBatch(images=entries, tag_ids=[tag_ids[n % len(tag_ids)]]))
        spent += time.perf_counter() - began
        if not summary.is_batch_successful:
            raise RuntimeError(f"batch {n} failed: {sorted({i.status for i in summary.images})}")
    return spent


class Meter:
    """Wall-clock per call, plus the server's CPU time per call when the server is a local child process.

    On a busy machine wall-clock times stretch; the server's CPU time per call barely moves, so it is
    the figure to compare between code versions.
    """

    def __init__(self, server_pid: int | None) -> None:
        self.pid = server_pid

    def server_cpu(self) -> float:
        return cpu_seconds(self.pid) if self.pid else float("nan")

    def calls(self, call: Callable[[int], object], calls: int) -> tuple[list[float], float]:
        """Run ``call(i)`` ``calls`` times: (wall ms of each, server CPU ms per call)."""
        out = []
        cpu0 = self.server_cpu()
        for i in range(calls):
            began = time.perf_counter()
            call(i)
            out.append((time.perf_counter() - began) * 1000)
        return out, (self.server_cpu() - cpu0) * 1000 / calls


def run(endpoint: str, key: str, images: int, measure_batches: int, calls: int, seed: int,
        server_pid: int | None = None) -> None:
    meter = Meter(server_pid)
    trainer = CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={"Training-key": key}))
    rng = random.Random(seed)
    project = trainer.create_project(f"bench {time.strftime('%H:%M:%S')}")
    tags = [trainer.create_tag(project.id, name).id for name in ("left", "right")]

    # 1. upload throughput, images made beforehand
    made = [[jpeg(n * BATCH + i, rng) for i in range(BATCH)] for n in range(measure_batches)]
    sizes = [len(d) for b in made for d in b]
    cpu0 = meter.server_cpu()
    spent = upload_batches(trainer, project.id, made, tags, 0)
    uploaded = measure_batches * BATCH
    upload_cpu_ms = (meter.server_cpu() - cpu0) * 1000 / uploaded

    # 2. fill to `images`, making each batch just before it is sent (not part of the measurement above)
    fill_began = time.perf_counter()
    while uploaded < images:
        n = min(BATCH, images - uploaded)
        batch = [jpeg(uploaded + i, rng) for i in range(n)]
        upload_batches(trainer, project.id, [batch], tags, uploaded)
        uploaded += n
    fill_s = time.perf_counter() - fill_began
    total = trainer.get_tagged_image_count(project.id)
    if total != images:
        raise RuntimeError(f"expected {images} tagged images, the server counts {total}")

    # 3. listing latency: skips spread over the whole project, both orders
    trainer.get_tagged_images(project.id, take=PAGE)  # warm-up
    url = f"{endpoint}/customvision/v3.4-preview/training/projects/{project.id}/images/tagged"

    def sdk_page(i: int) -> None:
        page = trainer.get_tagged_images(project.id, take=PAGE, skip=rng.randrange(images - PAGE),
                                         order_by="Oldest" if i % 2 else "Newest")
        assert len(page) == PAGE

    raw = httpx.Client(headers={"Training-Key": key}, timeout=60)  # keep-alive, like the SDK's session

    def raw_page(i: int) -> None:
        r = raw.get(url, params={"take": PAGE, "skip": rng.randrange(images - PAGE)})
        assert r.status_code == 200 and len(r.json()) == PAGE

    def tag_page(i: int) -> None:
        trainer.get_tagged_images(project.id, tag_ids=[tags[i % 2]], take=PAGE, skip=rng.randrange(images // 2 - PAGE))

    rows = [
        ("GetTaggedImages take=256 (SDK)", meter.calls(sdk_page, calls), "< 50 ms"),
        ("GetTaggedImages take=256 (httpx, JSON only)", meter.calls(raw_page, calls), "< 50 ms"),
        ("GetTaggedImages take=256, tagIds=[one] (SDK)", meter.calls(tag_page, calls), "< 50 ms"),
        ("GetTaggedImageCount", meter.calls(lambda i: trainer.get_tagged_image_count(project.id), calls), ""),
        ("GetTaggedImageCount tagIds=[one]",
         meter.calls(lambda i: trainer.get_tagged_image_count(project.id, tag_ids=[tags[1]]), calls), ""),
    ]
    raw.close()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nendpoint {endpoint}; {images} images of 640x480 JPEG q=85 (mean {statistics.mean(sizes) / 1024:.0f} KB), "
          f"batches of {BATCH}; {calls} calls per row; {os.cpu_count()} CPUs, load average {load:.1f}\n")
    print(f"{'measurement':<46} {'wall p50 / p95':>20} {'server CPU':>16} {'aim':>10}")
    print("-" * 95)
    upload_rate = f"{measure_batches * BATCH / spent:.1f} images/s"
    print(f"{f'upload, {measure_batches} batches of {BATCH}':<46} {upload_rate:>20} "
          f"{f'{upload_cpu_ms:.1f} ms/image':>16} {'>= 100/s':>10}")
    print(f"{f'fill to {images} (images made between batches)':<46} "
          f"{f'{(images - measure_batches * BATCH) / fill_s:.1f} images/s':>20} {'':>16} {'':>10}")
    for name, (values, cpu_ms), aim in rows:
        print(f"{name:<46} {f'{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f} ms':>20} "
              f"{f'{cpu_ms:.1f} ms/call':>16} {aim:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="an running server (default: start one over a temporary folder)")
    parser.add_argument("--key", help="its Training-Key (with --endpoint)")
    parser.add_argument("--images", type=int, default=10_000, help="images to fill the project to")
    parser.add_argument("--measure-batches", type=int, default=16, help="batches of 64 timed for images/s")
    parser.add_argument("--calls", type=int, default=30, help="calls per latency measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.images < args.measure_batches * BATCH or args.images < 2 * PAGE + 2:
        parser.error("--images must cover the measured batches and two pages")
    if args.endpoint:
        if not args.key:
            parser.error("--endpoint needs --key")
        run(args.endpoint.rstrip("/"), args.key, args.images, args.measure_batches, args.calls, args.seed)
    else:
        with local_server() as (endpoint, key, pid):
            run(endpoint, key, args.images, args.measure_batches, args.calls, args.seed, pid)


if __name__ == "__main__":
    main()
