"""Synthetic image sets for classifier training tests: coloured shapes on noisy backgrounds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

SHAPES = ("red_circle", "blue_square", "green_stripes")


def draw_image(rng: np.random.Generator, shapes: tuple[str, ...], size: int | None = None) -> Image.Image:
    """An RGB image (64-112 px, random aspect) with the given shapes at random places."""
    w = size or int(rng.integers(64, 113))
    h = size or int(rng.integers(64, 113))
    noise = rng.integers(170, 256, (h, w, 3), dtype=np.uint8)
    image = Image.fromarray(noise, "RGB")
    draw = ImageDraw.Draw(image)
    n = len(shapes)
    for i, shape in enumerate(shapes):
        # Multilabel images place shapes in separate vertical bands so they never hide each other.
        x_lo, x_hi = i * w // n, (i + 1) * w // n
        side = int(rng.uniform(0.5, 0.8) * min(x_hi - x_lo, h))
        x0 = int(rng.integers(x_lo, max(x_lo + 1, x_hi - side)))
        y0 = int(rng.integers(0, max(1, h - side)))
        box = (x0, y0, x0 + side, y0 + side)
        if shape == "red_circle":
            draw.ellipse(box, fill=(int(rng.integers(200, 256)), 20, 20))
        elif shape == "blue_square":
            draw.rectangle(box, fill=(20, 40, int(rng.integers(200, 256))))
        else:
            for y in range(y0, y0 + side, 6):
                draw.rectangle((x0, y, x0 + side, y + 2), fill=(20, int(rng.integers(150, 220)), 20))
    return image


@dataclass
class ImageSet:
    """Training files on disk plus held-out images in memory."""

    paths: list[Path]
    labels: list[tuple[int, ...]]
    test_images: list[Image.Image]
    test_labels: list[tuple[int, ...]]


def make_multiclass(root: Path, *, per_class: int = 10, test_per_class: int = 4, seed: int = 0) -> ImageSet:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    paths, labels, test_images, test_labels = [], [], [], []
    for cls, shape in enumerate(SHAPES):
        for i in range(per_class):
            path = root / f"{shape}_{i}.{('jpg', 'png')[i % 2]}"
            draw_image(rng, (shape,)).save(path)
            paths.append(path)
            labels.append((cls,))
        for _ in range(test_per_class):
            test_images.append(draw_image(rng, (shape,)))
            test_labels.append((cls,))
    return ImageSet(paths, labels, test_images, test_labels)


def make_multilabel(root: Path, *, per_subset: int = 3, seed: int = 1) -> ImageSet:
    """Every non-empty subset of the shapes, ``per_subset`` training images each (21 in all)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    subsets = [tuple(c for c in range(3) if mask >> c & 1) for mask in range(1, 8)]
    paths, labels, test_images, test_labels = [], [], [], []
    for subset in subsets:
        shapes = tuple(SHAPES[c] for c in subset)
        for i in range(per_subset):
            path = root / f"{'-'.join(shapes)}_{i}.png"
            draw_image(rng, shapes, size=96).save(path)
            paths.append(path)
            labels.append(subset)
        test_images.append(draw_image(rng, shapes, size=96))
        test_labels.append(subset)
    return ImageSet(paths, labels, test_images, test_labels)


@pytest.fixture(scope="session")
def multiclass_set(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    return make_multiclass(tmp_path_factory.mktemp("multiclass"))


@pytest.fixture(scope="session")
def multilabel_set(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    return make_multilabel(tmp_path_factory.mktemp("multilabel"))
