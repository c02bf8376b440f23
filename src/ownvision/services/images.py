"""Training images: upload (bytes, base64 files, URLs), list, count and delete.

An upload checks every image on its own, outside any transaction, stores the blobs of the good ones,
then records them in one short write transaction. A batch with bad images stores the good ones and
reports each image's outcome; if the transaction fails, the blobs it would have referenced are removed.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import errors
from ..db.tables import (
    Image,
    ImageMetadata,
    ImageRegion,
    ImageTag,
    Iteration,
    IterationImage,
    IterationTag,
    Project,
    Tag,
    utcnow,
)
from ..domain.domains import find_domain
from ..domain.enums import DomainType, ImageCreateStatus, OrderBy, TagType
from ..domain.limits import (
    MAX_IMAGE_IDS,
    MAX_IMAGES_PER_BATCH,
    MAX_METADATA_KEY,
    MAX_METADATA_PER_IMAGE,
    MAX_METADATA_VALUE,
    MAX_REGIONS_PER_IMAGE,
    MAX_TAGS_PER_BATCH,
    MAX_TAGS_PER_IMAGE,
)
from ..imaging.ingest import ImageRejected, IngestedImage, check_and_prepare
from . import metadata_filter
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context
from .projects import load_project, project_prefix

log = logging.getLogger(__name__)
T = TypeVar("T")


# ---- values handed to and from the API layer -------------------------------------------------


@dataclass(frozen=True)
class RegionIn:
    tag_id: uuid.UUID
    left: float
    top: float
    width: float
    height: float


@dataclass
class UploadEntry:
    """One image of an upload batch: its bytes, or the reason it could not be read."""

    data: bytes | None
    source_url: str | None = None
    tag_ids: list[uuid.UUID] = field(default_factory=list)
    regions: list[RegionIn] = field(default_factory=list)
    error: ImageCreateStatus | None = None
    error_message: str = ""


@dataclass(frozen=True)
class ImageTagView:
    tag_id: uuid.UUID
    tag_name: str
    created: datetime


@dataclass(frozen=True)
class RegionView:
    region_id: uuid.UUID
    tag_id: uuid.UUID
    tag_name: str
    created: datetime
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class ImageView:
    id: uuid.UUID
    created: datetime
    width: int
    height: int
    original_key: str
    resized_key: str
    thumbnail_key: str
    tags: list[ImageTagView]
    regions: list[RegionView]
    metadata: dict[str, str]


@dataclass(frozen=True)
class CreateResult:
    status: ImageCreateStatus
    source_url: str | None
    image: ImageView | None
    message: str = ""


@dataclass(frozen=True)
class ImageQuery:
    iteration_id: uuid.UUID | None = None
    tag_ids: Sequence[uuid.UUID] = ()
    tagging: str = "All"  # All | Tagged | Untagged
    filter: str | None = None
    order_by: str = OrderBy.NEWEST.value
    skip: int = 0
    take: int = 50


# ---- helpers ---------------------------------------------------------------------------------

_IN_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit
_PREPARE_THREADS = min(4, os.cpu_count() or 1)  # images of a batch decoded and resized at once


def image_prefix(project_id: uuid.UUID, image_id: uuid.UUID) -> str:
    return f"{project_prefix(project_id)}images/{image_id}/"


_VIEW_COLUMNS = (Image.id, Image.created, Image.width, Image.height, Image.original_key, Image.resized_key,
                 Image.thumbnail_key)


def load_views(s: Session, image_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ImageView]:
    """Views of these images, by id, read with four plain queries.

    No ORM entities: a page of 256 images would otherwise build thousands of tracked objects and
    collections (and, with them, the garbage-collector pauses that dominate listing latency).
    """
    ids = list(dict.fromkeys(image_ids))
    rows: list[Any] = []
    for chunk in _chunks(ids, _IN_CHUNK):
        rows += s.execute(select(*_VIEW_COLUMNS).where(Image.id.in_(chunk))).all()
    return _views(s, rows)


def _views(s: Session, rows: Sequence[Any]) -> dict[uuid.UUID, ImageView]:
    """Views of the images whose ``_VIEW_COLUMNS`` are ``rows``, with their tags, regions and metadata."""
    tags: dict[uuid.UUID, list[ImageTagView]] = defaultdict(list)
    regions: dict[uuid.UUID, list[RegionView]] = defaultdict(list)
    metadata: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks([r[0] for r in rows], _IN_CHUNK):
        for image_id, tag_id, name, created in s.execute(
            select(ImageTag.image_id, ImageTag.tag_id, Tag.name, ImageTag.created)
            .join(Tag, Tag.id == ImageTag.tag_id).where(ImageTag.image_id.in_(chunk))
            .order_by(ImageTag.created, Tag.name)
        ):
            tags[image_id].append(ImageTagView(tag_id, name, created))
        for r in s.execute(
            select(ImageRegion.image_id, ImageRegion.id, ImageRegion.tag_id, Tag.name, ImageRegion.created,
                   ImageRegion.left, ImageRegion.top, ImageRegion.width, ImageRegion.height)
            .join(Tag, Tag.id == ImageRegion.tag_id).where(ImageRegion.image_id.in_(chunk))
            .order_by(ImageRegion.created)
        ):
            regions[r[0]].append(RegionView(*r[1:]))
        for image_id, key, value in s.execute(
            select(ImageMetadata.image_id, ImageMetadata.key, ImageMetadata.value)
            .where(ImageMetadata.image_id.in_(chunk))
        ):
            metadata[image_id][key] = value
    return {
        image_id: ImageView(image_id, created, width, height, original, resized, thumbnail,
                            tags.get(image_id, []), regions.get(image_id, []), metadata.get(image_id, {}))
        for image_id, created, width, height, original, resized, thumbnail in rows
    }


def _snapshot_view(base: ImageView, snap: IterationImage, names: dict[uuid.UUID, str]) -> ImageView:
    """The image with the tags and regions it had in an iteration's training set."""
    tags = [ImageTagView(uuid.UUID(t), names.get(uuid.UUID(t), ""), base.created) for t in snap.tag_ids]
    regions = [
        RegionView(uuid.UUID(r["regionId"]), uuid.UUID(r["tagId"]), names.get(uuid.UUID(r["tagId"]), ""),
                   base.created, r["left"], r["top"], r["width"], r["height"])
        for r in snap.regions
    ]
    return ImageView(base.id, base.created, base.width, base.height, base.original_key, base.resized_key,
                     base.thumbnail_key, tags, regions, base.metadata)


