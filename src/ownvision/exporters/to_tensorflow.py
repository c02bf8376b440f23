"""TensorFlow export, translated from the ONNX graph by :mod:`.onnx_to_tf` (no onnx2tf):

- ``TensorFlowNormal``: a SavedModel (``saved_model/``, signature ``serving_default``).
- ``TensorFlowLite``: ``model.tflite`` (float32) and, when it passes its check, ``model_int8.tflite``
  (int8 weights and activations, float32 input and output, calibrated on the iteration's images).

Both take NHWC input ``[1, H, W, 3]`` (batch 1). Needs ``pip install 'ownvision[export-tflite]'``
(TensorFlow for conversion, ai-edge-litert to run the .tflite files).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .base import (
    BuildResult,
    ExportSource,
    bundle_name,
    model_json,
    output_section,
    predict_section,
    readme_header,
    reference,
    verification_section,
    verify,
    write_common,
    write_verification,
    zip_folder,
)
from .errors import ExportFailed, MissingDependency

FLOAT_TOLERANCE = 1e-3
# int8 moves probabilities by a few hundredths; the top tag must agree on 90% of the sample images.
INT8_TOLERANCE = 0.25
INT8_MIN_TOP1 = 0.9
CALIBRATION_IMAGES = 32


def _tensorflow() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf

        from . import onnx_to_tf  # noqa: F401  (imports tensorflow too)
    except ImportError as exc:
        raise MissingDependency("TensorFlow", "export-tflite", exc) from exc
    return tf


def build(source: ExportSource, flavor: str | None, workdir: Path) -> BuildResult:
    tf = _tensorflow()
    from .graph import static_graph
    from .onnx_to_tf import translate

    bundle = workdir / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    saved = workdir / "saved_model"
    module = translate(static_graph(source.model_path.read_bytes()))
    try:
        tf.saved_model.save(module, str(saved), signatures={"serving_default": module.serve})
    except Exception as exc:  # TensorFlow raises many types
        raise ExportFailed(f"TensorFlow could not save the translated model: {exc}") from exc
    if flavor == "TensorFlowLite":
        return _tflite(tf, source, saved, bundle, workdir)
    shutil.copytree(saved, bundle / "saved_model")
    meta = model_json(
        source,
        platform="TensorFlow",
        flavor=flavor,
        runtime="savedmodel",
        model_file="saved_model",
        layout="NHWC",
        extra={"savedmodel_dir": "saved_model", "tensorflow_version": tf.__version__},
    )
    write_common(bundle, meta, "")
    report = verify(bundle, source, tolerance=FLOAT_TOLERANCE)
    readme = (
        readme_header(source, "TensorFlow SavedModel exported by ownvision")
        + "`saved_model/`: signature `serving_default`, input `input` float32 [1, H, W, 3] (NHWC, batch 1).\n\n"
        + output_section(source)
        + predict_section("savedmodel", "tensorflow")
        + "```python\nimport tensorflow as tf\nfn = tf.saved_model.load('saved_model').signatures['serving_default']\n"
        "outputs = fn(input=x_nhwc)   # dict of output tensors\n```\n\n" + verification_section(report)
    )
    (bundle / "README.md").write_text(readme, encoding="utf-8")
    write_verification(bundle, {"saved_model": report})
    return BuildResult(zip_folder(bundle, workdir / bundle_name(source, "TensorFlow", flavor)), {"saved_model": report})


def _tflite(tf: Any, source: ExportSource, saved: Path, bundle: Path, workdir: Path) -> BuildResult:
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        (bundle / "model.tflite").write_bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and others
        raise ExportFailed(f"the TensorFlow Lite converter failed: {exc}") from exc
    meta = model_json(
        source,
        platform="TensorFlow",
        flavor="TensorFlowLite",
        runtime="tflite",
        model_file="model.tflite",
        layout="NHWC",
        extra={"tensorflow_version": tf.__version__, "quantized_model_file": None},
    )
    write_common(bundle, meta, "")
    try:
        reports = {"model.tflite": verify(bundle, source, tolerance=FLOAT_TOLERANCE)}
    except ImportError as exc:
        raise MissingDependency("TensorFlow", "export-tflite", exc) from exc
    notes: list[str] = []
    int8_line = ""
    try:
        (bundle / "model_int8.tflite").write_bytes(_quantize(tf, source, saved))
        reports["model_int8.tflite"] = verify(
            bundle, source, tolerance=INT8_TOLERANCE, model_file="model_int8.tflite", min_top1=INT8_MIN_TOP1
        )
        meta["quantized_model_file"] = "model_int8.tflite"
        write_common(bundle, meta, "")
        int8_line = (
            "`model_int8.tflite`: int8 weights and activations (float32 input and output), calibrated on "
            f"{min(len(source.images), CALIBRATION_IMAGES)} training image(s) of the iteration; about 4x smaller. "
            "Its outputs differ more from the original (see Verification); prefer `model.tflite` when that matters. "
            "Run it with `python predict.py --model-file model_int8.tflite photo.jpg`.\n\n"
        )
    except ExportFailed as exc:
        (bundle / "model_int8.tflite").unlink(missing_ok=True)
        notes.append(f"int8 model left out: {exc}")
        int8_line = f"No int8 model is included: {exc}\n\n"
    readme = (
        readme_header(source, "TensorFlow Lite model exported by ownvision")
        + "`model.tflite`: float32, input `input` float32 [1, H, W, 3] (NHWC, batch 1); outputs by name through "
        "the signature runner (`interpreter.get_signature_runner()`).\n\n"
        + int8_line
        + output_section(source)
        + predict_section("tflite", "ai-edge-litert")
        + verification_section(reports["model.tflite"])
        + "".join(
            f"\n{k}: largest difference {v['max_abs_diff']:.3g}"
            + (f", top tag agreement {v['top1_agreement']:.0%}" if "top1_agreement" in v else "")
            for k, v in reports.items()
        )
        + "\n"
    )
    (bundle / "README.md").write_text(readme, encoding="utf-8")
    write_verification(bundle, reports)
    return BuildResult(
        zip_folder(bundle, workdir / bundle_name(source, "TensorFlow", "TensorFlowLite")), reports, notes
    )


def _quantize(tf: Any, source: ExportSource, saved: Path) -> bytes:
    if not source.images:
        raise ExportFailed("there are no training images to calibrate an int8 model with")
    inputs = [x for x, _ in reference(source, CALIBRATION_IMAGES)][: max(1, len(source.images))]

    def representative() -> Iterator[list[np.ndarray]]:
        for x in inputs:
            yield [np.ascontiguousarray(x.transpose(0, 2, 3, 1))]

    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and others
        raise ExportFailed(f"int8 quantisation failed: {exc}") from exc
