"""One streaming pass over the training images that caches frozen-trunk outputs and pooled features.

Each image is decoded once; its views (see :mod:`ownvision.ml.augment`) go through
:func:`ownvision.imaging.preprocess`, the frozen trunk and the pretrained tail. The pooled features
feed the linear head (Regular); the trunk maps, kept in float16, let Advanced fine-tune the tail for
many epochs without touching the trunk again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ownvision.imaging import PreprocessSpec, load_image, preprocess_batch
from ownvision.ml.augment import make_view


@dataclass
class FeatureCache:
    """Cached activations of N images in V views.

    Attributes:
        features: float32 ``[V, N, D]`` pooled features from the pretrained tail.
        maps: float16 ``[V, N, Ck, h, w]`` trunk outputs, or None when not kept.
        seconds_per_image: Measured wall time of one view of one image (decode excluded).
    """

    features: torch.Tensor
    maps: torch.Tensor | None
    seconds_per_image: float


def cache_features(
    paths: Sequence[Path],
    spec: PreprocessSpec,
    trunk: nn.Module,
    tail: nn.Module,
    *,
    views: Sequence[int] = (0,),
    keep_maps: bool = False,
    seed: int = 0,
    batch_size: int = 16,
    check: Callable[[], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> FeatureCache:
    """Compute trunk maps and pooled features of every image and view.

    Args:
        paths: Image files.
        spec: Preprocessing of the model.
        trunk: Frozen ``[B, 3, H, W] -> [B, Ck, h, w]``.
        tail: ``[B, Ck, h, w] -> [B, D]`` (used in eval mode, without gradients).
        views: View numbers to compute per image (see :func:`ownvision.ml.augment.make_view`; 0 is
            the evaluation input, 1 its mirror, >= 2 random).
        keep_maps: Keep the trunk outputs (needed to fine-tune the tail).
        seed: Seed of the random views.
        batch_size: Images per forward pass.
        check: Called before each batch (raise there to cancel).
        on_batch: Called with the number of images done after each batch.

    Returns:
        The cache.

    Raises:
        ValueError: If an image cannot be decoded (the message names the file).
    """
    if not views:
        raise ValueError("views must not be empty")
    trunk.eval()
    tail.eval()
    rng = np.random.default_rng(seed)
    feats: list[list[torch.Tensor]] = [[] for _ in views]
    maps: list[list[torch.Tensor]] = [[] for _ in views]
    compute_s = 0.0
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            if check is not None:
                check()
            images = []
            for path in paths[start : start + batch_size]:
                try:
                    images.append(load_image(path))
                except ValueError as exc:
                    raise ValueError(f"training image {path} is unreadable: {exc}") from exc
                except FileNotFoundError as exc:
                    raise ValueError(f"training image {path} does not exist") from exc
            for slot, view in enumerate(views):
                batch = preprocess_batch([make_view(im, view, rng) for im in images], spec)
                tic = time.perf_counter()
                trunk_out = trunk(torch.from_numpy(batch))
                feats[slot].append(tail(trunk_out).float())
                compute_s += time.perf_counter() - tic
                if keep_maps:
                    maps[slot].append(trunk_out.to(torch.float16))
            if on_batch is not None:
                on_batch(min(start + batch_size, len(paths)))
    features = torch.stack([torch.cat(f) for f in feats])
    kept = torch.stack([torch.cat(m) for m in maps]) if keep_maps else None
    return FeatureCache(features=features, maps=kept, seconds_per_image=compute_s / max(1, len(paths) * len(views)))