def refresh_tag_counts(s: Session, image_ids: Iterable[uuid.UUID]) -> None:
    """Recompute Image.tag_count (distinct tags through tags or regions) for these images."""
    ids = list(dict.fromkeys(image_ids))
    for chunk in _chunks(ids, _IN_CHUNK):
        pairs = union(
            select(ImageTag.image_id, ImageTag.tag_id).where(ImageTag.image_id.in_(chunk)),
            select(ImageRegion.image_id, ImageRegion.tag_id).where(ImageRegion.image_id.in_(chunk)),
        ).subquery()
        counts: dict[uuid.UUID, int] = dict(
            s.execute(select(pairs.c.image_id, func.count()).group_by(pairs.c.image_id)).tuples().all())
        # ORM bulk UPDATE by primary key: one executemany
        s.execute(update(Image), [{"id": i, "tag_count": counts.get(i, 0)} for i in chunk])


def project_tags(s: Session, project_id: uuid.UUID) -> dict[uuid.UUID, Tag]:
    return {t.id: t for t in s.scalars(select(Tag).where(Tag.project_id == project_id))}


def check_regions(regions: Sequence[RegionIn], where: str) -> None:
    for r in regions:
        vals = (r.left, r.top, r.width, r.height)
        if any(v != v for v in vals):  # NaN
            raise errors.BadRequest("BadRequestImageRegions", f"{where}: region coordinates must be numbers.")
        eps = 1e-6
        if (r.left < -eps or r.top < -eps or r.width <= 0 or r.height <= 0
                or r.left + r.width > 1 + eps or r.top + r.height > 1 + eps):
            raise errors.BadRequest(
                "BadRequestImageRegions",
                f"{where}: a region must lie inside the image, in coordinates normalised to 0..1 "
                f"(left={r.left}, top={r.top}, width={r.width}, height={r.height}).",
            )


