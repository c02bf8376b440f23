"""Request bodies of the wire format (pydantic models, camelCase) and the image upload readers."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from python_multipart.multipart import MultipartParser, parse_options_header

from .. import errors
from ..services.images import RegionIn
from .deps import read_body

M = TypeVar("M", bound=BaseModel)

# Content types an image upload may come as ("": none given); image/* is accepted too.
_IMAGE_BODY_TYPES = ("", "multipart/form-data", "application/octet-stream")


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class RegionBody(Body):
    tag_id: uuid.UUID = Field(alias="tagId")
    left: float
    top: float
    width: float
    height: float

    def to_region(self) -> RegionIn:
        return RegionIn(self.tag_id, self.left, self.top, self.width, self.height)


class ImageFileEntry(Body):
    name: str | None = None
    contents: str | None = None
    tag_ids: list[uuid.UUID] | None = Field(None, alias="tagIds")
    regions: list[RegionBody] | None = None


class ImageFileBatch(Body):
    images: list[ImageFileEntry] | None = None
    tag_ids: list[uuid.UUID] | None = Field(None, alias="tagIds")
    metadata: dict[str, str] | None = None


class ImageUrlEntry(Body):
    url: str | None = None
    tag_ids: list[uuid.UUID] | None = Field(None, alias="tagIds")
    regions: list[RegionBody] | None = None


class ImageUrlBatch(Body):
    images: list[ImageUrlEntry] | None = None
    tag_ids: list[uuid.UUID] | None = Field(None, alias="tagIds")
    metadata: dict[str, str] | None = None


class ImageIdEntry(Body):
    id: uuid.UUID | None = None
    tag_ids: list[uuid.UUID] | None = Field(None, alias="tagIds")
    regions: list[RegionBody] | None = None


class ImageIdBatch(Body):
    images: list[ImageIdEntry] | None = None
    tag_ids: list[uuid.UUID] | None = Field(None, alias="tagIds")
    metadata: dict[str, str] | None = None


class ImageTagEntry(Body):
    image_id: uuid.UUID = Field(alias="imageId")
    tag_id: uuid.UUID = Field(alias="tagId")


class ImageTagBatch(Body):
    tags: list[ImageTagEntry] | None = None


class ImageRegionEntry(Body):
    image_id: uuid.UUID = Field(alias="imageId")
    tag_id: uuid.UUID = Field(alias="tagId")
    left: float
    top: float
    width: float
    height: float


class ImageRegionBatch(Body):
    regions: list[ImageRegionEntry] | None = None


class ImageUrlBody(Body):
    url: str | None = None


class CreateProjectOptionsBody(Body):
    """CreateProject's optional body (v3.4-preview); v3.3 callers send these as query parameters."""

    export_model_container_uri: str | None = Field(None, alias="exportModelContainerUri")
    notification_queue_uri: str | None = Field(None, alias="notificationQueueUri")


class ImageProcessingSettingsBody(Body):
    augmentation_methods: dict[str, bool] | None = Field(None, alias="augmentationMethods")


class ProjectSettingsBody(Body):
    domain_id: uuid.UUID | None = Field(None, alias="domainId")
    classification_type: str | None = Field(None, alias="classificationType")
    target_export_platforms: list[str] | None = Field(None, alias="targetExportPlatforms")
    image_processing_settings: ImageProcessingSettingsBody | None = Field(None, alias="imageProcessingSettings")


class ProjectBody(Body):
    """UpdateProject's body: the SDK sends a whole Project; read-only fields are ignored."""

    name: str | None = None
    description: str | None = None
    settings: ProjectSettingsBody | None = None


class TagBody(Body):
    """UpdateTag's body: the SDK sends a whole Tag; ``id`` and ``imageCount`` are ignored."""

    name: str | None = None
    description: str | None = None
    type: str | None = None


def present(model: BaseModel) -> dict[str, Any]:
    """The fields the client sent with a value, camelCase, as plain JSON types (null means "keep")."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def validate(model: type[M], data: Any) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise errors.BadRequest("BadRequest", "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ()))
        raise errors.BadRequest("BadRequest", f"Invalid request body at {loc or 'top level'}: {first.get('msg')}.") from exc


def decode_base64(text: str | None) -> bytes | None:
    """Standard base64 (what the SDK sends); line breaks, URL-safe letters and missing padding are
    tolerated. None when ``text`` is None or not base64."""
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    cleaned = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


async def read_image_parts(request: Request, *, max_parts: int) -> list[bytes]:
    """Images in a request body: multipart/form-data parts (any field name), or the raw body.

    The SDK sends one part named ``imageData`` without a filename. The parts are read as bytes
    (Starlette's form parser would decode unnamed parts as text and cap them at 1 MB).
    """
    ctype_header = request.headers.get("content-type", "")
    ctype, params = parse_options_header(ctype_header)
    ctype_s = ctype.decode("latin-1").lower() if isinstance(ctype, bytes) else str(ctype).lower()
    if ctype_s not in _IMAGE_BODY_TYPES and not ctype_s.startswith("image/"):
        raise errors.UnsupportedMediaType(
            "UnsupportedMediaType",
            f"Send the image as multipart/form-data or application/octet-stream, not {ctype_s[:60]}.",
        )
    body = await read_body(request)
    if ctype_s == "multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise errors.BadRequest("BadRequestImageStream", "The multipart body has no boundary.")
        parts: list[bytearray] = []

        def on_part_begin() -> None:
            if len(parts) >= max_parts:
                raise errors.BadRequest(
                    "BadRequestExceededBatchSize", f"A request may hold at most {max_parts} images."
                )
            parts.append(bytearray())

        def on_part_data(data: bytes, start: int, end: int) -> None:
            parts[-1] += data[start:end]

        parser = MultipartParser(boundary, {"on_part_begin": on_part_begin, "on_part_data": on_part_data})
        try:
            parser.write(body)
            parser.finalize()
        except errors.OwnVisionError:
            raise
        except Exception as exc:
            raise errors.BadRequest("BadRequestImageStream", f"The multipart body is malformed: {exc}") from exc
        images = [bytes(p) for p in parts if p]
        if not images:
            raise errors.BadRequest("BadRequestImageStream", "The multipart body holds no image.")
        return images
    if not body:
        raise errors.BadRequest("BadRequestImageStream", "The request body holds no image.")
    return [body]
