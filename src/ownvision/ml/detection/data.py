"""Training data for the detector: network inputs, box targets, the trunk-feature cache and batches.

Every image is squashed to the network input ``(H, W)`` (bicubic, aspect ratio ignored, as at serving
time) and normalised with :func:`ownvision.imaging.normalize`. Boxes arrive normalised
``(left, top, width, height)`` and become input-pixel ``(x0, y0, x1, y1)``.

The frozen trunk runs once per image (and per real flip in ``views``); its maps are kept in float16.
Batches then flip the cached maps (when the flip was not cached for real) together with the boxes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ownvision.imaging import PreprocessSpec, normalize, to_rgb

Box = tuple[float, float, float, float]

# Views of an image that the cache can hold: (horizontal flip, vertical flip).
VIEWS: tuple[tuple[bool, bool], ...] = ((False, False), (True, False), (False, True), (True, True))

# Boxes smaller than this many input pixels on a side carry no usable signal.
MIN_BOX_PIXELS = 1.0


def network_input(image: Image.Image, input_hw: tuple[int, int], norm: PreprocessSpec) -> np.ndarray:
    """Resize an image to the network input and normalise it.

    Args:
        image: Any Pillow image (EXIF orientation already applied).
        input_hw: ``(H, W)`` of the network input.
        norm: Supplies ``mean`` and ``std``.

    Returns:
        float32 ``[3, H, W]``.
    """
    h, w = input_hw
    rgb = to_rgb(image).resize((w, h), Image.Resampling.BICUBIC)
    return normalize(np.asarray(rgb, dtype=np.uint8), norm)


def boxes_to_pixels(boxes: Sequence[Box], labels: Sequence[int], input_hw: tuple[int, int]) -> dict[str, torch.Tensor]:
    """Normalised ``(left, top, width, height)`` boxes -> an FCOS target in input pixels.

    Boxes are clipped to the image; those thinner than :data:`MIN_BOX_PIXELS` are dropped.

    Returns:
        ``{"boxes": float32 [M, 4] (x0, y0, x1, y1), "labels": int64 [M]}``.
    """
    h, w = input_hw
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xyxy = np.stack([arr[:, 0], arr[:, 1], arr[:, 0] + arr[:, 2], arr[:, 1] + arr[:, 3]], axis=1)
    xyxy = np.clip(xyxy, 0.0, 1.0) * np.array([w, h, w, h])
    keep = ((xyxy[:, 2] - xyxy[:, 0]) >= MIN_BOX_PIXELS) & ((xyxy[:, 3] - xyxy[:, 1]) >= MIN_BOX_PIXELS)
    return {
        "boxes": torch.from_numpy(xyxy[keep]).float(),
        "labels": torch.as_tensor(np.asarray(labels, dtype=np.int64).reshape(-1)[keep]),
    }


def flip_target(target: dict[str, torch.Tensor], input_hw: tuple[int, int], hflip: bool, vflip: bool) -> dict[str, torch.Tensor]:
    """Mirror a target's boxes like the image (``[M, 4]`` pixel boxes)."""
    boxes = target["boxes"].clone()
    h, w = input_hw
    if hflip:
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    if vflip:
        boxes[:, [1, 3]] = h - boxes[:, [3, 1]]
    return {"boxes": boxes, "labels": target["labels"]}


def flip_maps(maps: list[torch.Tensor], hflip: bool, vflip: bool) -> list[torch.Tensor]:
    """Mirror feature maps ``[..., h, w]`` (an approximation of mirroring the image before the trunk)."""
    dims = ([-1] if hflip else []) + ([-2] if vflip else [])
    return [torch.flip(m, dims) for m in maps] if dims else maps


