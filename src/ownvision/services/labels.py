"""Labels on existing images: tags, regions and metadata."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from .. import errors
from ..db.tables import Image, ImageMetadata, ImageRegion, ImageTag, utcnow
from ..domain.enums import TagType
from ..domain.limits import (
    MAX_DELETE_REGIONS,
    MAX_DELETE_TAG_IMAGES,
    MAX_IMAGE_IDS,
    MAX_IMAGE_TAG_BATCH,
    MAX_METADATA_IMAGES,
    MAX_REGION_BATCH,
    MAX_REGIONS_PER_IMAGE,
    MAX_TAGS_PER_BATCH,
    MAX_TAGS_PER_IMAGE,
)
from .context import Context
from .images import RegionIn, check_metadata, check_regions, project_tags, refresh_tag_counts, touch_project
from .projects import load_project


@dataclass(frozen=True)
class ImageTagPair:
    image_id: uuid.UUID
    tag_id: uuid.UUID


@dataclass(frozen=True)
class TagSummary:
    created: list[ImageTagPair]
    duplicated: list[ImageTagPair]
    exceeded: list[ImageTagPair]


@dataclass(frozen=True)
class RegionEntry:
    image_id: uuid.UUID
    region: RegionIn


@dataclass(frozen=True)
class CreatedRegion:
    image_id: uuid.UUID
    region_id: uuid.UUID
    tag_name: str
    created: object
    region: RegionIn


@dataclass(frozen=True)
class RegionSummary:
    created: list[CreatedRegion]
    duplicated: list[RegionEntry]
    exceeded: list[RegionEntry]


@dataclass(frozen=True)
class MetadataResult:
    image_id: uuid.UUID
    status: str
    metadata: dict[str, str] | None


def _images_in_project(s: object, project_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Image]:
    rows = s.scalars(select(Image).where(Image.project_id == project_id, Image.id.in_(list(set(ids)))))  # type: ignore[attr-defined]
    return {i.id: i for i in rows}


def create_image_tags(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, pairs: Sequence[ImageTagPair]
) -> TagSummary:
    if not pairs:
        raise errors.BadRequest("BadRequestImageTags", "No image tags given.")
    if len(pairs) > MAX_IMAGE_TAG_BATCH:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_IMAGE_TAG_BATCH} image tags per batch.")
    created: list[ImageTagPair] = []
    duplicated: list[ImageTagPair] = []
    exceeded: list[ImageTagPair] = []
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        tags = project_tags(s, project_id)
        images = _images_in_project(s, project_id, [p.image_id for p in pairs])
        for p in pairs:
            if p.image_id not in images:
                raise errors.NotFound("NotFoundImage", f"Image {p.image_id} not found.")
            if p.tag_id not in tags:
                raise errors.NotFound("NotFoundTag", f"Tag {p.tag_id} not found.")
        now = utcnow()
        for p in pairs:
            img = images[p.image_id]
            current = {t.tag_id for t in img.tags}
            if p.tag_id in current:
                duplicated.append(p)
                continue
            if len(current) >= MAX_TAGS_PER_IMAGE:
                exceeded.append(p)
                continue
            labels = current | {r.tag_id for r in img.regions}  # regions label an image too
            types = {tags[t].type for t in labels} | {tags[p.tag_id].type}
            if TagType.NEGATIVE.value in types and len(labels) >= 1:
                raise errors.BadRequest(
                    "BadRequestNegativeAndRegularTagOnSameImage",
                    f"Image {p.image_id}: the Negative tag cannot be combined with other tags.",
                )
            img.tags.append(ImageTag(tag_id=p.tag_id, created=now))
            created.append(p)
        s.flush()
        refresh_tag_counts(s, images.keys())
        if created:
            touch_project(s, project)
    return TagSummary(created, duplicated, exceeded)


def delete_image_tags(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, image_ids: Sequence[uuid.UUID],
    tag_ids: Sequence[uuid.UUID],
) -> None:
    if not image_ids or not tag_ids:
        raise errors.BadRequest("BadRequestRequiredParamIsNull", "imageIds and tagIds are required.")
    if len(image_ids) > MAX_DELETE_TAG_IMAGES or len(tag_ids) > MAX_TAGS_PER_BATCH:
        raise errors.BadRequest(
            "BadRequestExceededBatchSize", f"At most {MAX_DELETE_TAG_IMAGES} images and {MAX_TAGS_PER_BATCH} tags."
        )
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        images = _images_in_project(s, project_id, image_ids)
        s.execute(
            ImageTag.__table__.delete().where(
                ImageTag.image_id.in_(list(images)), ImageTag.tag_id.in_(list(tag_ids))
            )
        )
        refresh_tag_counts(s, images.keys())
        touch_project(s, project)


def create_image_regions(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, entries: Sequence[RegionEntry]
) -> RegionSummary:
    if not entries:
        raise errors.BadRequest("BadRequestImageRegions", "No regions given.")
    if len(entries) > MAX_REGION_BATCH:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_REGION_BATCH} regions per batch.")
    for i, e in enumerate(entries):
        check_regions([e.region], f"region {i}")
    created: list[CreatedRegion] = []
    duplicated: list[RegionEntry] = []
    exceeded: list[RegionEntry] = []
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        tags = project_tags(s, project_id)
        images = _images_in_project(s, project_id, [e.image_id for e in entries])
        for e in entries:
            if e.image_id not in images:
                raise errors.NotFound("NotFoundImage", f"Image {e.image_id} not found.")
            if e.region.tag_id not in tags:
                raise errors.NotFound("NotFoundTag", f"Tag {e.region.tag_id} not found.")
            if tags[e.region.tag_id].type == TagType.NEGATIVE.value:
                raise errors.BadRequest("BadRequestImageRegions", "A region cannot carry the Negative tag.")
            if any(tags[t.tag_id].type == TagType.NEGATIVE.value for t in images[e.image_id].tags):
                raise errors.BadRequest(
                    "BadRequestNegativeAndRegularTagOnSameImage",
                    f"Image {e.image_id} carries the Negative tag; it cannot have regions too.",
                )
        now = utcnow()
        new_rows: list[tuple[RegionEntry, ImageRegion]] = []
        for e in entries:
            img = images[e.image_id]
            r = e.region
            same = any(
                x.tag_id == r.tag_id and abs(x.left - r.left) < 1e-6 and abs(x.top - r.top) < 1e-6
                and abs(x.width - r.width) < 1e-6 and abs(x.height - r.height) < 1e-6
                for x in img.regions
            )
            if same:
                duplicated.append(e)
                continue
            if len(img.regions) >= MAX_REGIONS_PER_IMAGE:
                exceeded.append(e)
                continue
            row = ImageRegion(tag_id=r.tag_id, left=r.left, top=r.top, width=r.width, height=r.height, created=now)
            img.regions.append(row)
            new_rows.append((e, row))
        s.flush()
        for e, row in new_rows:
            created.append(CreatedRegion(e.image_id, row.id, tags[row.tag_id].name, row.created, e.region))
        refresh_tag_counts(s, images.keys())
        if new_rows:
            touch_project(s, project)
    return RegionSummary(created, duplicated, exceeded)


def delete_image_regions(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, region_ids: Sequence[uuid.UUID]
) -> None:
    if not region_ids:
        raise errors.BadRequest("BadRequestRequiredParamIsNull", "regionIds is required.")
    if len(region_ids) > MAX_DELETE_REGIONS:
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_DELETE_REGIONS} region ids.")
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        rows = list(s.scalars(
            select(ImageRegion).join(Image, Image.id == ImageRegion.image_id).where(
                Image.project_id == project_id, ImageRegion.id.in_(list(region_ids))
            )
        ))
        if len(rows) != len(set(region_ids)):
            found = {r.id for r in rows}
            missing = next(r for r in region_ids if r not in found)
            raise errors.NotFound("NotFound", f"Region {missing} not found.")
        image_ids = {r.image_id for r in rows}
        for r in rows:
            s.delete(r)
        s.flush()
        refresh_tag_counts(s, image_ids)
        touch_project(s, project)


def update_image_metadata(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, image_ids: Sequence[uuid.UUID],
    metadata: dict[str, str],
) -> list[MetadataResult]:
    """Merge ``metadata`` into each image's metadata (existing keys are overwritten)."""
    if not image_ids:
        raise errors.BadRequest("BadRequestRequiredParamIsNull", "imageIds is required.")
    if len(image_ids) > min(MAX_IMAGE_IDS, MAX_METADATA_IMAGES):
        raise errors.BadRequest("BadRequestExceededBatchSize", f"At most {MAX_METADATA_IMAGES} images per call.")
    md = check_metadata(metadata)
    results: list[MetadataResult] = []
    with ctx.db.write() as s:
        load_project(s, account_id, project_id)
        images = _images_in_project(s, project_id, image_ids)
        for image_id in dict.fromkeys(image_ids):
            img = images.get(image_id)
            if img is None:
                results.append(MetadataResult(image_id, "ErrorImageNotFound", None))
                continue
            current = {m.key: m for m in img.metadata_items}
            if len(set(current) | set(md)) > 50:
                results.append(MetadataResult(image_id, "ErrorLimitExceed", None))
                continue
            for k, v in md.items():
                if k in current:
                    current[k].value = v
                else:
                    img.metadata_items.append(ImageMetadata(key=k, value=v))
            s.flush()
            results.append(MetadataResult(image_id, "OK", {m.key: m.value for m in img.metadata_items}))
    return results
