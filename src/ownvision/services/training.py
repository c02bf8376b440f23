"""TrainProject: validate the training set, snapshot it into a new iteration, and queue the job.

Training itself runs in a worker (``ownvision.worker``); this module never imports torch.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import errors
from ..db.tables import Image, ImageRegion, ImageTag, Iteration, IterationImage, IterationTag, Job, Tag, utcnow
from ..domain.domains import Domain
from ..domain.enums import ClassificationType, DomainType, IterationStatus, TagType, TrainingType
from ..domain.limits import (
    MAX_ITERATIONS_PER_PROJECT,
    MIN_IMAGES_PER_TAG_CLASSIFICATION,
    MIN_IMAGES_PER_TAG_DETECTION,
)
from .context import Context
from .projects import get_domain, load_project

log = logging.getLogger(__name__)

JOB_TRAIN = "train"


@dataclass(frozen=True)
class TrainRequest:
    training_type: str = TrainingType.REGULAR.value
    reserved_budget_in_hours: int = 0
    force_train: bool = False
    notification_email: str | None = None
    selected_tags: Sequence[uuid.UUID] | None = None


def _fail(code: str, message: str) -> errors.BadRequest:
    return errors.BadRequest(code, message)


def start_training(ctx: Context, *, account_id: uuid.UUID, project_id: uuid.UUID, req: TrainRequest) -> Iteration:
    """Create an iteration in status Training and queue its job; the iteration is returned at once."""
    if req.training_type == TrainingType.ADVANCED.value and req.reserved_budget_in_hours < 1:
        raise _fail(
            "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining",
            "Advanced training needs reservedBudgetInHours of at least 1.",
        )
    if req.notification_email is not None and req.notification_email and "@" not in req.notification_email:
        raise _fail("BadRequestInvalidEmailAddress", f"{req.notification_email!r} is not an email address.")
    with ctx.db.write() as s:
        project = load_project(s, account_id, project_id)
        domain = get_domain(project.domain_id)
        iterations = list(s.scalars(select(Iteration).where(Iteration.project_id == project_id)))
        if any(it.status == IterationStatus.TRAINING.value for it in iterations):
            raise _fail("BadRequestTrainingAlreadyInProgress", "A training of this project is already in progress.")
        if len(iterations) >= MAX_ITERATIONS_PER_PROJECT:
            raise _fail(
                "BadRequestExceedIterationPerProjectLimit",
                f"A project keeps at most {MAX_ITERATIONS_PER_PROJECT} iterations; delete an old one first.",
            )
        tags = {t.id: t for t in s.scalars(select(Tag).where(Tag.project_id == project_id))}
        selected = _selected_tags(tags, req.selected_tags)
        snapshot = _training_set(s, project_id, domain, selected)
        _validate(domain, project.classification_type, tags, selected, snapshot,
                  negative_images=_negative_images(s, tags, selected))
        last = max((it for it in iterations if it.status == IterationStatus.COMPLETED.value),
                   key=lambda it: it.created, default=None)
        sel_json = sorted(str(t) for t in selected) if req.selected_tags else None
        if (not req.force_train and last is not None and last.workspace_version == project.workspace_version
                and last.domain_id == project.domain_id and last.classification_type == project.classification_type
                and last.training_type == req.training_type and (last.selected_tags or None) == sel_json):
            raise _fail(
                "BadRequestTrainingNotNeeded",
                "Nothing changed since the last iteration; add or change images or tags, or pass forceTrain=true.",
            )
        now = utcnow()
        iteration = Iteration(
            project_id=project_id,
            name=f"Iteration {_next_number(iterations)}",
            status=IterationStatus.TRAINING.value,
            created=now,
            last_modified=now,
            domain_id=domain.id,
            classification_type=project.classification_type,
            training_type=req.training_type,
            reserved_budget_in_hours=req.reserved_budget_in_hours,
            selected_tags=sel_json,
            workspace_version=project.workspace_version,
            progress=0.0,
            progress_message="Queued",
        )
        s.add(iteration)
        s.flush()
        counts = Counter(t for _img, tag_ids, _regions in snapshot for t in tag_ids)
        ordered = sorted(selected, key=lambda t: (tags[t].created, tags[t].name))
        for pos, tid in enumerate(ordered):
            t = tags[tid]
            s.add(IterationTag(iteration_id=iteration.id, tag_id=tid, position=pos, name=t.name,
                               description=t.description, type=t.type, image_count=counts.get(tid, 0)))
        for image_id, tag_ids, regions in snapshot:
            s.add(IterationImage(iteration_id=iteration.id, image_id=image_id,
                                 tag_ids=[str(t) for t in tag_ids], regions=regions))
        s.add(Job(kind=JOB_TRAIN, project_id=project_id, iteration_id=iteration.id,
                  payload={"budget_s": _budget_seconds(ctx, req)}))
    log.info("training queued project=%s iteration=%s type=%s images=%d",
             project_id, iteration.id, req.training_type, len(snapshot))
    return iteration


def _budget_seconds(ctx: Context, req: TrainRequest) -> float:
    if req.training_type != TrainingType.ADVANCED.value:
        return 0.0
    budget = float(req.reserved_budget_in_hours) * 3600.0
    cap = ctx.settings.advanced_budget_cap_s
    return min(budget, cap) if cap is not None else budget


def _next_number(iterations: Sequence[Iteration]) -> int:
    numbers = [int(it.name.split()[-1]) for it in iterations
               if it.name.startswith("Iteration ") and it.name.split()[-1].isdigit()]
    return max([len(iterations), *numbers]) + 1


def _selected_tags(tags: dict[uuid.UUID, Tag], selected: Sequence[uuid.UUID] | None) -> list[uuid.UUID]:
    if not selected:
        return list(tags)
    unknown = [t for t in selected if t not in tags]
    if unknown:
        raise errors.NotFound("NotFoundTag", f"Selected tag {unknown[0]} is not a tag of this project.")
    return list(dict.fromkeys(selected))


Snapshot = list[tuple[uuid.UUID, list[uuid.UUID], list[dict[str, object]]]]


def _training_set(s: Session, project_id: uuid.UUID, domain: Domain, selected: Sequence[uuid.UUID]) -> Snapshot:
    """The images that carry at least one selected tag, with their selected tags and regions."""
    chosen = set(selected)
    by_image: dict[uuid.UUID, tuple[list[uuid.UUID], list[dict[str, object]]]] = {}
    if domain.type is DomainType.OBJECT_DETECTION:
        rows = s.execute(
            select(ImageRegion).join(Image, Image.id == ImageRegion.image_id)
            .where(Image.project_id == project_id).order_by(ImageRegion.created)
        ).scalars()
        for r in rows:
            if r.tag_id not in chosen:
                continue
            tags, regions = by_image.setdefault(r.image_id, ([], []))
            if r.tag_id not in tags:
                tags.append(r.tag_id)
            regions.append({"regionId": str(r.id), "tagId": str(r.tag_id), "left": r.left, "top": r.top,
                            "width": r.width, "height": r.height})
    else:
        rows2 = s.execute(
            select(ImageTag.image_id, ImageTag.tag_id).join(Image, Image.id == ImageTag.image_id)
            .where(Image.project_id == project_id).order_by(ImageTag.created)
        )
        for image_id, tag_id in rows2:
            if tag_id in chosen:
                by_image.setdefault(image_id, ([], []))[0].append(tag_id)
    return [(img, tags, regions) for img, (tags, regions) in by_image.items()]


def _negative_images(s: Session, tags: dict[uuid.UUID, Tag], selected: Sequence[uuid.UUID]) -> int:
    """How many images carry a selected Negative tag (an image-level tag, so never in a detection snapshot)."""
    negative = [t for t in selected if tags[t].type == TagType.NEGATIVE.value]
    if not negative:
        return 0
    return int(s.scalar(select(func.count()).select_from(ImageTag).where(ImageTag.tag_id.in_(negative))) or 0)


def _validate(domain: Domain, classification_type: str | None, tags: dict[uuid.UUID, Tag],
              selected: Sequence[uuid.UUID], snapshot: Snapshot, *, negative_images: int) -> None:
    counts = Counter(t for _img, tag_ids, _r in snapshot for t in tag_ids)
    if domain.type is DomainType.OBJECT_DETECTION:
        code = "BadRequestDetectionTrainingValidationFailed"
        if negative_images:
            raise _fail("BadRequestDetectionTrainingNotAllowNegativeTag",
                        "Object detection training does not use the Negative tag; remove it from the selection.")
        minimum = MIN_IMAGES_PER_TAG_DETECTION
        used = [t for t in selected if counts.get(t)]
        if not used:
            raise _fail(code, "Not enough images for training: no image has a region of a selected tag.")
    else:
        code = ("BadRequestMultiLabelClassificationTrainingValidationFailed"
                if classification_type == ClassificationType.MULTILABEL.value
                else "BadRequestMultiClassClassificationTrainingValidationFailed")
        minimum = MIN_IMAGES_PER_TAG_CLASSIFICATION
        used = [t for t in selected if counts.get(t)]
        regular = [t for t in used if tags[t].type != TagType.NEGATIVE.value]
        if not regular:
            raise _fail("BadRequestClassificationTrainingValidationFailed",
                        "Not enough images for training: tag at least 5 images with a non-negative tag.")
        if len(used) < 2:
            raise _fail("BadRequestClassificationTrainingValidationFailed",
                        "Training needs at least 2 tags with images each (a Negative tag counts as one).")
        if classification_type != ClassificationType.MULTILABEL.value:
            multi = sum(1 for _img, tag_ids, _r in snapshot if len(tag_ids) > 1)
            if multi:
                raise _fail(code, f"{multi} image(s) carry more than one tag, which a Multiclass project "
                                  "does not allow; untag them or make the project Multilabel.")
    short = [tags[t].name for t in used if counts[t] < minimum]
    if short:
        raise _fail(code, f"Not enough images for training: each tag needs at least {minimum} images; "
                          f"too few for: {', '.join(sorted(short))}.")


def training_in_progress(s: Session, project_id: uuid.UUID) -> bool:
    n = s.scalar(select(func.count()).select_from(Iteration).where(
        Iteration.project_id == project_id, Iteration.status == IterationStatus.TRAINING.value))
    return bool(n)
