"""Tags of a project; with ``iteration_id``, the tags as that iteration was trained on them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import errors
from ..db.tables import ImageRegion, ImageTag, Iteration, IterationTag, Project, Tag, utcnow
from ..domain.enums import TagType
from ..domain.limits import MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, MAX_TAGS_PER_PROJECT
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context
from .projects import load_project


@dataclass(frozen=True)
class TagView:
    id: uuid.UUID
    name: str
    description: str
    type: str
    image_count: int


def _check_type(value: str | None) -> str:
    if value is None or value == "":
        return TagType.REGULAR.value
    for t in TagType:
        if t.value.lower() == value.lower():
            return t.value
    raise errors.BadRequest("BadRequestTagType", f"Unknown tag type {value!r}; use Regular, Negative or GeneralProduct.")


def _check_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise errors.BadRequest("BadRequestTagName", "The tag name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise errors.BadRequest("BadRequestTagName", f"The tag name exceeds {MAX_NAME_LENGTH} characters.")
    return name.strip()


def _check_description(desc: str | None) -> str:
    desc = desc or ""
    if len(desc) > MAX_DESCRIPTION_LENGTH:
        raise errors.BadRequest("BadRequestTagDescription", f"The description exceeds {MAX_DESCRIPTION_LENGTH} characters.")
    return desc


def _image_count(s: Session, tag_id: uuid.UUID) -> int:
    # An image counts once for a tag, whether it carries it as a tag, as regions, or both.
    tagged = select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)
    regions = select(ImageRegion.image_id).where(ImageRegion.tag_id == tag_id)
    q = select(func.count()).select_from(tagged.union(regions).subquery())
    return int(s.scalar(q) or 0)


def _view(s: Session, t: Tag) -> TagView:
    return TagView(t.id, t.name, t.description, t.type, _image_count(s, t.id))


def load_tag(s: Session, project_id: uuid.UUID, tag_id: uuid.UUID) -> Tag:
    tag = s.get(Tag, tag_id)
    if tag is None or tag.project_id != project_id:
        raise errors.NotFound("NotFoundTag", f"Tag {tag_id} not found.")
    return tag


def _load_iteration(s: Session, project_id: uuid.UUID, iteration_id: uuid.UUID) -> Iteration:
    it = s.get(Iteration, iteration_id)
    if it is None or it.project_id != project_id:
        raise errors.NotFound("NotFoundIteration", f"Iteration {iteration_id} not found.")
    return it


def list_tags(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, iteration_id: uuid.UUID | None = None
) -> list[TagView]:
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        if iteration_id is not None:
            _load_iteration(s, project_id, iteration_id)
            rows = s.scalars(
                select(IterationTag).where(IterationTag.iteration_id == iteration_id).order_by(IterationTag.position)
            )
            return [TagView(r.tag_id, r.name, r.description, r.type, r.image_count) for r in rows]
        tags = s.scalars(select(Tag).where(Tag.project_id == project_id).order_by(Tag.created, Tag.name))
        return [_view(s, t) for t in tags]


def get_tag(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, tag_id: uuid.UUID,
    iteration_id: uuid.UUID | None = None,
) -> TagView:
    if iteration_id is not None:
        for t in list_tags(ctx, account_id=account_id, project_id=project_id, iteration_id=iteration_id):
            if t.id == tag_id:
                return t
        raise errors.NotFound("NotFoundTag", f"Tag {tag_id} not found in iteration {iteration_id}.")
    with ctx.db.read() as s:
        load_project(s, account_id, project_id)
        return _view(s, load_tag(s, project_id, tag_id))


def _check_unique_type(s: Session, project_id: uuid.UUID, type_: str, exclude: uuid.UUID | None) -> None:
    if type_ == TagType.REGULAR.value:
        return
    q = select(Tag.id).where(Tag.project_id == project_id, Tag.type == type_)
    if any(tid != exclude for tid in s.scalars(q)):
        code = "BadRequestMultipleNegativeTag" if type_ == TagType.NEGATIVE.value else "BadRequestMultipleGeneralProductTag"
        raise errors.BadRequest(code, f"A project can have only one {type_} tag.")


def _check_unique_name(s: Session, project_id: uuid.UUID, name: str, exclude: uuid.UUID | None) -> None:
    q = select(Tag.id).where(Tag.project_id == project_id, Tag.name_key == name.casefold())
    if any(tid != exclude for tid in s.scalars(q)):
        raise errors.BadRequest("BadRequestTagNameNotUnique", f"A tag named {name!r} already exists in this project.")


def _check_can_become_negative(s: Session, tag_id: uuid.UUID) -> None:
    """A Negative tag labels an image alone and never a region: refuse if this tag's images break that."""
    if s.scalar(select(ImageRegion.id).where(ImageRegion.tag_id == tag_id).limit(1)) is not None:
        raise errors.BadRequest("BadRequestTagType", "This tag marks regions; a Negative tag cannot.")
    tagged = select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)
    shared = select(ImageTag.image_id).where(ImageTag.image_id.in_(tagged), ImageTag.tag_id != tag_id).limit(1)
    with_regions = select(ImageRegion.image_id).where(ImageRegion.image_id.in_(tagged)).limit(1)
    if s.scalar(shared) is not None or s.scalar(with_regions) is not None:
        raise errors.BadRequest(
            "BadRequestNegativeAndRegularTagOnSameImage",
            "Some images carry this tag together with other tags; a Negative tag must be an image's only label.",
        )