@dataclass
class FeatureCache:
    """Trunk outputs of the training images.

    Attributes:
        maps: ``maps[i][v]`` is the list of float16 maps ``[C_l, h_l, w_l]`` of image ``i`` in view
            ``views[v]``.
        views: The ``(hflip, vflip)`` views that were computed through the trunk for real.
        targets: Per image, the FCOS target of the unflipped view.
        input_hw: Network input ``(H, W)``.
    """

    maps: list[list[list[torch.Tensor]]]
    views: tuple[tuple[bool, bool], ...]
    targets: list[dict[str, torch.Tensor]]
    input_hw: tuple[int, int]

    def nbytes(self) -> int:
        return sum(m.numel() * m.element_size() for per_image in self.maps for view in per_image for m in view)


def build_cache(
    images: Sequence[Callable[[], Image.Image]],
    targets: list[dict[str, torch.Tensor]],
    trunk: torch.nn.Module,
    input_hw: tuple[int, int],
    norm: PreprocessSpec,
    *,
    views: tuple[tuple[bool, bool], ...] = VIEWS[:1],
    batch_size: int = 8,
    check: Callable[[], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    deadline: float | None = None,
) -> FeatureCache:
    """Run the frozen trunk over every image (and real flipped views) once.

    Args:
        images: Loaders, one per training image.
        targets: FCOS targets of the unflipped images.
        trunk: Frozen :class:`~ownvision.ml.detection.network.Trunk`.
        input_hw: Network input ``(H, W)``.
        norm: Normalisation.
        views: Which ``(hflip, vflip)`` views to compute for real.
        batch_size: Images per trunk call.
        check: Called between batches (raise there to cancel).
        on_batch: Called with the number of images done so far.
        deadline: ``time.monotonic()`` value after which no further batch starts; the cache then
            holds the first images only (``len(cache.maps) < len(images)``).
    """
    maps: list[list[list[torch.Tensor]]] = []
    trunk.eval()
    for start in range(0, len(images), batch_size):
        if check is not None:
            check()
        if deadline is not None and start > 0 and time.monotonic() > deadline:
            break
        chunk = [network_input(load(), input_hw, norm) for load in images[start : start + batch_size]]
        x = torch.from_numpy(np.stack(chunk))
        per_view: list[list[torch.Tensor]] = []
        with torch.no_grad():
            for hflip, vflip in views:
                dims = ([-1] if hflip else []) + ([-2] if vflip else [])
                per_view.append([m.half() for m in trunk(torch.flip(x, dims) if dims else x)])
        for j in range(len(chunk)):
            maps.append([[m[j].clone() for m in view] for view in per_view])
        if on_batch is not None:
            on_batch(len(maps))
    return FeatureCache(maps=maps, views=views, targets=targets[: len(maps)], input_hw=input_hw)


def make_batch(
    cache: FeatureCache, indices: Sequence[int], rng: np.random.Generator, *, hflip: bool = True, vflip: bool = False
) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Assemble a randomly flipped training batch from the cache.

    Args:
        cache: The feature cache.
        indices: Images of the batch.
        rng: Randomness for the flips.
        hflip: Mirror left-right with probability 0.5.
        vflip: Mirror top-bottom with probability 0.5.

    Returns:
        ``(maps, targets)``: float32 maps ``[B, C_l, h_l, w_l]`` per cached level and one target per image.
    """
    levels: list[list[torch.Tensor]] = []
    targets: list[dict[str, torch.Tensor]] = []
    for i in indices:
        want = (bool(hflip and rng.random() < 0.5), bool(vflip and rng.random() < 0.5))
        if want in cache.views:
            maps = cache.maps[i][cache.views.index(want)]
        else:
            maps = flip_maps(cache.maps[i][0], *want)
        levels.append(maps)
        targets.append(flip_target(cache.targets[i], cache.input_hw, *want))
    stacked = [torch.stack([m[lvl] for m in levels]).float() for lvl in range(len(levels[0]))]
    return stacked, targets


def stack_view(cache: FeatureCache, indices: Sequence[int]) -> list[torch.Tensor]:
    """Float32 maps of the unflipped view of ``indices`` (for prediction)."""
    return [torch.stack([cache.maps[i][0][lvl] for i in indices]).float() for lvl in range(len(cache.maps[indices[0]][0]))]
