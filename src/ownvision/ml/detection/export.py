"""Export the detector network to ONNX bytes.

Graph: input ``input`` float32 ``[B, 3, H, W]`` (see :func:`ownvision.ml.detection.data.network_input`)
-> outputs ``scores`` ``[B, N, K]`` and ``boxes`` ``[B, N, 4]`` (normalised ``x0, y0, x1, y1``), a
dynamic batch axis, opset 17, the TorchScript-based exporter (as :mod:`ownvision.ml.onnx_export`). The
graph stops before thresholding and NMS; :class:`ownvision.inference.detector.DetectorRunner` does those.
"""

from __future__ import annotations

import io
import warnings

import torch

from ownvision.ml.detection.network import DetectorNetwork
from ownvision.ml.onnx_export import INPUT_NAME, OPSET

SCORES_NAME = "scores"
BOXES_NAME = "boxes"


def export_detector(model: DetectorNetwork, input_hw: tuple[int, int], *, opset: int = OPSET) -> bytes:
    """Serialise the detector.

    Args:
        model: The full network; it is put in eval mode.
        input_hw: ``(H, W)`` of the network input.
        opset: ONNX opset.

    Returns:
        The ``.onnx`` file content.
    """
    model = model.eval()
    dummy = torch.zeros(1, 3, *input_hw)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings from timm's "SAME" padding helpers are harmless here
        torch.onnx.export(
            model,
            (dummy,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[SCORES_NAME, BOXES_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, SCORES_NAME: {0: "batch"}, BOXES_NAME: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return buffer.getvalue()