def create_tag(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, name: str | None,
    description: str | None = None, type: str | None = None,
) -> TagView:
    name = _check_name(name)
    desc = _check_description(description)
    type_ = _check_type(type)
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        _check_unique_name(s, project_id, name, None)
        _check_unique_type(s, project_id, type_, None)
        count = s.scalar(select(func.count()).select_from(Tag).where(Tag.project_id == project_id)) or 0
        if count >= MAX_TAGS_PER_PROJECT:
            raise errors.BadRequest("BadRequestExceedTagPerProjectLimit", f"At most {MAX_TAGS_PER_PROJECT} tags per project.")
        tag = Tag(project_id=project_id, name=name, name_key=name.casefold(), description=desc, type=type_)
        s.add(tag)
        project.last_modified = utcnow()
        s.flush()
        return TagView(tag.id, tag.name, tag.description, tag.type, 0)


def update_tag(
    ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, tag_id: uuid.UUID, body: dict[str, object]
) -> TagView:
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        tag = load_tag(s, project_id, tag_id)
        if body.get("name") is not None:
            name = _check_name(str(body["name"]))
            _check_unique_name(s, project_id, name, tag.id)
            tag.name, tag.name_key = name, name.casefold()
        if body.get("description") is not None:
            tag.description = _check_description(str(body["description"]))
        if body.get("type") is not None:
            new_type = _check_type(str(body["type"]))
            if new_type != tag.type:
                _check_unique_type(s, project_id, new_type, tag.id)
                if new_type == TagType.NEGATIVE.value:
                    _check_can_become_negative(s, tag.id)
                tag.type = new_type
                project.workspace_version += 1
        project.last_modified = utcnow()
        s.flush()
        return _view(s, tag)


def delete_tag(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, tag_id: uuid.UUID) -> None:
    """Delete the tag and remove it, and its regions, from every image."""
    from .images import refresh_tag_counts

    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        tag = load_tag(s, project_id, tag_id)
        image_ids = set(s.scalars(select(ImageTag.image_id).where(ImageTag.tag_id == tag_id)))
        image_ids |= set(s.scalars(select(ImageRegion.image_id).where(ImageRegion.tag_id == tag_id)))
        s.execute(ImageTag.__table__.delete().where(ImageTag.tag_id == tag_id))
        s.execute(ImageRegion.__table__.delete().where(ImageRegion.tag_id == tag_id))
        s.delete(tag)
        record(s, account_id=account_id, action="tag.delete", target_type="tag", target_id=tag_id,
               detail=f"untagged_images={len(image_ids)}")
        s.flush()
        refresh_tag_counts(s, image_ids)
        project.workspace_version += 1
        project.last_modified = utcnow()
    checkpoint_wal(ctx)


def project_of(s: Session, project_id: uuid.UUID) -> Project | None:
    return s.get(Project, project_id)
