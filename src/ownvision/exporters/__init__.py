"""Exporters: turn a trained iteration's ONNX model into bundles for other runtimes.

One module per platform (``to_onnx``, ``to_openvino``, ``to_tensorflow``, ``to_coreml``, ``to_docker``),
each with ``build(source, flavor, workdir) -> BuildResult``, behind the :data:`EXPORTERS` registry.
Importing this package is cheap: converter packages (onnx, openvino, tensorflow, coremltools, torch)
are imported only when a build runs, and the worker runs builds in a child process
(``python -m ownvision.exporters``) so that a converter's crash or memory use cannot take it down.

Every build verifies its result before it is offered: it runs the bundle's own ``predict.py`` on
sample images of the iteration and compares the outputs with ONNX Runtime on the original model
(see :func:`ownvision.exporters.base.verify`).

Example:
    >>> exporter = get_exporter("TensorFlow")
    >>> exporter.check_flavor("TensorFlowLite")
    'TensorFlowLite'
    >>> result = exporter.build(source, "TensorFlowLite", workdir)   # in a worker
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import BuildResult, ExportSource


@dataclass(frozen=True)
class Exporter:
    """One export platform.

    Attributes:
        platform: Wire name (``ExportPlatform``), e.g. ``"TensorFlow"``.
        flavors: The flavors it accepts; empty when it takes none.
        default_flavor: What is built when no flavor is given.
        module: Module whose ``build`` makes the bundle.
        extra: The ``ownvision[...]`` extra that installs its converter, if it needs more than the
            ``train`` extra.
        summary: One line for documentation.
    """

    platform: str
    flavors: tuple[str, ...]
    default_flavor: str | None
    module: str
    extra: str | None
    summary: str

    def check_flavor(self, flavor: str | None) -> str | None:
        """The canonical spelling of ``flavor`` (case-insensitive), or None for no flavor.

        Raises:
            ValueError: The platform does not take that flavor.
        """
        if flavor is None or flavor == "":
            return None
        for f in self.flavors:
            if f.lower() == flavor.lower():
                return f
        if not self.flavors:
            raise ValueError(f"{self.platform} export takes no flavor; got {flavor!r}.")
        raise ValueError(f"{self.platform} export flavors are {', '.join(self.flavors)}; got {flavor!r}.")

    def build(self, source: ExportSource, flavor: str | None, workdir: Path) -> BuildResult:
        """Make and verify the bundle (heavy: run it in a worker)."""
        module = importlib.import_module(self.module)
        result: BuildResult = module.build(source, flavor or self.default_flavor, workdir)
        return result


EXPORTERS: dict[str, Exporter] = {
    e.platform: e
    for e in (
        Exporter(
            "ONNX",
            ("ONNX10", "ONNX12"),
            None,
            "ownvision.exporters.to_onnx",
            None,
            "model.onnx (opset 17; ONNX12/ONNX10: converted to that opset) for ONNX Runtime / Windows ML.",
        ),
        Exporter(
            "OpenVino",
            (),
            None,
            "ownvision.exporters.to_openvino",
            "export-openvino",
            "OpenVINO IR (model.xml + model.bin, FP16 weights) for the OpenVINO runtime.",
        ),
        Exporter(
            "TensorFlow",
            ("TensorFlowNormal", "TensorFlowLite"),
            "TensorFlowNormal",
            "ownvision.exporters.to_tensorflow",
            "export-tflite",
            "TensorFlowNormal: a SavedModel; TensorFlowLite: model.tflite (float32) and model_int8.tflite.",
        ),
        Exporter(
            "CoreML",
            (),
            None,
            "ownvision.exporters.to_coreml",
            "export-coreml",
            "Core ML ML Program (model.mlpackage, iOS 15 / macOS 12 or later).",
        ),
        Exporter(
            "DockerFile",
            ("Linux", "Windows", "ARM"),
            "Linux",
            "ownvision.exporters.to_docker",
            None,
            "A container with the ONNX model and a small prediction server speaking the Prediction API.",
        ),
    )
}


def get_exporter(platform: str | None) -> Exporter:
    """The exporter for a platform name (case-insensitive).

    Raises:
        ValueError: Unknown or unsupported platform (the message lists the supported ones).
    """
    for name, exporter in EXPORTERS.items():
        if platform is not None and name.lower() == platform.lower():
            return exporter
    supported = ", ".join(EXPORTERS)
    if platform is not None and platform.lower() == "vaidk":
        raise ValueError(f"VAIDK (Vision AI Dev Kit) export is not supported by ownvision; choose one of {supported}.")
    raise ValueError(f"Unknown export platform {platform!r}; choose one of {supported}.")


__all__ = ["EXPORTERS", "Exporter", "get_exporter"]
