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
            img.load()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            ImageCreateStatus.ERROR_IMAGE_FORMAT, f"The data is not a readable image: {exc}"
        ) from exc

    oriented = ImageOps.exif_transpose(img)
    width, height = oriented.size
    rgb = oriented if oriented.mode == "RGB" else oriented.convert("RGB")
    ext = ACCEPTED_FORMATS[fmt]

    resized, resized_fmt = _resized_copy(rgb, fmt, oriented is not img, img.mode, width, height)
    thumb = rgb.copy()
    thumb.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=80)
    return IngestedImage(
        original=data,
        format=ext,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        resized=resized,
        resized_format=resized_fmt,
        thumbnail=buf.getvalue(),
    )


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


def _resized_copy(
    rgb: Image.Image, fmt: str, rotated: bool, mode: str, width: int, height: int
) -> tuple[bytes | None, str]:
    short, long_ = min(width, height), max(width, height)
    scale = 1.0
    if short < MIN_SIDE_PX:
        scale = MIN_SIDE_PX / short
    if long_ * scale > RESIZED_MAX_SIDE:
        scale = RESIZED_MAX_SIDE / long_
    fits = scale == 1.0 and not rotated and mode == "RGB" and fmt in ("JPEG", "PNG")
    if fits:
        return None, "jpg" if fmt == "JPEG" else "png"
    out = rgb
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        out = rgb.resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=92)
    return buf.getvalue(), "jpg"


def decode_rgb(data: bytes) -> Image.Image:
    """Decode stored image bytes to an RGB image with EXIF orientation applied."""
    img = Image.open(io.BytesIO(data))
    img.seek(0)
    img = ImageOps.exif_transpose(img)
    return img if img.mode == "RGB" else img.convert("RGB")
