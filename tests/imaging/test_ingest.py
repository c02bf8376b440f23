"""check_and_prepare: what is accepted, what is refused with which status, and the copies it makes."""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise

import pytest
from PIL import Image

from ownvision.domain.enums import ImageCreateStatus
from ownvision.imaging.ingest import RESIZED_MAX_SIDE, ImageRejected, check_and_prepare

LIMIT = 6 * 1024 * 1024


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def picture(size: tuple[int, int], mode: str = "RGB", fmt: str = "JPEG", **kw: object) -> bytes:
    img = Image.radial_gradient("L").resize(size).convert("RGB")
    return encode(img if mode == "RGB" else img.convert(mode), fmt, **kw)


def with_orientation(data: bytes, orientation: int) -> bytes:
    img = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif.tobytes())


def with_broken_exif(data: bytes) -> bytes:
    # an APP1 "Exif" segment whose TIFF header is garbage, right after SOI
    payload = b"Exif\0\0II*\0\xff\xff\xff\x7f" + b"\x13" * 40
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + segment + data[2:]


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (300, 280), c) for c in ("red", "green")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


class _rejected(AbstractContextManager[object]):  # noqa: N801 - reads like pytest.raises in the table
    """Expect ImageRejected with this status."""

    def __init__(self, status: ImageCreateStatus) -> None:
        self.status = status

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        assert isinstance(exc, ImageRejected), f"expected {self.status}, got {exc!r}"
        assert exc.status is self.status, (exc.status, exc.message)
        return True


JPEG_640 = picture((640, 480))

# data, expected stored (width, height), whether a resized copy is made (None: refused), expectation
CASES = [
    ("rgb jpeg kept as is", JPEG_640, (640, 480), False, does_not_raise()),
    ("rgb png kept as is", picture((300, 300), fmt="PNG"), (300, 300), False, does_not_raise()),
    ("small upscaled", picture((100, 50)), (100, 50), True, does_not_raise()),
    ("large scaled down", picture((3000, 2000)), (3000, 2000), True, does_not_raise()),
    ("exif rotated", with_orientation(JPEG_640, 6), (480, 640), True, does_not_raise()),
    ("exif mirrored only", with_orientation(JPEG_640, 2), (640, 480), True, does_not_raise()),
    ("broken exif", with_broken_exif(JPEG_640), (640, 480), None, does_not_raise()),
    ("cmyk jpeg", picture((400, 300), "CMYK"), (400, 300), True, does_not_raise()),
    ("grey jpeg", picture((400, 300), "L"), (400, 300), True, does_not_raise()),
    ("palette png", picture((400, 300), "P", "PNG"), (400, 300), True, does_not_raise()),
    ("rgba png", picture((400, 300), "RGBA", "PNG"), (400, 300), True, does_not_raise()),
    ("16 bit png", picture((400, 300), "I;16", "PNG"), (400, 300), True, does_not_raise()),
    ("bmp", picture((400, 300), fmt="BMP"), (400, 300), True, does_not_raise()),
    ("webp", picture((400, 300), fmt="WEBP"), (400, 300), True, does_not_raise()),
    ("animated gif", animated_gif(), (300, 280), True, does_not_raise()),
    ("25:1", picture((2500, 100), fmt="PNG"), (2500, 100), True, does_not_raise()),
    ("26:1", picture((2600, 100), fmt="PNG"), None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_DIMENSIONS)),
    ("10241 px", picture((10241, 1000), fmt="PNG"), None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_DIMENSIONS)),
    ("over the size limit", JPEG_640 + b"\0" * LIMIT, None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_SIZE)),
    ("empty", b"", None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_FORMAT)),
    ("garbage", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_FORMAT)),
    ("truncated jpeg", JPEG_640[: len(JPEG_640) // 2], None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_FORMAT)),
    ("tiff", picture((300, 300), fmt="TIFF"), None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_FORMAT)),
    ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", None, None, _rejected(ImageCreateStatus.ERROR_IMAGE_FORMAT)),
]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("name, data, dims, resized, expectation", CASES, ids=[c[0] for c in CASES])
def test_check_and_prepare_cases(name: str, data: bytes, dims: tuple[int, int] | None, resized: bool | None,
                                 expectation: AbstractContextManager[object]) -> None:
    with expectation:
        ing = check_and_prepare(data, max_bytes=LIMIT)
        assert (ing.width, ing.height) == dims
        assert ing.original == data
        if resized is not None:
            assert (ing.resized is not None) == resized
        thumb = Image.open(io.BytesIO(ing.thumbnail))
        assert thumb.format == "JPEG" and max(thumb.size) <= 256
        assert abs(thumb.size[0] * ing.height - thumb.size[1] * ing.width) <= max(ing.width, ing.height)  # 1 px
        if ing.resized is not None:
            copy = Image.open(io.BytesIO(ing.resized))
            assert copy.mode == "RGB" and copy.format == "JPEG"
            assert copy.size[0] > copy.size[1] if ing.width > ing.height else copy.size[0] <= copy.size[1]
            assert max(copy.size) <= RESIZED_MAX_SIDE
            assert min(copy.size) >= 256 or max(copy.size) == RESIZED_MAX_SIDE


def test_check_and_prepare_same_bytes_same_digest() -> None:
    a, b = check_and_prepare(JPEG_640, max_bytes=LIMIT), check_and_prepare(bytes(JPEG_640), max_bytes=LIMIT)
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    assert check_and_prepare(picture((641, 480)), max_bytes=LIMIT).sha256 != a.sha256


def test_check_and_prepare_gif_first_frame() -> None:
    ing = check_and_prepare(animated_gif(), max_bytes=LIMIT)
    assert ing.resized is not None
    r, g, b = Image.open(io.BytesIO(ing.resized)).convert("RGB").getpixel((10, 10))
    assert r > 200 and g < 60  # red, the first frame


def test_check_and_prepare_size_limit_is_inclusive() -> None:
    assert check_and_prepare(JPEG_640, max_bytes=len(JPEG_640)).width == 640
    with _rejected(ImageCreateStatus.ERROR_IMAGE_SIZE):
        check_and_prepare(JPEG_640, max_bytes=len(JPEG_640) - 1)
