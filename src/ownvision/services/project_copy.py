"""Creating a project from a source of records: the one import path of ImportProject and archives.

A *source* hands over a project in the record format of :mod:`.records` (a project of this server
for ImportProject, a zip for a project archive). The copy gets new ids throughout (project, tags,
images, regions, iterations) and its own blobs under its own prefix, so that it is independent of
the original: deleting either leaves the other whole.

The copy is made in short transactions, one page of images at a time, while the project's status
is ``Importing``; it ends ``Succeeded``. If anything fails midway, everything written so far is
erased again (rows and blobs) and the error is raised: there is never half a project.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select

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
from ..domain.enums import ClassificationType, DomainType, IterationStatus, TagType
from ..domain.limits import MAX_ITERATIONS_PER_PROJECT, MAX_NAME_LENGTH, MAX_PROJECTS, MAX_TAGS_PER_PROJECT
from ..imaging.ingest import IngestedImage
from .audit import record
from .checkpoint import checkpoint_wal
from .context import Context
from .images import RegionIn, check_metadata, check_regions, image_prefix
from .iterations import iteration_prefix
from .projects import project_prefix
from .records import parse_stamp

log = logging.getLogger(__name__)


class InvalidSource(ValueError):
    """The source's records are not a valid project (a damaged or hand-edited archive)."""


ImageLoader = Callable[[], IngestedImage]
ModelLoader = Callable[[], bytes]


class ProjectSource(Protocol):
    """Where a copied project comes from. Records follow :mod:`.records`."""

    def project(self) -> dict[str, Any]: ...

    def tags(self) -> list[dict[str, Any]]: ...

    def image_pages(self) -> Iterator[list[tuple[dict[str, Any], ImageLoader]]]:
        """Image records in pages, each with a function that returns the prepared image files."""
        ...

    def iterations(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], ModelLoader]]:
        """Trained iterations to copy: record, training-set rows, and the model's bytes."""
        ...


@dataclass
class CopyReport:
    project: Project
    tags: int = 0
    images: int = 0
    regions: int = 0
    iterations: int = 0
    skipped: list[str] = field(default_factory=list)


# ---- parsing untrusted records -----------------------------------------------------------------