def check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    md = dict(metadata or {})
    if len(md) > MAX_METADATA_PER_IMAGE:
        raise errors.BadRequest("BadRequestImageMetadataKey", f"At most {MAX_METADATA_PER_IMAGE} metadata entries per image.")
    for k, v in md.items():
        if not isinstance(k, str) or not k or len(k) > MAX_METADATA_KEY:
            raise errors.BadRequest("BadRequestImageMetadataKey", f"Metadata keys must have 1 to {MAX_METADATA_KEY} characters.")
        if not isinstance(v, str) or len(v) > MAX_METADATA_VALUE:
            raise errors.BadRequest(
                "BadRequestImageMetadataValue", f"Metadata value of {k!r} must be text of at most {MAX_METADATA_VALUE} characters."
            )
    return md


# ---- upload ----------------------------------------------------------------------------------


def create_images(
    ctx: Context,
    *,
    account_id: uuid.UUID,
    project_id: uuid.UUID,
    entries: Sequence[UploadEntry],
    tag_ids: Sequence[uuid.UUID] = (),
    metadata: dict[str, str] | None = None,
) -> list[CreateResult]:
    """Store a batch of images; returns one result per entry, in order."""
    if not entries:
        raise errors.BadRequest("BadRequestImageBatch", "The batch contains no images.")
    if len(entries) > MAX_IMAGES_PER_BATCH:
        raise errors.BadRequest(
            "BadRequestExceededBatchSize", f"A batch may hold at most {MAX_IMAGES_PER_BATCH} images; got {len(entries)}."
        )
    if len(set(tag_ids)) > MAX_TAGS_PER_BATCH:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_TAGS_PER_BATCH} tags per batch.")
    md = check_metadata(metadata)
    for i, e in enumerate(entries):
        check_regions(e.regions, f"image {i}")

    with ctx.db.read() as s:
        project = load_project(s, account_id, project_id)
        tags = project_tags(s, project_id)
        domain = find_domain(project.domain_id)
    for t in tag_ids:
        if t not in tags:
            raise errors.BadRequest("BadRequestImageTags", f"Tag {t} does not belong to this project.")
    is_detection = domain is not None and domain.type is DomainType.OBJECT_DETECTION
    max_bytes = int(ctx.settings.max_image_mb * 1024 * 1024)

    # 1. check each image and prepare its copies (no transaction held); Pillow releases the GIL
    # while it decodes and encodes, so a few threads use a few cores
    def prepare(e: UploadEntry) -> IngestedImage | tuple[ImageCreateStatus, str]:
        status, message = _entry_problem(e, tag_ids, tags, is_detection)
        if status is not None or e.data is None:
            return status or ImageCreateStatus.ERROR_SOURCE, message
        try:
            return check_and_prepare(e.data, max_bytes=max_bytes)
        except ImageRejected as rej:
            return rej.status, rej.message

    with ThreadPoolExecutor(max_workers=min(_PREPARE_THREADS, len(entries))) as pool:
        checked = list(pool.map(prepare, entries))
    results: list[CreateResult | None] = [None] * len(entries)
    prepared: list[tuple[int, IngestedImage, list[uuid.UUID], list[RegionIn]]] = []
    for i, (e, outcome) in enumerate(zip(entries, checked, strict=True)):
        if isinstance(outcome, tuple):
            results[i] = CreateResult(outcome[0], e.source_url, None, outcome[1])
        else:
            prepared.append((i, outcome, list(dict.fromkeys([*tag_ids, *e.tag_ids])), list(e.regions)))

    # 2. duplicates of stored images (checked again in the write transaction) and within the batch
    with ctx.db.read() as s:
        stored = _stored_by_sha(s, project_id, [p[1].sha256 for p in prepared])
        stored_views = load_views(s, stored.values())
    fresh: list[_Fresh] = []
    first_in_batch: dict[str, int] = {}
    for i, ing, image_tags, regions in prepared:
        if ing.sha256 in stored:
            results[i] = CreateResult(ImageCreateStatus.OK_DUPLICATE, entries[i].source_url,
                                      stored_views[stored[ing.sha256]])
        elif ing.sha256 not in first_in_batch:
            first_in_batch[ing.sha256] = i
            fresh.append(_Fresh(i, ing, image_tags, regions, uuid.uuid4()))

    # 3. blobs first, rows second; rows are the commit point
    written: list[str] = []
    try:
        for f in fresh:
            written.append(_store_blobs(ctx, project_id, f.image_id, f.ing))
        try:
            outcomes = _insert_rows(ctx, project_id, account_id, fresh, md)
        except IntegrityError:
            # Another database session stored the same bytes at the same moment (only possible on a
            # database with concurrent writers): the second attempt finds its row and reports a duplicate.
            outcomes = _insert_rows(ctx, project_id, account_id, fresh, md)
    except BaseException:
        for prefix in written:
            ctx.blobs.delete_prefix(prefix)
        raise
    for f in fresh:
        status, view, message = outcomes[f.image_id]
        if status is not ImageCreateStatus.OK:
            ctx.blobs.delete_prefix(image_prefix(project_id, f.image_id))
        results[f.index] = CreateResult(status, entries[f.index].source_url, view, message)
    # within-batch duplicates point at the image their twin created (or share its failure)
    for i, ing, _t, _r in prepared:
        if ing.sha256 not in first_in_batch or i == first_in_batch[ing.sha256]:
            continue
        twin = results[first_in_batch[ing.sha256]]
        if twin is not None:
            if twin.image is None:
                results[i] = CreateResult(twin.status, entries[i].source_url, None, twin.message)
            else:
                results[i] = CreateResult(ImageCreateStatus.OK_DUPLICATE, entries[i].source_url, twin.image)
    ok = sum(1 for r in results if r and r.status is ImageCreateStatus.OK)
    log.info("images uploaded project=%s batch=%d stored=%d", project_id, len(entries), ok)
    return [r for r in results if r is not None]


