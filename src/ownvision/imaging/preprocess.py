"""Image decoding and preprocessing shared by training and inference (Pillow + numpy, no torch).

Training computes every evaluation-time input with :func:`preprocess`, and the server's
:class:`~ownvision.inference.ModelRunner` calls the same function with the same
:class:`PreprocessSpec` (stored beside the ONNX model), so a published model sees exactly the pixels
it was validated on.

Resize policy (chosen by measurement, see ``bench/ml_classification.py``): ``"squash"`` resizes the
whole image to ``input_size x input_size`` (bicubic), ignoring the aspect ratio. On clothing-small
(portrait 400x534 product photos), frozen EfficientNet-Lite2 features plus a logistic head with 30
images per class scored 88.2% with squash against 87.2% with the ImageNet centre crop (shorter side to
``input_size / 0.875``, central square), averaged over three draws on the validation split (341
images). A centre crop throws away the top and bottom of portrait photos, where the distinguishing
part (a collar, a hem, shoes) often lies; Custom Vision users also tend to frame the object loosely
and expect the whole picture to count. ``"center_crop"`` and ``"letterbox"`` (pad to a square with
grey, keeping the aspect ratio) remain available.

Normalisation: the EfficientNet-Lite weights expect RGB in 0-255 mapped by ``(x - 127) / 128``;
ImageNet mean/std lowers their accuracy.

Example:
    >>> from PIL import Image
    >>> spec = PreprocessSpec(input_size=224)
    >>> preprocess(Image.new("RGB", (640, 480), "red"), spec).shape
    (3, 224, 224)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ResizeMode = Literal["squash", "center_crop", "letterbox"]
RESIZE_MODES: tuple[str, ...] = ("squash", "center_crop", "letterbox")

# Pillow refuses images above ~179 M pixels with DecompressionBombError; keep its default guard.
_LETTERBOX_FILL = (127, 127, 127)  # maps to ~0 after (x - 127) / 128


@dataclass(frozen=True)
class PreprocessSpec:
    """How an RGB image becomes a network input.

    Attributes:
        input_size: Side of the square network input, in pixels (H = W = input_size).
        resize_mode: ``"squash"`` (whole image to a square, aspect ratio ignored), ``"center_crop"``
            (shorter side to ``input_size / crop_fraction``, then the central square) or
            ``"letterbox"`` (longer side to ``input_size``, padded with grey to a square).
        crop_fraction: Fraction of the resized shorter side kept by ``"center_crop"``.
        mean: Per-channel value subtracted from RGB in 0-255.
        std: Per-channel divisor applied after subtracting ``mean``.
    """

    input_size: int = 224
    resize_mode: ResizeMode = "squash"
    crop_fraction: float = 0.875
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)

    def __post_init__(self) -> None:
        if not isinstance(self.input_size, int) or not 16 <= self.input_size <= 2048:
            raise ValueError(f"input_size must be an int in [16, 2048], got {self.input_size!r}")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {self.resize_mode!r}")
        if not 0.0 < self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction!r}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"mean and std need 3 values each, got {self.mean!r} and {self.std!r}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std values must be positive, got {self.std!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict; :meth:`from_dict` inverts it."""
        d = asdict(self)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        """Build a spec from :meth:`to_dict` output; unknown keys are rejected."""
        unknown = set(data) - {"input_size", "resize_mode", "crop_fraction", "mean", "std"}
        if unknown:
            raise ValueError(f"unknown PreprocessSpec keys: {sorted(unknown)}")
        kwargs = dict(data)
        for key in ("mean", "std"):
            if key in kwargs:
                kwargs[key] = tuple(float(v) for v in kwargs[key])
        return cls(**kwargs)


def load_image(source: str | Path | bytes | BinaryIO) -> Image.Image:
    """Decode an image file (JPEG/PNG/BMP/WebP/GIF...) to an upright RGB image.

    Applies the EXIF orientation and flattens transparency onto white.

    Args:
        source: A path, the encoded bytes, or a binary file object.

    Returns:
        A fully loaded ``RGB`` image.

    Raises:
        ValueError: If the data cannot be decoded as an image.
    """
    fp: str | Path | BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with Image.open(fp) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        name = source if isinstance(source, str | Path) else "image data"
        raise ValueError(f"cannot decode {name} as an image: {exc}") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparent pixels onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits before converting, Pillow would clip instead.
        arr = np.asarray(image, dtype=np.float64)
        peak = max(float(arr.max()), 1.0)
        scale = 255.0 / (65535.0 if peak > 255 else 255.0)
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def resize(image: Image.Image, spec: PreprocessSpec) -> Image.Image:
    """Resize (and crop or pad) an RGB image to ``spec.input_size`` squared, bicubic."""
    size = spec.input_size
    w, h = image.size
    if w < 1 or h < 1:
        raise ValueError(f"image has an empty size {image.size}")
    if spec.resize_mode == "squash":
        return image.resize((size, size), Image.Resampling.BICUBIC)
    if spec.resize_mode == "center_crop":
        short = size / spec.crop_fraction
        scale = short / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        resized = image.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        return resized.crop((left, top, left + size, top + size))
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = image.resize((nw, nh), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (size, size), _LETTERBOX_FILL)
    canvas.paste(resized, ((size - nw) // 2, (size - nh) // 2))
    return canvas


def normalize(pixels: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Map uint8 RGB ``[H, W, 3]`` to the normalised float32 network layout ``[3, H, W]``."""
    # One conversion into a contiguous [3, H, W] buffer, then in-place arithmetic: the same numbers as
    # ``(x - mean) / std``, a few times faster (this runs on every prediction).
    x = np.empty((3, *pixels.shape[:2]), dtype=np.float32)
    np.copyto(x, pixels.transpose(2, 0, 1), casting="unsafe")
    x -= np.asarray(spec.mean, dtype=np.float32).reshape(3, 1, 1)
    x /= np.asarray(spec.std, dtype=np.float32).reshape(3, 1, 1)
    return x


def preprocess(image: Image.Image, spec: PreprocessSpec) -> np.ndarray:
    """Turn one image into a network input.

    Args:
        image: Any Pillow image; it is converted to RGB first (EXIF orientation is the caller's job,
            :func:`load_image` does it).
        spec: The preprocessing recipe of the model.

    Returns:
        float32 array ``[3, H, W]`` with ``H = W = spec.input_size``.
    """
    rgb = resize(to_rgb(image), spec)
    return normalize(np.asarray(rgb, dtype=np.uint8), spec)


def preprocess_batch(images: Sequence[Image.Image], spec: PreprocessSpec) -> np.ndarray:
    """Preprocess several images into one batch.

    Args:
        images: Pillow images (any mode, any size).
        spec: The preprocessing recipe of the model.

    Returns:
        float32 array ``[N, 3, H, W]``; ``[0, 3, H, W]`` for an empty list.
    """
    size = spec.input_size
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        out[i] = preprocess(image, spec)
    return out
