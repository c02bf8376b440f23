"""OpenVINO export: IR (``model.xml`` + ``model.bin``) made by ``openvino.convert_model`` from the ONNX
model, with FP16-compressed weights (OpenVINO's default; CPU plugins compute in FP32 or BF16)."""

from __future__ import annotations

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
from .errors import ExportFailed, MissingDependency

# FP16 weights move outputs by ~1e-3 on ownvision's models (predict.py asks for FP32 inference; on
# CPUs with BF16 support OpenVINO would otherwise compute in BF16, ~1e-2).
TOLERANCE = 0.01


def build(source: ExportSource, flavor: str | None, workdir: Path) -> BuildResult:
    try:
        import openvino as ov
    except ImportError as exc:
        raise MissingDependency("OpenVino", "export-openvino", exc) from exc
    bundle = workdir / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    try:
        model = ov.convert_model(str(source.model_path))
        ov.save_model(model, str(bundle / "model.xml"), compress_to_fp16=True)
    except Exception as exc:  # openvino raises its own untyped errors
        raise ExportFailed(f"OpenVINO could not convert the model: {exc}") from exc
    meta = model_json(
        source,
        platform="OpenVino",
        flavor=None,
        runtime="openvino",
        model_file="model.xml",
        layout="NCHW",
        extra={"openvino_version": ov.get_version(), "weights": "FP16"},
    )
    write_common(bundle, meta, "")
    report = verify(bundle, source, tolerance=TOLERANCE)
    readme = (
        readme_header(source, "OpenVINO model exported by ownvision")
        + "`model.xml` + `model.bin`: OpenVINO IR (FP16 weights), input `input` float32 [N, 3, H, W] (NCHW).\n\n"
        + output_section(source)
        + predict_section("openvino", "openvino")
        + verification_section(report)
    )
    (bundle / "README.md").write_text(readme, encoding="utf-8")
    write_verification(bundle, {"model.xml": report})
    return BuildResult(zip_folder(bundle, workdir / bundle_name(source, "OpenVino", None)), {"model.xml": report})
