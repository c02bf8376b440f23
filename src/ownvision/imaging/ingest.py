"""Checking an uploaded image and making its resized copy and thumbnail (Pillow, no torch).

Custom Vision's rules: JPEG, PNG, BMP, GIF (first frame) and WebP; at most 6 MB for training
(4 MB for prediction); at most 10,240 px on a side and 25:1 in aspect; images under 256 px on the
shorter side are accepted and upscaled for training.

The *resized* copy is what training reads: EXIF orientation applied, RGB, shorter side at least
256 px and longer side at most ``RESIZED_MAX_SIDE``. When the original already is such an image (a
plain RGB JPEG or PNG of fitting size) no copy is made and the original serves as the resized image.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from ..domain.enums import ImageCreateStatus
from ..domain.limits import MAX_ASPECT_RATIO, MAX_SIDE_PX, MIN_SIDE_PX
from .preprocess import to_rgb

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp", "GIF": "gif", "WEBP": "webp", "MPO": "jpg"}
RESIZED_MAX_SIDE = 1600
THUMBNAIL_SIZE = (256, 256)

# We check the declared size before decoding, so Pillow's own bomb check only needs to allow our limit.
Image.MAX_IMAGE_PIXELS = MAX_SIDE_PX * MAX_SIDE_PX


class ImageRejected(Exception):
    """The bytes are not an image we accept; ``status`` is the per-image Custom Vision outcome."""

    def __init__(self, status: ImageCreateStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class IngestedImage:
    original: bytes
    format: str  # file extension: jpg, png, bmp, gif, webp
    width: int  # after EXIF orientation
    height: int
    sha256: str
    resized: bytes | None  # None: the original is fit for training as it is
    resized_format: str
    thumbnail: bytes


def check_and_prepare(data: bytes, *, max_bytes: int) -> IngestedImage:
    """Validate ``data`` and prepare the copies the server stores.

    Raises:
        ImageRejected: with ``ErrorImageSize``, ``ErrorImageFormat`` or ``ErrorImageDimensions``.
    """
    if len(data) == 0:
        raise ImageRejected(ImageCreateStatus.ERROR_IMAGE_FORMAT, "The image is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(
            ImageCreateStatus.ERROR_IMAGE_SIZE,
            f"The image is {len(data)} bytes; the limit is {max_bytes} bytes.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or ""
            if fmt not in ACCEPTED_FORMATS:
                raise ImageRejected(
                    ImageCreateStatus.ERROR_IMAGE_FORMAT,
                    f"Unsupported image format {fmt or 'unknown'}; use JPEG, PNG, BMP, GIF or WebP.",
                )
            _check_dimensions(*img.size)
            img.seek(0)
            stored_w, stored_h = img.size
            scale = _training_scale(stored_w, stored_h)
            # The original serves as the resized copy when it already is a fitting RGB JPEG or PNG.
            keep = scale == 1.0 and img.mode == "RGB" and fmt in ("JPEG", "MPO", "PNG") and _orientation(img) == 1
            if keep and fmt in ("JPEG", "MPO"):
                # Only the thumbnail is made from the pixels: let libjpeg decode at 1/2, 1/4 or 1/8 scale.
                # Every coefficient is still read, so a truncated or corrupt file is still refused.
                img.draft("RGB", _thumbnail_size(stored_w, stored_h))
            img.load()
            if keep and _orientation(img) == 1:  # PNG may carry its EXIF after the pixels
                resized, resized_fmt, width, height = None, "png" if fmt == "PNG" else "jpg", stored_w, stored_h
                thumb_src: Image.Image = img
            else:
                rgb = to_rgb(ImageOps.exif_transpose(img))
                width, height = rgb.size
                resized, resized_fmt, thumb_src = _resized_copy(rgb, _training_scale(width, height))
            thumb_src.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)  # in place
            buf = io.BytesIO()
            thumb_src.save(buf, "JPEG", quality=80)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            ImageCreateStatus.ERROR_IMAGE_FORMAT, f"The data is not a readable image: {exc}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - Pillow's errors on hostile files are open-ended (struct, KeyError...)
        raise ImageRejected(
            ImageCreateStatus.ERROR_IMAGE_FORMAT, f"The image could not be decoded: {type(exc).__name__}: {exc}"
        ) from exc
    return IngestedImage(
        original=data,
        format=ACCEPTED_FORMATS[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        resized=resized,
        resized_format=resized_fmt,
        thumbnail=buf.getvalue(),
    )


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1: as stored)."""
    value = img.getexif().get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _training_scale(width: int, height: int) -> float:
    """Scale that brings the shorter side to at least 256 px and the longer to at most RESIZED_MAX_SIDE."""
    short, long_ = min(width, height), max(width, height)
    scale = 1.0
    if short < MIN_SIDE_PX:
        scale = MIN_SIDE_PX / short
    if long_ * scale > RESIZED_MAX_SIDE:
        scale = RESIZED_MAX_SIDE / long_
    return scale


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    s = min(THUMBNAIL_SIZE[0] / width, THUMBNAIL_SIZE[1] / height, 1.0)
    return max(1, round(width * s)), max(1, round(height * s))


def _check_dimensions(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ImageRejected(ImageCreateStatus.ERROR_IMAGE_DIMENSIONS, "The image has no pixels.")
    if max(width, height) > MAX_SIDE_PX:
        raise ImageRejected(
            ImageCreateStatus.ERROR_IMAGE_DIMENSIONS,
            f"The image is {width}x{height} px; at most {MAX_SIDE_PX} px on a side is accepted.",
        )
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageRejected(
            ImageCreateStatus.ERROR_IMAGE_DIMENSIONS,
            f"The image is {width}x{height} px; the aspect ratio may be at most 25:1.",
        )


def _resized_copy(rgb: Image.Image, scale: float) -> tuple[bytes, str, Image.Image]:
    """The training copy (JPEG) of an oriented RGB image, and the smaller of it and ``rgb`` for the thumbnail."""
    out = rgb
    if scale != 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        out = rgb.resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=92)
    return buf.getvalue(), "jpg", out if out.width < rgb.width else rgb