@dataclass(frozen=True)
class _Fresh:
    """An image of the batch that passed the checks and is not a repeat of an earlier one in the batch."""

    index: int
    ing: IngestedImage
    tag_ids: list[uuid.UUID]
    regions: list[RegionIn]
    image_id: uuid.UUID


def _entry_problem(
    e: UploadEntry, batch_tags: Sequence[uuid.UUID], tags: dict[uuid.UUID, Tag], is_detection: bool
) -> tuple[ImageCreateStatus | None, str]:
    if e.error is not None:
        return e.error, e.error_message
    if e.data is None:
        return ImageCreateStatus.ERROR_SOURCE, "No image data."
    all_tags = set(batch_tags) | set(e.tag_ids) | {r.tag_id for r in e.regions}
    unknown = [t for t in all_tags if t not in tags]
    if unknown:
        return ImageCreateStatus.ERROR_INVALID_TAG, f"Tag {unknown[0]} does not belong to this project."
    if len(set(batch_tags) | set(e.tag_ids)) > MAX_TAGS_PER_IMAGE or len(set(e.tag_ids)) > MAX_TAGS_PER_BATCH:
        return ImageCreateStatus.ERROR_TAG_LIMIT_EXCEED, f"At most {MAX_TAGS_PER_BATCH} tags per image in a batch."
    if len(e.regions) > MAX_REGIONS_PER_IMAGE:
        return ImageCreateStatus.ERROR_REGION_LIMIT_EXCEED, f"At most {MAX_REGIONS_PER_IMAGE} regions per image."
    if any(tags[r.tag_id].type == TagType.NEGATIVE.value for r in e.regions):
        return ImageCreateStatus.ERROR_INVALID_TAG, "A region cannot carry the Negative tag."
    types = {tags[t].type for t in all_tags}
    if TagType.NEGATIVE.value in types and len(types) > 1 or (
        TagType.NEGATIVE.value in types and len(all_tags) > 1
    ):
        return (ImageCreateStatus.ERROR_NEGATIVE_AND_REGULAR,
                "An image cannot carry the Negative tag together with other tags.")
    return None, ""


def _store_blobs(ctx: Context, project_id: uuid.UUID, image_id: uuid.UUID, ing: IngestedImage) -> str:
    prefix = image_prefix(project_id, image_id)
    ctx.blobs.put(f"{prefix}original.{ing.format}", ing.original)
    if ing.resized is not None:
        ctx.blobs.put(f"{prefix}resized.{ing.resized_format}", ing.resized)
    ctx.blobs.put(f"{prefix}thumbnail.jpg", ing.thumbnail)
    return prefix


def _stored_by_sha(s: Session, project_id: uuid.UUID, shas: Sequence[str]) -> dict[str, uuid.UUID]:
    """Ids of the project's images with these SHA-256 digests."""
    found: dict[str, uuid.UUID] = {}
    for chunk in _chunks(list(dict.fromkeys(shas)), _IN_CHUNK):
        found.update(s.execute(select(Image.sha256, Image.id).where(
            Image.project_id == project_id, Image.sha256.in_(chunk))).tuples().all())
    return found


