"""Copying projects from one Custom Vision Training API to another, through the APIs only.

The source can be Azure Custom Vision or any compatible server (another ownvision); the target is
usually an ownvision server. What is copied: each project's settings, its tags, and its images (the
original files, downloaded from ``originalImageUri``) with their tags, regions and metadata.
Trained iterations are not: Azure does not hand out its models; train again on the target.

A migration is resumable. A state file maps every source id to its target id (project, tags,
images) and is rewritten after every batch; running the same command again skips what is done.
Should a run stop between an upload and the state file (a crash, Ctrl-C), the rerun uploads that
batch again, the target answers ``OKDuplicate`` with the image it already has, and its tags,
regions and metadata are completed: every image ends up on the target exactly once.

    report = migrate(TrainingClient(src_url, src_key), TrainingClient(dst_url, dst_key),
                     state_path=Path("migration.json"), progress=print)
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

API_PATH = "/customvision/v3.3/training"
BATCH_IMAGES = 64  # CreateImagesFromFiles takes at most 64 images
BATCH_BYTES = 48 << 20  # base64 held and sent at a time: big requests are slow to send and easy to lose
PAGE = 256  # the largest `take` of the image listings
DOWNLOADS_IN_FLIGHT = 8  # images fetched (and held) at once before they are queued for upload
METADATA_IDS = 64
TAG_PAIRS = 128
REGIONS = 64
_RETRY_STATUS = (429, 500, 502, 503, 504)


class MigrationError(Exception):
    """A call failed for good (after retries), with the API's code and message when it gave them."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class TrainingClient:
    """The few Training API (v3.3) calls a migration needs; Azure and ownvision answer them alike."""

    def __init__(self, endpoint: str, key: str, *, timeout_s: float = 120.0, retries: int = 4,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.retries = retries
        self._http = httpx.Client(base_url=self.endpoint + API_PATH, headers={"Training-Key": key},
                                  timeout=timeout_s, transport=transport, follow_redirects=False)
        # Image downloads go to signed links (Azure SAS URLs, ownvision /blobs/ links): no key sent.
        self._files = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=True)

    def close(self) -> None:
        self._http.close()
        self._files.close()

    def __enter__(self) -> TrainingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
        delay = 1.0
        for attempt in range(self.retries + 1):
            try:
                resp = client.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise MigrationError(f"{method} {url}: {exc}") from exc
            else:
                if resp.status_code not in _RETRY_STATUS or attempt == self.retries:
                    return resp
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, *, expect: Sequence[int] = (200,), **kw: Any) -> Any:
        resp = self._send(self._http, method, path, **kw)
        if resp.status_code not in expect:
            try:
                body = resp.json()
                code, message = body.get("code"), body.get("message")
            except (ValueError, AttributeError):
                code, message = None, resp.text[:300]
            raise MigrationError(f"{method} {path} -> {resp.status_code} {code or ''}: {message}",
                                 resp.status_code, code)
        if not resp.content:
            return None
        return resp.json()

    # ---- operations ----

    def projects(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/projects"))

    def project(self, project_id: str) -> dict[str, Any] | None:
        try:
            return dict(self.call("GET", f"/projects/{project_id}"))
        except MigrationError as exc:
            if exc.status == 404:
                return None
            raise

    def domains(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/domains"))

    def create_project(self, params: dict[str, str]) -> dict[str, Any]:
        return dict(self.call("POST", "/projects", params=params))

    def tags(self, project_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/projects/{project_id}/tags"))

    def create_tag(self, project_id: str, name: str, description: str | None, type_: str | None) -> dict[str, Any]:
        params = {"name": name, **({"description": description} if description else {}),
                  **({"type": type_} if type_ else {})}
        return dict(self.call("POST", f"/projects/{project_id}/tags", params=params))

    def images(self, project_id: str) -> Iterator[dict[str, Any]]:
        """Every image (tagged, then untagged), oldest first, as Image records."""
        for kind in ("tagged", "untagged"):
            skip = 0
            while True:
                page = self.call("GET", f"/projects/{project_id}/images/{kind}",
                                 params={"orderBy": "Oldest", "take": PAGE, "skip": skip})
                yield from page
                if len(page) < PAGE:
                    break
                skip += len(page)

    def download(self, url: str) -> bytes:
        resp = self._send(self._files, "GET", url)
        if resp.status_code != 200:
            raise MigrationError(f"downloading an image failed: HTTP {resp.status_code}", resp.status_code)
        return resp.content

    def create_images_from_files(self, project_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self.call("POST", f"/projects/{project_id}/images/files", json={"images": entries},
                              expect=(200, 207)))

    def update_metadata(self, project_id: str, image_ids: Sequence[str], metadata: dict[str, str]) -> None:
        self.call("POST", f"/projects/{project_id}/images/metadata", params={"imageIds": ",".join(image_ids)},
                  json=metadata, expect=(200, 207))

    def create_image_tags(self, project_id: str, pairs: list[dict[str, str]]) -> None:
        self.call("POST", f"/projects/{project_id}/images/tags", json={"tags": pairs})

    def create_image_regions(self, project_id: str, regions: list[dict[str, Any]]) -> None:
        self.call("POST", f"/projects/{project_id}/images/regions", json={"regions": regions}, expect=(200, 207))


# ---- the state file --------------------------------------------------------------------------------


@dataclass
class ProjectState:
    name: str
    target: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    complete: bool = False


class MigrationState:
    """Source id -> target id, saved atomically (write a temporary file, then rename)."""

    def __init__(self, path: Path, source: str, target: str) -> None:
        self.path, self.source, self.target = path, source, target
        self.projects: dict[str, ProjectState] = {}
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("source") != source or data.get("target") != target:
                raise MigrationError(
                    f"{path} records a migration from {data.get('source')} to {data.get('target')}, not from "
                    f"{source} to {target}; use another --state file.")
            self.projects = {k: ProjectState(**v) for k, v in data.get("projects", {}).items()}

    def save(self) -> None:
        data = {"version": 1, "source": self.source, "target": self.target,
                "projects": {k: v.__dict__ for k, v in self.projects.items()}}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)


# ---- the migration ---------------------------------------------------------------------------------


@dataclass
class ProjectReport:
    source: str
    target: str
    name: str
    tags_created: int = 0
    images_total: int = 0
    uploaded: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    complete: bool = False


@dataclass
class MigrationReport:
    projects: list[ProjectReport] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.projects)


Progress = Callable[[str], None]


class _Stop(Exception):
    """The run's image budget (``max_images``) is spent."""


def migrate(
    source: TrainingClient, target: TrainingClient, *, state_path: Path, project_ids: Sequence[str] = (),
    progress: Progress = lambda _msg: None, max_images: int | None = None, download_threads: int = 4,
) -> MigrationReport:
    """Copy the projects (all of the source's, or ``project_ids``) to the target; see the module doc."""
    state = MigrationState(state_path, source.endpoint, target.endpoint)
    report = MigrationReport()
    budget = [max_images if max_images is not None else -1]
    wanted = list(project_ids) or [p["id"] for p in source.projects()]
    progress(f"migrating {len(wanted)} project(s) from {source.endpoint} to {target.endpoint}")
    with ThreadPoolExecutor(max_workers=max(1, download_threads)) as pool:
        for pid in wanted:
            src = source.project(pid)
            if src is None:
                raise MigrationError(f"project {pid} does not exist on the source (or the key cannot see it)")
            try:
                report.projects.append(_migrate_project(source, target, src, state, progress, budget, pool))
            except _Stop:
                report.stopped_early = True
                progress(f"stopped after {max_images} image(s) as asked; run again to continue")
                break
    return report


def _migrate_project(
    source: TrainingClient, target: TrainingClient, src: dict[str, Any], state: MigrationState,
    progress: Progress, budget: list[int], pool: ThreadPoolExecutor,
) -> ProjectReport:
    pid, name = src["id"], src["name"]
    ps = state.projects.setdefault(pid, ProjectState(name=name))
    if ps.target is None or target.project(ps.target) is None:
        created = _create_target_project(target, src)
        ps.target, ps.tags, ps.images, ps.complete = created["id"], {}, {}, False
        state.save()
        progress(f"[{name}] created target project {ps.target}")
    assert ps.target is not None
    rep = ProjectReport(pid, ps.target, name)
    rep.tags_created = _migrate_tags(source, target, pid, ps)
    state.save()

    images = list(source.images(pid))
    rep.images_total = len(images)
    pending = [img for img in images if img["id"] not in ps.images]
    rep.skipped = rep.images_total - len(pending)
    progress(f"[{name}] {len(ps.tags)} tag(s); {rep.images_total} image(s), {rep.skipped} already copied")
    for batch in _batches(pending):
        if budget[0] == 0:
            raise _Stop()
        if budget[0] > 0:
            batch = batch[:budget[0]]
        _copy_batch(source, target, ps, batch, rep, pool)
        state.save()
        if budget[0] > 0:
            budget[0] -= len(batch)
        done = rep.skipped + rep.uploaded + rep.duplicates + rep.failed
        progress(f"[{name}] images {done}/{rep.images_total} (uploaded {rep.uploaded}, "
                 f"already there {rep.duplicates}, failed {rep.failed})")
    if budget[0] == 0 and len(ps.images) + len(ps.failed) < rep.images_total:
        raise _Stop()
    rep.complete = ps.complete = not ps.failed
    state.save()
    progress(f"[{name}] done" if rep.complete else f"[{name}] finished with {len(ps.failed)} failed image(s)")
    return rep


def _create_target_project(target: TrainingClient, src: dict[str, Any]) -> dict[str, Any]:
    settings = src.get("settings") or {}
    params = {"name": src["name"]}
    if src.get("description"):
        params["description"] = src["description"]
    if settings.get("classificationType"):
        params["classificationType"] = settings["classificationType"]
    if settings.get("targetExportPlatforms"):
        params["targetExportPlatforms"] = ",".join(settings["targetExportPlatforms"])
    domain_id = settings.get("domainId")
    if domain_id:
        params["domainId"] = domain_id
    try:
        return target.create_project(params)
    except MigrationError as exc:
        if exc.status != 400 or not domain_id:
            raise
    # A domain the target does not have (a retired one): take the target's "General" of the same type.
    source_domain = next((d for d in target.domains() if d["id"] == domain_id), None)
    kind = (source_domain or {}).get("type") or ("ObjectDetection" if settings.get("classificationType") is None
                                                  else "Classification")
    fallback = next(d for d in target.domains() if d["type"] == kind and d["name"] == "General")
    params["domainId"] = fallback["id"]
    params.pop("targetExportPlatforms", None)
    return target.create_project(params)


def _migrate_tags(source: TrainingClient, target: TrainingClient, pid: str, ps: ProjectState) -> int:
    assert ps.target is not None
    existing = {t["id"]: t for t in target.tags(ps.target)}
    by_name = {t["name"].casefold(): t["id"] for t in existing.values()}
    created = 0
    for tag in source.tags(pid):
        mapped = ps.tags.get(tag["id"])
        if mapped in existing:
            continue
        if tag["name"].casefold() in by_name:  # made by an earlier, interrupted run
            ps.tags[tag["id"]] = by_name[tag["name"].casefold()]
            continue
        new = target.create_tag(ps.target, tag["name"], tag.get("description"), tag.get("type"))
        ps.tags[tag["id"]] = by_name[new["name"].casefold()] = new["id"]
        created += 1
    return created


def _batches(images: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    # Sizes are unknown before download; _copy_batch cuts a batch by bytes if it grows too big.
    for i in range(0, len(images), BATCH_IMAGES):
        yield images[i:i + BATCH_IMAGES]


def _copy_batch(source: TrainingClient, target: TrainingClient, ps: ProjectState, batch: list[dict[str, Any]],
                rep: ProjectReport, pool: ThreadPoolExecutor) -> None:
    """Download and upload one batch; at most BATCH_BYTES of images are held at a time."""
    assert ps.target is not None
    pending: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # source id -> (entry, labels wanted)
    held = 0
    for i in range(0, len(batch), DOWNLOADS_IN_FLIGHT):
        part = batch[i:i + DOWNLOADS_IN_FLIGHT]
        for img, data in zip(part, pool.map(lambda im: _fetch(source, im), part), strict=True):
            if isinstance(data, MigrationError):
                ps.failed[img["id"]] = str(data)
                rep.failed += 1
                continue
            tag_ids = [ps.tags[t["tagId"]] for t in img.get("tags") or [] if t.get("tagId") in ps.tags]
            regions = [{"tagId": ps.tags[r["tagId"]], **{k: r[k] for k in ("left", "top", "width", "height")}}
                       for r in img.get("regions") or [] if r.get("tagId") in ps.tags]
            entry = {"name": img["id"], "contents": base64.b64encode(data).decode(), "tagIds": tag_ids,
                     "regions": regions}
            pending[img["id"]] = (entry, {"tags": tag_ids, "regions": regions, "metadata": img.get("metadata") or {}})
            held += len(entry["contents"])
            if held >= BATCH_BYTES:
                _upload(target, ps, pending, rep)
                pending, held = {}, 0
    if pending:
        _upload(target, ps, pending, rep)


def _upload(target: TrainingClient, ps: ProjectState, pending: dict[str, tuple[dict[str, Any], dict[str, Any]]],
            rep: ProjectReport) -> None:
    assert ps.target is not None
    order = list(pending)
    summary = target.create_images_from_files(ps.target, [pending[i][0] for i in order])
    for n, res in enumerate(summary.get("images") or []):
        src_id = res.get("sourceUrl") if res.get("sourceUrl") in pending else (order[n] if n < len(order) else None)
        if src_id is None:
            continue
        image = res.get("image")
        if res.get("status") in ("OK", "OKDuplicate") and image and image.get("id"):
            if res["status"] == "OKDuplicate":
                rep.duplicates += 1
                _complete_labels(target, ps.target, image, pending[src_id][1])
            else:
                rep.uploaded += 1
            ps.images[src_id] = image["id"]
            ps.failed.pop(src_id, None)
        else:
            ps.failed[src_id] = f"{res.get('status')}: {res.get('message', '')}".strip()
            rep.failed += 1
    _copy_metadata(target, ps.target, {ps.images[i]: pending[i][1]["metadata"] for i in order if i in ps.images})


def _fetch(source: TrainingClient, img: dict[str, Any]) -> bytes | MigrationError:
    url = img.get("originalImageUri")
    if not url:
        return MigrationError("the source gives no originalImageUri")
    try:
        return source.download(url)
    except MigrationError as exc:
        return exc


def _complete_labels(target: TrainingClient, project_id: str, image: dict[str, Any], want: dict[str, Any]) -> None:
    """An image the target already had (from an interrupted run): add the tags and regions it lacks."""
    have_tags = {t["tagId"] for t in image.get("tags") or []}
    pairs = [{"imageId": image["id"], "tagId": t} for t in want["tags"] if t not in have_tags]
    for i in range(0, len(pairs), TAG_PAIRS):
        target.create_image_tags(project_id, pairs[i:i + TAG_PAIRS])

    def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a["tagId"] == b["tagId"] and all(abs(a[k] - b[k]) < 1e-6 for k in ("left", "top", "width", "height"))

    have = image.get("regions") or []
    missing = [dict(r, imageId=image["id"]) for r in want["regions"] if not any(same(r, h) for h in have)]
    for i in range(0, len(missing), REGIONS):
        target.create_image_regions(project_id, missing[i:i + REGIONS])


def _copy_metadata(target: TrainingClient, project_id: str, metadata: dict[str, dict[str, str]]) -> None:
    """UpdateImageMetadata sets one map on many images: group the images that share theirs."""
    groups: dict[str, list[str]] = {}
    for image_id, md in metadata.items():
        if md:
            groups.setdefault(json.dumps(md, sort_keys=True), []).append(image_id)
    for key, ids in groups.items():
        for i in range(0, len(ids), METADATA_IDS):
            target.update_metadata(project_id, ids[i:i + METADATA_IDS], json.loads(key))


def summarize(report: MigrationReport) -> Iterable[str]:
    for p in report.projects:
        yield (f"{p.name}: {p.source} -> {p.target}: {p.images_total} image(s); uploaded {p.uploaded}, "
               f"already there {p.duplicates}, skipped (done before) {p.skipped}, failed {p.failed}, "
               f"tags created {p.tags_created}{'' if p.complete else ' (incomplete)'}")
