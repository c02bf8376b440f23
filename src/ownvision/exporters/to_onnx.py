"""ONNX export: the model as the server runs it (opset 17, dynamic batch), or converted to opset 12
or 10 (flavors ONNX12 / ONNX10; static batch of 1) for older ONNX runtimes such as Windows ML."""

from __future__ import annotations

import shutil
from pathlib import Path

from .base import (
    BuildResult,
    ExportSource,
    bundle_name,
    model_json,
    output_section,
    predict_section,
    readme_header,
    verification_section,
    verify,
    write_common,
    write_verification,
    zip_folder,
)

OPSETS = {"ONNX10": 10, "ONNX12": 12}
# A converted graph computes the same operations in the same order; ONNX Runtime may still pick
# other kernels for the folded graph.
TOLERANCE = 1e-4


def build(source: ExportSource, flavor: str | None, workdir: Path) -> BuildResult:
    bundle = workdir / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    if flavor is None:
        shutil.copyfile(source.model_path, bundle / "model.onnx")
        opset, batch = 17, "any batch size"
    else:
        from .graph import convert_opset, static_graph

        opset, batch = OPSETS[flavor], "batch size 1"
        model = convert_opset(static_graph(source.model_path.read_bytes()), opset)
        (bundle / "model.onnx").write_bytes(model.SerializeToString())
    meta = model_json(
        source,
        platform="ONNX",
        flavor=flavor,
        runtime="onnxruntime",
        model_file="model.onnx",
        layout="NCHW",
        extra={"onnx_opset": opset},
    )
    write_common(bundle, meta, "")
    report = verify(bundle, source, tolerance=0.0 if flavor is None else TOLERANCE)
    readme = (
        readme_header(source, "ONNX model exported by ownvision")
        + f"`model.onnx`: ONNX opset {opset}, {batch}; input `input` float32 [N, 3, H, W] (NCHW).\n\n"
        + output_section(source)
        + predict_section("onnxruntime", "onnxruntime")
        + "Any ONNX runtime works (Windows ML, ONNX Runtime Mobile, onnxruntime-web): feed the preprocessed "
        "tensor and apply the post-processing described above.\n\n" + verification_section(report)
    )
    (bundle / "README.md").write_text(readme, encoding="utf-8")
    write_verification(bundle, {"model.onnx": report})
    return BuildResult(zip_folder(bundle, workdir / bundle_name(source, "ONNX", flavor)), {"model.onnx": report})