def _insert_rows(
    ctx: Context, project_id: uuid.UUID, account_id: uuid.UUID, fresh: Sequence[_Fresh], metadata: dict[str, str],
) -> dict[uuid.UUID, tuple[ImageCreateStatus, ImageView | None, str]]:
    """Record the new images in one transaction; the outcome of each, by its new image id.

    Duplicates of stored images and tags deleted since the batch was checked are decided here, inside
    the write transaction, so that concurrent uploads and deletions cannot slip between check and insert.
    """
    if not fresh:
        return {}
    outcomes: dict[uuid.UUID, tuple[ImageCreateStatus, ImageView | None, str]] = {}
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)  # still there?
        tags = set(s.scalars(select(Tag.id).where(Tag.project_id == project_id)))
        stored = _stored_by_sha(s, project_id, [f.ing.sha256 for f in fresh])
        now = utcnow()
        images: list[dict[str, Any]] = []
        image_tags: list[dict[str, Any]] = []
        regions: list[dict[str, Any]] = []
        duplicates: dict[uuid.UUID, uuid.UUID] = {}
        for f in fresh:
            if f.ing.sha256 in stored:
                duplicates[f.image_id] = stored[f.ing.sha256]
                continue
            gone = [t for t in {*f.tag_ids, *(r.tag_id for r in f.regions)} if t not in tags]
            if gone:
                outcomes[f.image_id] = (ImageCreateStatus.ERROR_INVALID_TAG, None, f"Tag {gone[0]} was deleted.")
                continue
            prefix = image_prefix(project_id, f.image_id)
            original = f"{prefix}original.{f.ing.format}"
            images.append({
                "id": f.image_id, "project_id": project_id, "created": now, "width": f.ing.width,
                "height": f.ing.height, "format": f.ing.format, "size_bytes": len(f.ing.original),
                "sha256": f.ing.sha256, "original_key": original,
                "resized_key": f"{prefix}resized.{f.ing.resized_format}" if f.ing.resized is not None else original,
                "thumbnail_key": f"{prefix}thumbnail.jpg",
                "tag_count": len(set(f.tag_ids) | {r.tag_id for r in f.regions}),
            })
            image_tags += [{"image_id": f.image_id, "tag_id": t, "created": now} for t in f.tag_ids]
            regions += [
                {"id": uuid.uuid4(), "image_id": f.image_id, "tag_id": r.tag_id, "left": r.left, "top": r.top,
                 "width": r.width, "height": r.height, "created": now}
                for r in f.regions
            ]
        if images:
            s.execute(insert(Image), images)
            if image_tags:
                s.execute(insert(ImageTag), image_tags)
            if regions:
                s.execute(insert(ImageRegion), regions)
            if metadata:
                s.execute(insert(ImageMetadata),
                          [{"image_id": i["id"], "key": k, "value": v} for i in images for k, v in metadata.items()])
            project.workspace_version += 1
            project.last_modified = now
        views = load_views(s, [i["id"] for i in images] + list(duplicates.values()))
    for i in images:
        outcomes[i["id"]] = (ImageCreateStatus.OK, views[i["id"]], "")
    for new_id, existing_id in duplicates.items():
        outcomes[new_id] = (ImageCreateStatus.OK_DUPLICATE, views[existing_id], "")
    return outcomes


# ---- read ------------------------------------------------------------------------------------


def _filtered(s: Session, project_id: uuid.UUID, q: ImageQuery) -> Any:
    """SELECT of the ids of the project's images that match ``q`` (workspace, or an iteration's set)."""
    stmt = select(Image.id).where(Image.project_id == project_id)
    if q.iteration_id is not None:
        it = s.get(Iteration, q.iteration_id)
        if it is None or it.project_id != project_id:
            raise errors.NotFound("NotFoundIteration", f"Iteration {q.iteration_id} not found.")
        stmt = stmt.join(IterationImage, IterationImage.image_id == Image.id).where(
            IterationImage.iteration_id == q.iteration_id
        )
    if len(q.tag_ids) > MAX_TAGS_PER_BATCH:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_TAGS_PER_BATCH} tag ids in a filter.")
    if q.tag_ids:
        tag_ids = list(q.tag_ids)
        stmt = stmt.where(
            or_(
                Image.id.in_(select(ImageTag.image_id).where(ImageTag.tag_id.in_(tag_ids))),
                Image.id.in_(select(ImageRegion.image_id).where(ImageRegion.tag_id.in_(tag_ids))),
            )
        )
    if q.tagging == "Tagged":
        stmt = stmt.where(Image.tag_count > 0)
    elif q.tagging == "Untagged":
        stmt = stmt.where(Image.tag_count == 0)
    cond = metadata_filter.condition(q.filter)
    if cond is not None:
        stmt = stmt.where(cond)
    return stmt


