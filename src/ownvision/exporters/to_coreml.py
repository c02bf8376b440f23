"""Core ML export: an ML Program (``model.mlpackage``, iOS 15 / macOS 12 or later, FP32).

coremltools converts PyTorch, not ONNX, so the static ONNX graph (:mod:`.graph`) becomes a torch
module with onnx2torch, is traced, and is converted by ``coremltools.convert``. The input is an image
(``image``, RGB, with the model's ``(x - 127) / 128`` folded in as scale and bias), so Vision's
``VNCoreMLRequest`` can feed it; classifiers carry their tag names (``classLabel``,
``classLabel_probs``), detectors output ``scores`` and ``boxes`` like the other formats.

What is verified here (Linux): the torch module matches ONNX Runtime on the iteration's images, and
the saved package loads and declares the right input size, outputs and labels. Core ML itself runs
only on Apple platforms, so the converted program's numbers are not checked here.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .base import (
    BuildResult,
    ExportSource,
    bundle_name,
    model_json,
    output_names,
    output_section,
    preprocess_json,
    readme_header,
    reference,
    write_common,
    write_verification,
    zip_folder,
)
from .errors import ExportFailed, MissingDependency

TORCH_TOLERANCE = 1e-4


def _imports() -> tuple[Any, Any, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # torch and torchvision first: coremltools imports TensorFlow when it is installed, and
        # torchvision crashes the process (segmentation fault) when it is imported after TensorFlow.
        import torch
        import torchvision  # noqa: F401

        import coremltools as ct
        import onnx2torch
    except ImportError as exc:
        raise MissingDependency("CoreML", "export-coreml", exc) from exc
    return ct, onnx2torch, torch


def build(source: ExportSource, flavor: str | None, workdir: Path) -> BuildResult:
    ct, onnx2torch, torch = _imports()
    from .graph import static_graph

    logging.getLogger("coremltools").setLevel(logging.ERROR)
    bundle = workdir / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    pre = preprocess_json(source)
    h, w = pre["input_height"], pre["input_width"]
    if len(set(pre["mean"])) != 1 or len(set(pre["std"])) != 1:
        raise ExportFailed("Core ML image inputs need the same normalisation for every channel")
    try:
        module = onnx2torch.convert(static_graph(source.model_path.read_bytes())).eval()
    except Exception as exc:  # onnx2torch raises NotImplementedError and others
        raise ExportFailed(f"onnx2torch could not convert the model: {exc}") from exc
    torch_report = _check_torch(torch, module, source)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, torch.zeros(1, 3, h, w))
    image = ct.ImageType(
        name="image",
        shape=(1, 3, h, w),
        scale=1.0 / pre["std"][0],
        bias=[-pre["mean"][0] / pre["std"][0]] * 3,
        color_layout=ct.colorlayout.RGB,
    )
    labels = [t["name"] for t in source.tags]
    kwargs: dict[str, Any] = {}
    if source.task == "detection":
        kwargs["outputs"] = [ct.TensorType(name=n) for n in output_names(source)]
    else:
        kwargs["classifier_config"] = ct.ClassifierConfig(labels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlmodel = ct.convert(
                traced,
                inputs=[image],
                convert_to="mlprogram",
                minimum_deployment_target=ct.target.iOS15,
                compute_precision=ct.precision.FLOAT32,
                **kwargs,
            )
    except Exception as exc:  # coremltools raises many types
        raise ExportFailed(f"coremltools could not convert the model: {exc}") from exc
    it = source.iteration
    mlmodel.author = "ownvision"
    mlmodel.short_description = f"{it.get('name')} of project {it.get('projectId')}: {', '.join(labels)}"
    mlmodel.user_defined_metadata["ownvision.iteration"] = str(it.get("id"))
    mlmodel.user_defined_metadata["ownvision.tags"] = ",".join(t["id"] for t in source.tags)
    mlmodel.save(str(bundle / "model.mlpackage"))
    structure = _check_package(ct, bundle / "model.mlpackage", source, h, w, labels)
    meta = model_json(
        source,
        platform="CoreML",
        flavor=None,
        runtime="coreml",
        model_file="model.mlpackage",
        layout="image",
        extra={"coremltools_version": ct.__version__, "minimum_deployment_target": "iOS15 / macOS12"},
    )
    meta["input"] = {
        "name": "image",
        "layout": "image",
        "shape": [1, 3, h, w],
        "dtype": "RGB image",
        "note": "normalisation is inside the model; resize the image to the input size (squash)",
    }
    if source.task != "detection":
        meta["outputs"] = {
            "classLabel": {"type": "string"},
            "classLabel_probs": {"type": "dictionary tag name -> probability"},
        }
    write_common(bundle, meta, "")
    (bundle / "predict.py").unlink()  # predict.py has no Core ML backend: Core ML runs on Apple platforms only
    reports = {
        "torch_module": torch_report,
        "model.mlpackage": structure,
        "coreml_runtime": "not run: Core ML runs only on Apple platforms; the converted program's "
        "outputs were not checked",
    }
    write_verification(bundle, reports)
    (bundle / "README.md").write_text(_readme(source, h, w, torch_report), encoding="utf-8")
    return BuildResult(
        zip_folder(bundle, workdir / bundle_name(source, "CoreML", None)),
        reports,
        ["Core ML numerics are not verified on Linux"],
    )


def _check_torch(torch: Any, module: Any, source: ExportSource) -> dict[str, Any]:
    diffs: dict[str, float] = {}
    pairs = reference(source)
    for x, ref in pairs:
        with torch.no_grad():
            out = module(torch.from_numpy(x))
        outs = out if isinstance(out, tuple | list) else [out]
        for name, value in zip(output_names(source), outs, strict=True):
            diffs[name] = max(diffs.get(name, 0.0), float(np.abs(value.numpy() - ref[name]).max()))
    worst = max(diffs.values())
    if worst > TORCH_TOLERANCE:
        raise ExportFailed(f"the torch translation differs from the original by up to {worst:.3g}")
    return {"inputs": len(pairs), "max_abs_diff": worst, "max_abs_diff_per_output": diffs, "tolerance": TORCH_TOLERANCE}


def _check_package(ct: Any, path: Path, source: ExportSource, h: int, w: int, labels: list[str]) -> dict[str, Any]:
    """Reload the saved package (without Core ML) and check what it declares."""
    try:
        spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    except Exception as exc:  # coremltools raises many types
        raise ExportFailed(f"the saved Core ML package does not load: {exc}") from exc
    desc = spec.description
    problems = []
    image = desc.input[0].type.imageType if len(desc.input) == 1 else None
    if image is None or (image.width, image.height) != (w, h):
        problems.append(f"input is not a {w}x{h} image")
    outputs = {o.name: o for o in desc.output}
    if source.task == "detection":
        k = len(labels)
        for name, last in (("scores", k), ("boxes", 4)):
            if name not in outputs:
                problems.append(f"output {name} is missing")
                continue
            shape = list(outputs[name].type.multiArrayType.shape)
            if shape and shape[-1] != last:
                problems.append(f"output {name} has shape {shape}")
    elif desc.predictedFeatureName != "classLabel" or desc.predictedProbabilitiesName != "classLabel_probs":
        problems.append("classifier outputs classLabel/classLabel_probs are missing")
    if problems:
        raise ExportFailed("the Core ML package is not as expected: " + "; ".join(problems))
    return {
        "loads": True,
        "input": f"image {w}x{h} RGB",
        "outputs": sorted(outputs),
        "spec_version": int(spec.specificationVersion),
        "labels": labels if source.task != "detection" else None,
    }


def _readme(source: ExportSource, h: int, w: int, torch_report: dict[str, Any]) -> str:
    if source.task == "detection":
        usage = (
            "Outputs `scores` [1, N, K] and `boxes` [1, N, 4] (see below): apply the post-processing of "
            "`model.json` (`postprocess`) in your app; VNCoreMLRequest returns them as "
            "`VNCoreMLFeatureValueObservation`s.\n\n"
        )
    else:
        usage = (
            "A classifier: `VNCoreMLRequest` returns `VNClassificationObservation`s (tag name and confidence).\n\n"
            "```swift\n"
            "let model = try VNCoreMLModel(for: MLModel(contentsOf: compiledURL))\n"
            "let request = VNCoreMLRequest(model: model) { request, _ in\n"
            "    let best = (request.results as? [VNClassificationObservation])?.first\n"
            "}\n"
            "request.imageCropAndScaleOption = .scaleFill   // the model was trained on squashed images\n"
            "```\n\n"
        )
    return (
        readme_header(source, "Core ML model exported by ownvision")
        + f"`model.mlpackage`: an ML Program (iOS 15 / macOS 12 or later, FP32), input `image` ({w} x {h} RGB); "
        "the normalisation is inside the model, so pass the resized image as it is.\n\n"
        + usage
        + (output_section(source) if source.task == "detection" else "")
        + "On a Mac, in Python:\n\n```python\nimport coremltools as ct\nfrom PIL import Image\n"
        "model = ct.models.MLModel('model.mlpackage')\n"
        f"image = Image.open('photo.jpg').convert('RGB').resize(({w}, {h}), Image.BICUBIC)\n"
        "print(model.predict({'image': image}))\n```\n\n"
        "## Verification\n\n"
        "Core ML runs only on Apple platforms, so ownvision (on Linux) could not run this package. It checked "
        f"that the PyTorch translation it converted matches ONNX Runtime on {torch_report['inputs']} input(s) "
        f"(largest difference {torch_report['max_abs_diff']:.2e}), and that the saved package loads and declares "
        "the expected input and outputs. Resizing inside Vision is not Pillow's bicubic resize, so expect "
        "probabilities a little different from the server's.\n"
    )
