"""Serving trained models with ONNX Runtime; never imports torch."""

from ownvision.inference.runner import INPUT_NAME, OUTPUT_NAME, ModelRunner

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "ModelRunner"]
