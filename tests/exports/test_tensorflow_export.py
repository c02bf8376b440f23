"""TensorFlow exports (the ``export-tflite`` extra) of the classifier and the detector: a SavedModel and
TensorFlow Lite, run with the bundle's ``predict.py`` and compared with the server's predictions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ..training.conftest import picture
from .bundle import by_tag, run_predict
from .conftest import Trained, download, scene, wait_for_export
from .test_detector_export import assert_same as assert_same_boxes
from .test_detector_export import boxes, server_boxes

# Looked up, not imported: TensorFlow runs in the export's child process and in predict.py only.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="the export-tflite extra (pip install 'ownvision[export-tflite]') is not installed",
)

# The translated graph computes in float32 with TensorFlow's kernels (the build allows 1e-3 on raw outputs).
TOLERANCE = 1e-3
FLAVORS = [("TensorFlowNormal", "savedmodel"), ("TensorFlowLite", "tflite")]


def export_tensorflow(trained: Trained, flavor: str, runtime: str, folder: Path) -> Path:
    trained.trainer.export_iteration(trained.project_id, trained.iteration_id, "TensorFlow", flavor=flavor)
    done = wait_for_export(trained, "TensorFlow", flavor, timeout=600)
    assert done.status == "Done", done.additional_properties.get("errorDetails")
    bundle = download(done.download_uri, folder)
    assert json.loads((bundle / "model.json").read_text())["runtime"] == runtime
    return bundle


@pytest.mark.parametrize(("flavor", "runtime"), FLAVORS)
def test_tensorflow_export_classifies_like_the_server(
    classifier: Trained, tmp_path: Path, flavor: str, runtime: str
) -> None:
    bundle = export_tensorflow(classifier, flavor, runtime, tmp_path / "bundle")
    samples = [("disc", 100), ("stripes", 101)]
    files = []
    for kind, seed in samples:
        files.append(tmp_path / f"{kind}{seed}.jpg")
        files[-1].write_bytes(picture(kind, seed))

    ours = [by_tag(r["predictions"]) for r in run_predict(bundle, files)]

    for (kind, seed), a in zip(samples, ours, strict=True):
        b = by_tag(
            classifier.predictor.classify_image_with_no_store(
                classifier.project_id, classifier.publish_name, picture(kind, seed)
            ).predictions
        )
        assert max(a, key=a.__getitem__) == max(b, key=b.__getitem__)
        assert max(abs(a[t] - b[t]) for t in a) <= TOLERANCE


def test_tensorflow_lite_export_detects_like_the_server(detector: Trained, tmp_path: Path) -> None:
    # The SavedModel is the same translated graph before the TensorFlow Lite conversion; the classifier
    # tests cover it, and each TensorFlow export costs ~25 s of CPU.
    bundle = export_tensorflow(detector, "TensorFlowLite", "tflite", tmp_path / "bundle")
    seeds = (100, 101, 102)
    files = []
    for seed in seeds:
        files.append(tmp_path / f"scene{seed}.jpg")
        files[-1].write_bytes(scene(seed)[0])

    ours = [boxes(r["predictions"]) for r in run_predict(bundle, files)]

    assert_same_boxes(ours, server_boxes(detector), TOLERANCE, above=0.3)
