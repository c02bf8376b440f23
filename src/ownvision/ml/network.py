"""The classifier network: a backbone split into a frozen trunk and a tail, plus a linear head.

Training caches the trunk's output once and only runs the tail (Advanced fine-tunes it) and the head
on the cache; the exported model chains all three and ends with softmax or sigmoid.

    image [B, 3, H, W] -> trunk -> maps [B, Ck, H/s, W/s] -> tail -> features [B, D] -> head -> [B, C]
"""

from __future__ import annotations

import torch
from torch import nn


def split_efficientnet(backbone: nn.Module, at_block: int) -> tuple[nn.Module, nn.Module]:
    """Split a timm EfficientNet (classifier removed) before ``blocks[at_block]``.

    Args:
        backbone: Model from :func:`ownvision.ml.backbones.create_backbone`.
        at_block: First block of the tail, ``0 <= at_block <= len(blocks)``.

    Returns:
        ``(trunk, tail)``: ``trunk`` maps ``[B, 3, H, W] -> [B, Ck, h, w]`` and ``tail`` maps those
        maps to pooled features ``[B, D]``; ``tail(trunk(x))`` equals ``backbone(x)``. The modules
        share parameters with ``backbone``.
    """
    blocks = backbone.blocks
    if not 0 <= at_block <= len(blocks):
        raise ValueError(f"at_block must be in [0, {len(blocks)}], got {at_block}")
    trunk = nn.Sequential(backbone.conv_stem, backbone.bn1, *blocks[:at_block])
    tail = nn.Sequential(*blocks[at_block:], backbone.conv_head, backbone.bn2, backbone.global_pool)
    return trunk, tail


class ClassifierNetwork(nn.Module):
    """End-to-end classifier as exported to ONNX.

    Args:
        trunk: ``[B, 3, H, W] -> [B, Ck, h, w]``.
        tail: ``[B, Ck, h, w] -> [B, D]``.
        head: ``nn.Linear(D, C)``.
        multilabel: Sigmoid outputs if True, softmax otherwise.
    """

    def __init__(self, trunk: nn.Module, tail: nn.Module, head: nn.Linear, *, multilabel: bool) -> None:
        super().__init__()
        self.trunk = trunk
        self.tail = tail
        self.head = head
        self.multilabel = multilabel

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` preprocessed images -> ``[B, C]`` logits."""
        return self.head(self.tail(self.trunk(x)))  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` preprocessed images -> ``[B, C]`` probabilities."""
        logits = self.logits(x)
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=1)
