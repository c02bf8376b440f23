"""Training images: upload (bytes, base64 files, URLs), list, count and delete.

An upload checks every image on its own, outside any transaction, stores the blobs of the good ones,
then records them in one short write transaction. A batch with bad images stores the good ones and
reports each image's outcome; if the transaction fails, the blobs it would have referenced are removed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
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
from .context import Context
from .projects import load_project, project_prefix

log = logging.getLogger(__name__)


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


def image_prefix(project_id: uuid.UUID, image_id: uuid.UUID) -> str:
    return f"{project_prefix(project_id)}images/{image_id}/"


def view_of(img: Image) -> ImageView:
    return ImageView(
        id=img.id,
        created=img.created,
        width=img.width,
        height=img.height,
        original_key=img.original_key,
        resized_key=img.resized_key,
        thumbnail_key=img.thumbnail_key,
        tags=[ImageTagView(t.tag_id, t.tag.name, t.created) for t in sorted(img.tags, key=lambda t: t.created)],
        regions=[
            RegionView(r.id, r.tag_id, r.tag.name, r.created, r.left, r.top, r.width, r.height)
            for r in sorted(img.regions, key=lambda r: r.created)
        ],
        metadata={m.key: m.value for m in img.metadata_items},
    )


def _snapshot_view(img: Image, snap: IterationImage, names: dict[uuid.UUID, str]) -> ImageView:
    tags = [ImageTagView(uuid.UUID(t), names.get(uuid.UUID(t), ""), img.created) for t in snap.tag_ids]
    regions = [
        RegionView(uuid.UUID(r["regionId"]), uuid.UUID(r["tagId"]), names.get(uuid.UUID(r["tagId"]), ""),
                   img.created, r["left"], r["top"], r["width"], r["height"])
        for r in snap.regions
    ]
    base = view_of(img)
    return ImageView(base.id, base.created, base.width, base.height, base.original_key, base.resized_key,
                     base.thumbnail_key, tags, regions, base.metadata)


def refresh_tag_counts(s: Session, image_ids: Iterable[uuid.UUID]) -> None:
    """Recompute Image.tag_count (distinct tags through tags or regions) for these images."""
    for image_id in image_ids:
        tagged = select(ImageTag.tag_id).where(ImageTag.image_id == image_id)
        regions = select(ImageRegion.tag_id).where(ImageRegion.image_id == image_id)
        n = s.scalar(select(func.count()).select_from(tagged.union(regions).subquery())) or 0
        s.execute(Image.__table__.update().where(Image.id == image_id).values(tag_count=n))


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

    # 1. check each image and prepare its copies (no transaction held)
    results: list[CreateResult | None] = [None] * len(entries)
    prepared: list[tuple[int, IngestedImage, list[uuid.UUID], list[RegionIn]]] = []
    for i, e in enumerate(entries):
        status, message = _entry_problem(e, tag_ids, tags, is_detection)
        if status is None:
            assert e.data is not None
            try:
                ing = check_and_prepare(e.data, max_bytes=max_bytes)
            except ImageRejected as rej:
                status, message = rej.status, rej.message
        if status is not None:
            results[i] = CreateResult(status, e.source_url, None, message)
            continue
        image_tags = list(dict.fromkeys([*tag_ids, *e.tag_ids]))
        prepared.append((i, ing, image_tags, list(e.regions)))

    # 2. duplicates of images already in the project, and within the batch
    with ctx.db.read() as s:
        shas = [p[1].sha256 for p in prepared]
        existing = {
            img.sha256: img
            for img in s.scalars(select(Image).where(Image.project_id == project_id, Image.sha256.in_(shas)))
        } if shas else {}
        existing_views = {sha: view_of(img) for sha, img in existing.items()}
    fresh: list[tuple[int, IngestedImage, list[uuid.UUID], list[RegionIn], uuid.UUID]] = []
    first_in_batch: dict[str, int] = {}
    for i, ing, image_tags, regions in prepared:
        if ing.sha256 in existing_views:
            results[i] = CreateResult(ImageCreateStatus.OK_DUPLICATE, entries[i].source_url, existing_views[ing.sha256])
        elif ing.sha256 in first_in_batch:
            results[i] = CreateResult(ImageCreateStatus.OK_DUPLICATE, entries[i].source_url, None)
        else:
            first_in_batch[ing.sha256] = i
            fresh.append((i, ing, image_tags, regions, uuid.uuid4()))

    # 3. blobs first, rows second; rows are the commit point
    written: list[str] = []
    try:
        for _i, ing, _t, _r, image_id in fresh:
            written.append(_store_blobs(ctx, project_id, image_id, ing))
        created = _insert_rows(ctx, project_id, account_id, fresh, md)
    except BaseException:
        for prefix in written:
            ctx.blobs.delete_prefix(prefix)
        raise
    for (i, ing, _t, _r, image_id) in fresh:
        view = created.get(image_id)
        if view is None:  # lost a race with a concurrent upload of the same bytes
            results[i] = CreateResult(ImageCreateStatus.OK_DUPLICATE, entries[i].source_url, None)
            ctx.blobs.delete_prefix(image_prefix(project_id, image_id))
        else:
            results[i] = CreateResult(ImageCreateStatus.OK, entries[i].source_url, view)
    # within-batch duplicates point at the image their twin created
    for i, ing, _t, _r in prepared:
        res = results[i]
        if res is not None and res.status is ImageCreateStatus.OK_DUPLICATE and res.image is None:
            twin = results[first_in_batch.get(ing.sha256, i)]
            results[i] = CreateResult(res.status, res.source_url, twin.image if twin else None)
    ok = sum(1 for r in results if r and r.status is ImageCreateStatus.OK)
    log.info("images uploaded project=%s batch=%d stored=%d", project_id, len(entries), ok)
    return [r for r in results if r is not None]


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


def _insert_rows(
    ctx: Context,
    project_id: uuid.UUID,
    account_id: uuid.UUID,
    fresh: Sequence[tuple[int, IngestedImage, list[uuid.UUID], list[RegionIn], uuid.UUID]],
    metadata: dict[str, str],
) -> dict[uuid.UUID, ImageView]:
    created: dict[uuid.UUID, ImageView] = {}
    if not fresh:
        return created
    inserted: list[uuid.UUID] = []
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)  # still there?
        now = utcnow()
        for _i, ing, image_tags, regions, image_id in fresh:
            prefix = image_prefix(project_id, image_id)
            original = f"{prefix}original.{ing.format}"
            img = Image(
                id=image_id, project_id=project_id, created=now, width=ing.width, height=ing.height,
                format=ing.format, size_bytes=len(ing.original), sha256=ing.sha256, original_key=original,
                resized_key=f"{prefix}resized.{ing.resized_format}" if ing.resized is not None else original,
                thumbnail_key=f"{prefix}thumbnail.jpg",
                tag_count=len(set(image_tags) | {r.tag_id for r in regions}),
            )
            img.tags = [ImageTag(tag_id=t, created=now) for t in image_tags]
            img.regions = [
                ImageRegion(tag_id=r.tag_id, left=r.left, top=r.top, width=r.width, height=r.height, created=now)
                for r in regions
            ]
            img.metadata_items = [ImageMetadata(key=k, value=v) for k, v in metadata.items()]
            try:
                with s.begin_nested():
                    s.add(img)
            except IntegrityError:
                continue
            inserted.append(image_id)
        project.workspace_version += 1
        project.last_modified = now
        s.flush()
        for img in s.scalars(select(Image).where(Image.id.in_(inserted))):
            created[img.id] = view_of(img)
    return created


# ---- read ------------------------------------------------------------------------------------


def _filtered(s: Session, project_id: uuid.UUID, q: ImageQuery) -> tuple[Any, dict[uuid.UUID, IterationImage] | None]:
    stmt = select(Image).where(Image.project_id == project_id)
    snapshot: dict[uuid.UUID, IterationImage] | None = None
    if q.iteration_id is not None:
        it = s.get(Iteration, q.iteration_id)
        if it is None or it.project_id != project_id:
            raise errors.NotFound("NotFoundIteration", f"Iteration {q.iteration_id} not found.")
        stmt = stmt.join(IterationImage, IterationImage.image_id == Image.id).where(
            IterationImage.iteration_id == q.iteration_id
        )
        snapshot = {}
    if len(q.tag_ids) > MAX_TAGS_PER_BATCH:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_TAGS_PER_BATCH} tag ids in a filter.")
    tagging = q.tagging
    if q.tag_ids:
        tag_ids = list(q.tag_ids)
        stmt = stmt.where(
            or_(
                Image.id.in_(select(ImageTag.image_id).where(ImageTag.tag_id.in_(tag_ids))),
                Image.id.in_(select(ImageRegion.image_id).where(ImageRegion.tag_id.in_(tag_ids))),
            )
        )
    if tagging == "Tagged":
        stmt = stmt.where(Image.tag_count > 0)
    elif tagging == "Untagged":
        stmt = stmt.where(Image.tag_count == 0)
    cond = metadata_filter.condition(q.filter)
    if cond is not None:
        stmt = stmt.where(cond)
    return stmt, snapshot


def list_images(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, query: ImageQuery) -> list[ImageView]:
    take = max(0, min(query.take, MAX_IMAGE_IDS))
    skip = max(0, query.skip)
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt, snapshot = _filtered(s, project_id, query)
        if query.order_by == OrderBy.OLDEST.value:
            stmt = stmt.order_by(Image.created.asc(), Image.id.asc())
        else:
            stmt = stmt.order_by(Image.created.desc(), Image.id.desc())
        images = list(s.scalars(stmt.offset(skip).limit(take)))
        if snapshot is None or query.iteration_id is None:
            return [view_of(i) for i in images]
        snaps = {
            r.image_id: r
            for r in s.scalars(select(IterationImage).where(
                IterationImage.iteration_id == query.iteration_id,
                IterationImage.image_id.in_([i.id for i in images]),
            ))
        }
        names = iteration_tag_names(s, query.iteration_id)
        return [_snapshot_view(i, snaps[i.id], names) for i in images]


def iteration_tag_names(s: Session, iteration_id: uuid.UUID) -> dict[uuid.UUID, str]:
    from ..db.tables import IterationTag

    return {r.tag_id: r.name for r in s.scalars(select(IterationTag).where(IterationTag.iteration_id == iteration_id))}


def count_images(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, query: ImageQuery) -> int:
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt, _ = _filtered(s, project_id, query)
        return int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def get_images_by_ids(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, image_ids: Sequence[uuid.UUID],
    iteration_id: uuid.UUID | None = None,
) -> list[ImageView]:
    if len(image_ids) > MAX_IMAGE_IDS:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_IMAGE_IDS} image ids.")
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        stmt = select(Image).where(Image.project_id == project_id)
        if image_ids:
            stmt = stmt.where(Image.id.in_(list(image_ids)))
        if iteration_id is not None:
            stmt, _ = _filtered(s, project_id, ImageQuery(iteration_id=iteration_id))
            if image_ids:
                stmt = stmt.where(Image.id.in_(list(image_ids)))
        found = {i.id: view_of(i) for i in s.scalars(stmt.limit(MAX_IMAGE_IDS))}
    if not image_ids:
        return list(found.values())
    return [found[i] for i in dict.fromkeys(image_ids) if i in found]


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
            s.execute(Image.__table__.delete().where(Image.id.in_(chunk)))
        if ids:
            project.workspace_version += 1
            project.last_modified = utcnow()
    for image_id in ids:
        ctx.blobs.delete_prefix(image_prefix(project_id, image_id))
    log.info("images deleted project=%s count=%d", project_id, len(ids))
    return len(ids)


def _chunks(items: list[uuid.UUID], n: int) -> Iterable[list[uuid.UUID]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def touch_project(s: Session, project: Project) -> None:
    project.workspace_version += 1
    project.last_modified = utcnow()
