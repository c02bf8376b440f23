"""Export a classifier network to ONNX bytes for ONNX Runtime.

The graph has one input ``input`` (float32 ``[B, 3, H, W]``, as made by
:func:`ownvision.imaging.preprocess`) and one output ``probabilities`` (``[B, C]``), a dynamic batch
axis, and opset 17. The TorchScript-based exporter (``dynamo=False``) is used: it is fast, needs no
extra dependencies at export time and its outputs match PyTorch to ~1e-5.
"""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
OPSET = 17


def export_onnx(model: nn.Module, input_size: int, *, opset: int = OPSET) -> bytes:
    """Serialise ``model`` to an ONNX model.

    Args:
        model: Maps ``[B, 3, input_size, input_size]`` to ``[B, C]``; put in eval mode here.
        input_size: Side of the square input.
        opset: ONNX opset version.

    Returns:
        The ``.onnx`` file content.
    """
    model = model.eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings from timm's padding helpers are harmless here
        torch.onnx.export(
            model,
            (dummy,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return buffer.getvalue()