def _uuid(value: object, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidSource(f"{what} is not a GUID: {value!r}") from exc


def _text(value: object, what: str, *, limit: int, required: bool = False) -> str:
    if value is None:
        if required:
            raise InvalidSource(f"{what} is missing")
        return ""
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise InvalidSource(f"{what} must be text of 1 to {limit} characters")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSource(f"{what} must be a number, got {value!r}")
    return float(value)


def _int(value: object, what: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSource(f"{what} must be an integer, got {value!r}")
    return value


def _when(value: object, what: str) -> Any:
    try:
        return parse_stamp(value) or utcnow()
    except ValueError as exc:
        raise InvalidSource(f"{what}: {exc}") from exc


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidSource(f"{what} must be a list")
    return value


# ---- the copy ------------------------------------------------------------------------------------


class _Copier:
    def __init__(self, ctx: Context, account_id: uuid.UUID, source: ProjectSource) -> None:
        self.ctx, self.account_id, self.source = ctx, account_id, source
        self.project_id = uuid.uuid4()
        self.tag_map: dict[str, uuid.UUID] = {}  # old tag id (text) -> new
        self.image_map: dict[str, uuid.UUID] = {}
        self.region_map: dict[str, uuid.UUID] = {}
        self.sha_seen: set[str] = set()
        self.is_detection = False

    def new_tag_id(self, old: str) -> uuid.UUID:
        # Iterations may name tags deleted since they were trained: they get fresh ids of their own.
        return self.tag_map.setdefault(old, uuid.uuid4())

    def create_project(self, name: str | None) -> CopyReport:
        rec = self.source.project()
        if not isinstance(rec, dict):
            raise InvalidSource("the project record must be an object")
        domain = find_domain(_uuid(rec.get("domainId"), "project.domainId"))
        if domain is None:
            raise InvalidSource(f"unknown domain {rec.get('domainId')!r}")
        self.is_detection = domain.type is DomainType.OBJECT_DETECTION
        ctype = rec.get("classificationType")
        if self.is_detection:
            ctype = None
        elif ctype not in (ClassificationType.MULTICLASS.value, ClassificationType.MULTILABEL.value):
            raise InvalidSource(f"unknown classification type {ctype!r}")
        final_name = (name or "").strip() or _text(rec.get("name"), "project.name", limit=MAX_NAME_LENGTH,
                                                   required=True)
        if len(final_name) > MAX_NAME_LENGTH:
            raise errors.BadRequest("BadRequestProjectName", f"The project name exceeds {MAX_NAME_LENGTH} characters.")
        platforms = [p for p in _list(rec.get("targetExportPlatforms"), "targetExportPlatforms")
                     if isinstance(p, str) and p in domain.exportable_platforms]
        ips = rec.get("imageProcessingSettings")
        tags = self._parse_tags(self.source.tags())
        now = utcnow()
        with self.ctx.db.write() as s:
            count = s.scalar(select(func.count()).select_from(Project).where(Project.account_id == self.account_id))
            if (count or 0) >= MAX_PROJECTS:
                raise errors.BadRequest("BadRequestExceedProjectLimit", f"At most {MAX_PROJECTS} projects.")
            project = Project(
                id=self.project_id, account_id=self.account_id, name=final_name,
                description=_text(rec.get("description"), "project.description", limit=1024),
                domain_id=domain.id, classification_type=ctype, target_export_platforms=platforms,
                image_processing=ips if isinstance(ips, dict) else None, status="Importing",
                created=now, last_modified=now, workspace_version=_int(rec.get("workspaceVersion"), "workspaceVersion"),
            )
            s.add(project)
            s.flush()
            for old_id, tag in tags:
                tag.id = self.new_tag_id(old_id)
                tag.project_id = self.project_id
                s.add(tag)
        return CopyReport(project=project, tags=len(tags))

    def _parse_tags(self, records: list[dict[str, Any]]) -> list[tuple[str, Tag]]:
        records = _list(records, "tags")
        if len(records) > MAX_TAGS_PER_PROJECT:
            raise InvalidSource(f"more than {MAX_TAGS_PER_PROJECT} tags")
        out: list[tuple[str, Tag]] = []
        names: set[str] = set()
        special: set[str] = set()
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise InvalidSource(f"tag {i} must be an object")
            old = str(_uuid(r.get("id"), f"tag {i} id"))
            name = _text(r.get("name"), f"tag {i} name", limit=MAX_NAME_LENGTH, required=True).strip()
            if name.casefold() in names:
                raise InvalidSource(f"two tags are named {name!r}")
            names.add(name.casefold())
            type_ = r.get("type") or TagType.REGULAR.value
            if type_ not in {t.value for t in TagType}:
                raise InvalidSource(f"tag {name!r} has unknown type {type_!r}")
            if type_ != TagType.REGULAR.value:
                if type_ in special:
                    raise InvalidSource(f"more than one {type_} tag")
                special.add(type_)
            out.append((old, Tag(name=name, name_key=name.casefold(),
                                 description=_text(r.get("description"), f"tag {name!r} description", limit=1024),
                                 type=type_, created=_when(r.get("created"), f"tag {name!r} created"))))
        return out

    def copy_images(self, report: CopyReport) -> None:
        for page in self.source.image_pages():
            prepared: list[tuple[dict[str, Any], IngestedImage, uuid.UUID]] = []
            for rec, load in page:
                if not isinstance(rec, dict):
                    raise InvalidSource("an image record must be an object")
                old = str(_uuid(rec.get("id"), "image id"))
                ing = load()
                if ing.sha256 in self.sha_seen:  # the same bytes twice: one image, as an upload would
                    report.skipped.append(f"image {old}: duplicate of an image already copied")
                    continue
                self.sha_seen.add(ing.sha256)
                new_id = uuid.uuid4()
                self.image_map[old] = new_id
                prepared.append((rec, ing, new_id))
            for _rec, ing, new_id in prepared:
                self._put_blobs(new_id, ing)
            with self.ctx.db.write() as s:
                for rec, ing, new_id in prepared:
                    s.add(self._image_row(rec, ing, new_id, report))
            report.images += len(prepared)

    def _put_blobs(self, image_id: uuid.UUID, ing: IngestedImage) -> None:
        prefix = image_prefix(self.project_id, image_id)
        self.ctx.blobs.put(f"{prefix}original.{ing.format}", ing.original)
        if ing.resized is not None:
            self.ctx.blobs.put(f"{prefix}resized.{ing.resized_format}", ing.resized)
        self.ctx.blobs.put(f"{prefix}thumbnail.jpg", ing.thumbnail)

    def _image_row(self, rec: dict[str, Any], ing: IngestedImage, image_id: uuid.UUID, report: CopyReport) -> Image:
        old = str(rec.get("id"))
        prefix = image_prefix(self.project_id, image_id)
        original = f"{prefix}original.{ing.format}"
        created = _when(rec.get("created"), f"image {old} created")
        tag_rows: list[ImageTag] = []
        for t in _list(rec.get("tags"), f"image {old} tags"):
            if not isinstance(t, dict):
                raise InvalidSource(f"image {old}: a tag link must be an object")
            tid = str(_uuid(t.get("tagId"), f"image {old} tagId"))
            if tid not in self.tag_map:
                raise InvalidSource(f"image {old} carries tag {tid}, which the project does not have")
            if all(x.tag_id != self.tag_map[tid] for x in tag_rows):
                tag_rows.append(ImageTag(tag_id=self.tag_map[tid], created=_when(t.get("created"), "tag link created")))
        region_rows: list[ImageRegion] = []
        for r in _list(rec.get("regions"), f"image {old} regions"):
            if not isinstance(r, dict):
                raise InvalidSource(f"image {old}: a region must be an object")
            tid = str(_uuid(r.get("tagId"), f"image {old} region tagId"))
            if tid not in self.tag_map:
                raise InvalidSource(f"image {old} has a region of tag {tid}, which the project does not have")
            box = RegionIn(self.tag_map[tid], *(_number(r.get(k), f"image {old} region {k}")
                                                for k in ("left", "top", "width", "height")))
            check_regions([box], f"image {old}")
            new_region = uuid.uuid4()
            if r.get("regionId") is not None:
                self.region_map[str(r["regionId"])] = new_region
            region_rows.append(ImageRegion(id=new_region, tag_id=box.tag_id, left=box.left, top=box.top,
                                           width=box.width, height=box.height,
                                           created=_when(r.get("created"), "region created")))
        metadata = rec.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InvalidSource(f"image {old}: metadata must be an object")
        metadata = check_metadata(metadata)
        report.regions += len(region_rows)
        img = Image(
            id=image_id, project_id=self.project_id, created=created, width=ing.width, height=ing.height,
            format=ing.format, size_bytes=len(ing.original), sha256=ing.sha256, original_key=original,
            resized_key=f"{prefix}resized.{ing.resized_format}" if ing.resized is not None else original,
            thumbnail_key=f"{prefix}thumbnail.jpg",
            tag_count=len({t.tag_id for t in tag_rows} | {r.tag_id for r in region_rows}),
        )
        img.tags, img.regions = tag_rows, region_rows
        img.metadata_items = [ImageMetadata(key=k, value=v) for k, v in metadata.items()]
        return img

    def copy_iterations(self, report: CopyReport) -> None:
        for rec, snapshot, load_model in self.source.iterations():
            if report.iterations >= MAX_ITERATIONS_PER_PROJECT:
                report.skipped.append(f"iteration {rec.get('id')}: more than {MAX_ITERATIONS_PER_PROJECT} iterations")
                continue
            if rec.get("status") != IterationStatus.COMPLETED.value:
                report.skipped.append(f"iteration {rec.get('id')}: not trained ({rec.get('status')})")
                continue
            self._copy_iteration(rec, snapshot, load_model)
            report.iterations += 1

    def _copy_iteration(self, rec: dict[str, Any], snapshot: list[dict[str, Any]], load_model: ModelLoader) -> None:
        old = str(_uuid(rec.get("id"), "iteration id"))
        domain = find_domain(_uuid(rec.get("domainId"), f"iteration {old} domainId"))
        if domain is None:
            raise InvalidSource(f"iteration {old}: unknown domain {rec.get('domainId')!r}")
        manifest = rec.get("modelManifest")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("tags"), list):
            raise InvalidSource(f"iteration {old}: the model manifest is missing or has no tag list")
        manifest = dict(manifest, tags=[str(self.new_tag_id(str(t))) for t in manifest["tags"]])
        new_id = uuid.uuid4()
        model_key = f"{iteration_prefix(self.project_id, new_id)}model.onnx"
        self.ctx.blobs.put(model_key, load_model())
        selected = rec.get("selectedTags")
        now = utcnow()
        with self.ctx.db.write() as s:
            s.add(Iteration(
                id=new_id, project_id=self.project_id,
                name=_text(rec.get("name"), f"iteration {old} name", limit=MAX_NAME_LENGTH, required=True),
                status=IterationStatus.COMPLETED.value, created=_when(rec.get("created"), "iteration created"),
                last_modified=now, trained_at=_when(rec.get("trainedAt"), "iteration trainedAt"),
                domain_id=domain.id, classification_type=rec.get("classificationType"),
                training_type=rec.get("trainingType") or "Regular",
                reserved_budget_in_hours=_int(rec.get("reservedBudgetInHours"), "reservedBudgetInHours"),
                training_time_in_minutes=_int(rec.get("trainingTimeInMinutes"), "trainingTimeInMinutes"),
                training_error_details=None,
                selected_tags=[str(self.new_tag_id(str(t))) for t in selected] if isinstance(selected, list) else None,
                workspace_version=_int(rec.get("workspaceVersion"), "workspaceVersion"),
                progress=1.0, progress_message="Completed", model_key=model_key, model_manifest=manifest,
                details=rec.get("details") if isinstance(rec.get("details"), dict) else None,
            ))
            s.flush()
            for i, t in enumerate(_list(rec.get("tags"), f"iteration {old} tags")):
                if not isinstance(t, dict):
                    raise InvalidSource(f"iteration {old}: a tag must be an object")
                s.add(IterationTag(
                    iteration_id=new_id, tag_id=self.new_tag_id(str(_uuid(t.get("tagId"), "iteration tagId"))),
                    position=_int(t.get("position"), "position", i),
                    name=_text(t.get("name"), "iteration tag name", limit=MAX_NAME_LENGTH, required=True),
                    description=_text(t.get("description"), "iteration tag description", limit=1024),
                    type=t.get("type") if t.get("type") in {x.value for x in TagType} else TagType.REGULAR.value,
                    image_count=_int(t.get("imageCount"), "imageCount"),
                ))
            for row in _list(snapshot, f"iteration {old} training set"):
                if not isinstance(row, dict):
                    raise InvalidSource(f"iteration {old}: a training-set row must be an object")
                image_id = self.image_map.get(str(row.get("imageId")))
                if image_id is None:
                    continue  # an image deleted after training, or a duplicate that was merged
                s.add(IterationImage(
                    iteration_id=new_id, image_id=image_id,
                    tag_ids=[str(self.new_tag_id(str(t))) for t in _list(row.get("tagIds"), "tagIds")],
                    regions=[self._region_json(r) for r in _list(row.get("regions"), "regions")],
                    held_out=[self._held_out_json(p) for p in row["heldOut"]]
                    if isinstance(row.get("heldOut"), list) else None,
                ))

    def _region_json(self, r: object) -> dict[str, Any]:
        if not isinstance(r, dict):
            raise InvalidSource("a training-set region must be an object")
        old_region = str(r.get("regionId"))
        region_id = self.region_map.get(old_region) or self.region_map.setdefault(old_region, uuid.uuid4())
        return dict(r, regionId=str(region_id), tagId=str(self.new_tag_id(str(r.get("tagId")))))

    def _held_out_json(self, p: object) -> dict[str, Any]:
        if not isinstance(p, dict):
            raise InvalidSource("a held-out prediction must be an object")
        return dict(p, tagId=str(self.new_tag_id(str(p.get("tagId")))))

    def finish(self, report: CopyReport, *, actor: str, origin: str) -> None:
        with self.ctx.db.write() as s:
            project = s.get(Project, self.project_id)
            if project is None:
                raise errors.NotFound("NotFoundProject", "The project was deleted while it was being imported.")
            project.status = "Succeeded"
            project.last_modified = utcnow()
            record(s, account_id=self.account_id, actor=actor, action="project.import", target_type="project",
                   target_id=self.project_id,
                   detail=f"source={origin} images={report.images} tags={report.tags} iterations={report.iterations}")
            s.flush()
            report.project = project

    def abort(self) -> None:
        with self.ctx.db.write() as s:
            project = s.get(Project, self.project_id)
            if project is not None:
                s.delete(project)
        self.ctx.blobs.delete_prefix(project_prefix(self.project_id))
        checkpoint_wal(self.ctx)


def copy_project(
    ctx: Context, *, account_id: uuid.UUID, source: ProjectSource, name: str | None = None,
    include_iterations: bool = True, actor: str = "training-key", origin: str = "archive",
) -> CopyReport:
    """Create a new project of ``account_id`` from ``source``; returns what was copied.

    Raises:
        InvalidSource: the source's records are not a valid project (nothing is left behind).
    """
    copier = _Copier(ctx, account_id, source)
    report = copier.create_project(name)
    try:
        copier.copy_images(report)
        if include_iterations:
            copier.copy_iterations(report)
        copier.finish(report, actor=actor, origin=origin)
    except BaseException:
        log.warning("import of project %s failed; removing what was copied", copier.project_id)
        copier.abort()
        raise
    log.info("project imported id=%s account=%s origin=%s images=%d tags=%d iterations=%d",
             copier.project_id, account_id, origin, report.images, report.tags, report.iterations)
    return report