def list_images(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, query: ImageQuery) -> list[ImageView]:
    take = max(0, min(query.take, MAX_IMAGE_IDS))
    skip = max(0, query.skip)
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt = _filtered(s, project_id, query)
        if query.order_by == OrderBy.OLDEST.value:
            stmt = stmt.order_by(Image.created.asc(), Image.id.asc())
        else:
            stmt = stmt.order_by(Image.created.desc(), Image.id.desc())
        rows = s.execute(stmt.with_only_columns(*_VIEW_COLUMNS).offset(skip).limit(take)).all()
        views = _views(s, rows)
        ordered = [views[r[0]] for r in rows]
        if query.iteration_id is None:
            return ordered
        return _as_in_iteration(s, query.iteration_id, ordered)


def _as_in_iteration(s: Session, iteration_id: uuid.UUID, views: list[ImageView]) -> list[ImageView]:
    snaps = {
        r.image_id: r
        for r in s.scalars(select(IterationImage).where(
            IterationImage.iteration_id == iteration_id, IterationImage.image_id.in_([v.id for v in views]),
        ))
    }
    names = iteration_tag_names(s, iteration_id)
    return [_snapshot_view(v, snaps[v.id], names) if v.id in snaps else v for v in views]


def iteration_tag_names(s: Session, iteration_id: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = s.execute(select(IterationTag.tag_id, IterationTag.name).where(IterationTag.iteration_id == iteration_id))
    return dict(rows.tuples().all())


def count_images(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, query: ImageQuery) -> int:
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt = _filtered(s, project_id, query)
        return int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def get_images_by_ids(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, image_ids: Sequence[uuid.UUID],
    iteration_id: uuid.UUID | None = None,
) -> list[ImageView]:
    """The images among ``image_ids`` (in that order; unknown ids are left out), or the first 256 when none."""
    if len(image_ids) > MAX_IMAGE_IDS:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_IMAGE_IDS} image ids.")
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt = _filtered(s, project_id, ImageQuery(iteration_id=iteration_id))
        if image_ids:
            stmt = stmt.where(Image.id.in_(list(image_ids)))
        found = list(s.scalars(stmt.order_by(Image.created.desc(), Image.id.desc()).limit(MAX_IMAGE_IDS)))
        views = load_views(s, found)
        ordered = [views[i] for i in (dict.fromkeys(image_ids) if image_ids else found) if i in views]
        if iteration_id is None:
            return ordered
        return _as_in_iteration(s, iteration_id, ordered)


# ---- delete ----------------------------------------------------------------------------------


def delete_images(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, image_ids: Sequence[uuid.UUID], all_images: bool
) -> int:
    """Delete rows and blobs of the images; returns how many were deleted."""
    if not all_images and not image_ids:
        raise errors.BadRequest("BadRequestImageBatch", "Give imageIds, or allImages=true.")
    if len(image_ids) > MAX_IMAGE_IDS:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_IMAGE_IDS} image ids.")
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        stmt = select(Image.id).where(Image.project_id == project_id)
        if not all_images:
            stmt = stmt.where(Image.id.in_(list(image_ids)))
        ids = list(s.scalars(stmt))
        for chunk in _chunks(ids, 500):
            s.execute(delete(Image).where(Image.id.in_(chunk)))
        if ids:
            record(s, account_id=account_id, action="images.delete", target_type="project", target_id=project_id,
                   detail=f"images={len(ids)}")
            project.workspace_version += 1
            project.last_modified = utcnow()
    for image_id in ids:
        ctx.blobs.delete_prefix(image_prefix(project_id, image_id))
    if ids:
        checkpoint_wal(ctx)
    log.info("images deleted project=%s count=%d", project_id, len(ids))
    return len(ids)


def _chunks(items: list[T], n: int) -> Iterable[list[T]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def touch_project(s: Session, project: Project) -> None:
    project.workspace_version += 1
    project.last_modified = utcnow()
