"""Core ML export (the ``export-coreml`` extra) of the classifier and the detector, checked as far as Linux allows.

Core ML itself runs only on Apple platforms. What is checked here: the export completes, the package
is an ML Program that coremltools reloads (without Core ML), it declares an RGB image input of the
model's size and the expected outputs (tag names for a classifier, ``scores``/``boxes`` for a
detector), and the PyTorch translation that was converted matched ONNX Runtime (``verification.json``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Trained, download, wait_for_export

# Looked up, not imported: coremltools imports TensorFlow when it is installed, and TensorFlow in this
# process would crash a later import of torchvision. The package is read in a child process.
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("coremltools", "onnx2torch")),
    reason="the export-coreml extra (pip install 'ownvision[export-coreml]') is not installed",
)

READ_SPEC = """
import json, sys
import torch, torchvision  # before coremltools (which may import TensorFlow)
import coremltools as ct
spec = ct.models.MLModel(sys.argv[1], skip_model_load=True).get_spec()
d = spec.description
print(json.dumps({
    "type": spec.WhichOneof("Type"),
    "inputs": [{"name": i.name, "kind": i.type.WhichOneof("Type"), "width": i.type.imageType.width,
                "height": i.type.imageType.height} for i in d.input],
    "outputs": [o.name for o in d.output],
    "predicted": d.predictedFeatureName,
    "probabilities": d.predictedProbabilitiesName,
    "metadata": dict(d.metadata.userDefined),
}))
"""


def export_coreml(trained: Trained, folder: Path) -> tuple[Path, dict[str, object]]:
    trained.trainer.export_iteration(trained.project_id, trained.iteration_id, "CoreML")
    done = wait_for_export(trained, "CoreML", None, timeout=300)
    assert done.status == "Done", done.additional_properties.get("errorDetails")
    bundle = download(done.download_uri, folder)
    assert {"model.mlpackage", "model.json", "labels.txt", "README.md", "verification.json"} <= {
        p.name for p in bundle.iterdir()
    }
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["runtime"] == "coreml"
    return bundle, meta


def read_spec(bundle: Path) -> dict[str, Any]:
    """What coremltools reads back from the package, without Core ML (in a child process)."""
    out = subprocess.run([sys.executable, "-c", READ_SPEC, str(bundle / "model.mlpackage")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_coreml_export_of_a_classifier_declares_image_input_and_tag_names(classifier: Trained, tmp_path: Path) -> None:
    bundle, meta = export_coreml(classifier, tmp_path / "bundle")
    spec = read_spec(bundle)
    assert spec["type"] == "mlProgram"
    [image] = spec["inputs"]
    _, _, h, w = meta["input"]["shape"]
    assert (image["name"], image["kind"], image["width"], image["height"]) == ("image", "imageType", w, h)
    assert (spec["predicted"], spec["probabilities"]) == ("classLabel", "classLabel_probs")
    assert sorted((bundle / "labels.txt").read_text().split()) == ["Disc", "Stripes"]
    assert spec["metadata"]["ownvision.iteration"] == classifier.iteration_id
    check = json.loads((bundle / "verification.json").read_text())
    assert check["torch_module"]["max_abs_diff"] <= check["torch_module"]["tolerance"]


def test_coreml_export_of_a_detector_outputs_scores_and_boxes(detector: Trained, tmp_path: Path) -> None:
    bundle, meta = export_coreml(detector, tmp_path / "bundle")
    spec = read_spec(bundle)
    assert spec["type"] == "mlProgram"
    assert [i["kind"] for i in spec["inputs"]] == ["imageType"]
    assert {"scores", "boxes"} <= set(spec["outputs"])
    check = json.loads((bundle / "verification.json").read_text())
    assert check["torch_module"]["max_abs_diff"] <= check["torch_module"]["tolerance"]
    assert check["model.mlpackage"]["loads"] is True
