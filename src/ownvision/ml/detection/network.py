"""The detector network: EfficientNet-Lite features, a feature pyramid and an FCOS head.

The backbone is cut in two so that training can cache the part that does not learn::

    image [B, 3, H, W] -> trunk -> cached maps (block outputs up to ``cache_after``)
                       -> body  -> C3, C4, C5 (blocks 2, 4, 6: strides 8/16/32, 40/112/320 ch for Lite0)
                       -> FPN (torchvision ``FeaturePyramidNetwork``) -> P3, P4, P5 [B, width, H/s, W/s]
                       -> FCOS head (torchvision ``FCOSHead``) -> per location: class logits, box
                          distances (l, t, r, b) / stride, centre-ness logit
                       -> decode -> scores [B, N, K], boxes [B, N, 4] (normalised x0, y0, x1, y1)

``N`` is the number of feature-map locations over the three levels (``HW/64 + HW/256 + HW/1024``).
The exported graph ends at ``decode``: score thresholding, top-k and non-maximum suppression are done
by the caller (torchvision's ``FCOS.postprocess_detections`` in training, numpy in
:mod:`ownvision.inference.detector`).

Anchor points are the centres of the feature-map cells, ``((x + 0.5) * s, (y + 0.5) * s)``. torchvision's
``AnchorGenerator`` puts them at ``(x * s, y * s)``; the half-stride shift keeps a mirrored feature map
aligned with the mirrored image, which the cached-feature flips rely on.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOSHead
from torchvision.ops import FeaturePyramidNetwork

# EfficientNet block indices whose outputs feed the pyramid, and their strides.
TAPS: tuple[int, ...] = (2, 4, 6)
STRIDES: tuple[int, ...] = (8, 16, 32)


def grid_sizes(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> list[tuple[int, int]]:
    """Feature-map sizes ``(h, w)`` per level for an input of ``input_hw`` (TF "SAME" padding: ceil)."""
    h, w = input_hw
    return [(math.ceil(h / s), math.ceil(w / s)) for s in strides]


def make_anchors(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> torch.Tensor:
    """FCOS anchor boxes: one square of side ``stride`` per feature-map cell, centred on the cell.

    Args:
        input_hw: Network input ``(H, W)`` in pixels.
        strides: Stride of every pyramid level.

    Returns:
        float32 ``[N, 4]`` boxes ``(x0, y0, x1, y1)`` in input pixels, level by level, row-major.
    """
    generator = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
    generator.set_cell_anchors(torch.float32, torch.device("cpu"))
    sizes = [list(g) for g in grid_sizes(input_hw, strides)]
    steps = [[torch.tensor(s), torch.tensor(s)] for s in strides]
    levels = generator.grid_anchors(sizes, steps)
    return torch.cat([a + s / 2 for a, s in zip(levels, strides, strict=True)]).float()


class Trunk(nn.Module):
    """The frozen lower part of an EfficientNet, whose outputs are cached during training.

    Args:
        backbone: A timm EfficientNet (``ownvision.ml.backbones.create_backbone``).
        cache_after: Index of the last block in the trunk; one of :data:`TAPS`.

    ``forward``: ``[B, 3, H, W] -> [C3]`` (``cache_after=2``), ``[C3, C4]`` (4) or ``[C3, C4, C5]`` (6).
    """

    def __init__(self, backbone: nn.Module, cache_after: int) -> None:
        super().__init__()
        if cache_after not in TAPS:
            raise ValueError(f"cache_after must be one of {TAPS}, got {cache_after}")
        self.stem = nn.Sequential(backbone.conv_stem, backbone.bn1)
        self.blocks = nn.ModuleList(list(backbone.blocks)[: cache_after + 1])
        self.cache_after = cache_after

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in TAPS:
                outs.append(x)
        return outs


class Body(nn.Module):
    """The trainable upper blocks of the backbone (empty when the whole backbone is frozen).

    ``forward``: the trunk's list of maps -> ``[C3, C4, C5]``.
    """

    def __init__(self, backbone: nn.Module, cache_after: int) -> None:
        super().__init__()
        self.start = cache_after + 1
        self.blocks = nn.ModuleList(list(backbone.blocks)[self.start :])

    def forward(self, cached: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = list(cached)
        x = cached[-1]
        for i, block in enumerate(self.blocks, start=self.start):
            x = block(x)
            if i in TAPS:
                outs.append(x)
        return outs


class PyramidHead(nn.Module):
    """FPN + FCOS head on backbone maps, with the anchor points of a fixed input size.

    Args:
        in_channels: Channels of C3, C4, C5.
        num_classes: K.
        input_hw: Network input ``(H, W)``; fixes the anchors.
        width: FPN and head channels (a multiple of 32, for the head's GroupNorm).
        num_convs: Conv layers in each head tower.
    """

    def __init__(
        self, in_channels: list[int], num_classes: int, input_hw: tuple[int, int], *, width: int = 96, num_convs: int = 2
    ) -> None:
        super().__init__()
        self.fpn = FeaturePyramidNetwork(in_channels, width)
        self.head = FCOSHead(width, 1, num_classes, num_convs=num_convs)
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        self.input_hw = input_hw
        self.num_classes = num_classes
        self.register_buffer("anchors", make_anchors(input_hw), persistent=False)
        self.level_sizes = [h * w for h, w in grid_sizes(input_hw)]

    def forward(self, features: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``[C3, C4, C5]`` -> raw FCOS outputs ``cls_logits`` [B, N, K], ``bbox_regression`` [B, N, 4]
        (distances / stride, >= 0) and ``bbox_ctrness`` [B, N, 1]."""
        pyramid = list(self.fpn({str(i): f for i, f in enumerate(features)}).values())
        return self.head(pyramid)  # type: ignore[no-any-return]

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw outputs -> ``scores`` [B, N, K] = sqrt(sigmoid(class) * sigmoid(centre-ness)) and
        ``boxes`` [B, N, 4], normalised ``(x0, y0, x1, y1)`` clipped to [0, 1]."""
        scores = torch.sqrt(torch.sigmoid(outputs["cls_logits"]) * torch.sigmoid(outputs["bbox_ctrness"]))
        batch = outputs["bbox_regression"].shape[0]
        anchors = self.anchors.unsqueeze(0).expand(batch, -1, -1)
        boxes = self.box_coder.decode(outputs["bbox_regression"], anchors)
        h, w = self.input_hw
        scale = boxes.new_tensor([w, h, w, h])
        return scores, (boxes / scale).clamp(0.0, 1.0)


class TrainableDetector(nn.Module):
    """What training optimises: the body and the pyramid head, on cached trunk maps."""

    def __init__(self, body: Body, head: PyramidHead) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, cached: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Cached maps -> raw FCOS outputs (see :meth:`PyramidHead.forward`)."""
        return self.head(self.body(cached))

    def train(self, mode: bool = True) -> TrainableDetector:
        # The backbone's BatchNorms keep their ImageNet statistics even in training mode.
        super().train(mode)
        freeze_batchnorm(self.body)
        return self


class DetectorNetwork(nn.Module):
    """The exported network: preprocessed images ``[B, 3, H, W]`` -> (``scores`` [B, N, K], ``boxes`` [B, N, 4])."""

    def __init__(self, trunk: Trunk, trainable: TrainableDetector) -> None:
        super().__init__()
        self.trunk = trunk
        self.trainable = trainable

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.trainable.head.decode(self.trainable(self.trunk(x)))


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm of ``module`` in eval mode with frozen affine parameters (batches are tiny)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


def build_detector(
    backbone: nn.Module,
    num_classes: int,
    input_hw: tuple[int, int],
    *,
    cache_after: int = 6,
    width: int = 96,
    num_convs: int = 2,
) -> DetectorNetwork:
    """Assemble a detector around a backbone.

    Args:
        backbone: timm EfficientNet from :func:`ownvision.ml.backbones.create_backbone` (weights loaded).
        num_classes: K.
        input_hw: Network input ``(H, W)``, multiples of 32.
        cache_after: Last frozen block (6: the whole backbone is frozen; 2: blocks 3-6 train).
        width: FPN/head channels.
        num_convs: Conv layers per head tower.

    Returns:
        A :class:`DetectorNetwork` whose trunk is frozen (no gradients, eval mode).
    """
    if input_hw[0] % 32 or input_hw[1] % 32:
        raise ValueError(f"input size must be multiples of 32, got {input_hw}")
    trunk = Trunk(backbone, cache_after)
    body = Body(backbone, cache_after)
    with torch.no_grad():
        probe = Body(backbone, cache_after)(trunk.eval()(torch.zeros(1, 3, 64, 64)))
    channels = [int(f.shape[1]) for f in probe]
    head = PyramidHead(channels, num_classes, input_hw, width=width, num_convs=num_convs)
    for p in trunk.parameters():
        p.requires_grad_(False)
    freeze_batchnorm(body)
    return DetectorNetwork(trunk.eval(), TrainableDetector(body, head))
