"""Image-level augmentation for training views (Pillow only).

Augmented views are made once per training image and pushed through the frozen trunk when features
are cached (see :mod:`ownvision.ml.features`), so augmentation costs one trunk pass per view rather
than one per epoch. Every view goes through the same :func:`ownvision.imaging.preprocess` as
evaluation inputs afterwards.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageEnhance

# View 0 is the evaluation view and view 1 its mirror image; views >= 2 are random.
EVAL_VIEW = 0
FLIP_VIEW = 1


def hflip(image: Image.Image) -> Image.Image:
    """Mirror an image left-right."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def random_resized_crop(
    image: Image.Image,
    rng: np.random.Generator,
    *,
    scale: tuple[float, float] = (0.4, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Image.Image:
    """Crop a random region covering ``scale`` of the area with aspect ratio in ``ratio``.

    The crop is returned at its original resolution; preprocessing resizes it afterwards.
    """
    w, h = image.size
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x0 = int(rng.integers(0, w - cw + 1))
            y0 = int(rng.integers(0, h - ch + 1))
            return image.crop((x0, y0, x0 + cw, y0 + ch))
    return image


def color_jitter(image: Image.Image, rng: np.random.Generator, strength: float = 0.2) -> Image.Image:
    """Randomly scale brightness, contrast and saturation by ``1 +- strength``."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(float(rng.uniform(1 - strength, 1 + strength)))
    return image


def make_view(image: Image.Image, view: int, rng: np.random.Generator) -> Image.Image:
    """Return training view number ``view`` of an RGB image.

    Args:
        image: Upright RGB image.
        view: ``0`` the image itself, ``1`` its mirror, ``>= 2`` a random crop, flip and colour jitter.
        rng: Source of randomness for random views.
    """
    if view == EVAL_VIEW:
        return image
    if view == FLIP_VIEW:
        return hflip(image)
    out = random_resized_crop(image, rng)
    if rng.random() < 0.5:
        out = hflip(out)
    return color_jitter(out, rng)
