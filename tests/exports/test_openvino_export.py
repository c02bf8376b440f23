"""OpenVINO export (the ``export-openvino`` extra) of the classifier and the detector, run with the
bundle's ``predict.py`` on the OpenVINO runtime and compared with the server's predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..training.conftest import picture
from .bundle import by_tag, run_predict
from .conftest import Trained, download, scene, wait_for_export
from .test_detector_export import assert_same as assert_same_boxes
from .test_detector_export import boxes, server_boxes

pytest.importorskip(
    "openvino", reason="the export-openvino extra (pip install 'ownvision[export-openvino]') is not installed"
)

# OpenVINO IR keeps FP16 weights: outputs move by ~1e-3 (the build allows 0.01 on raw outputs).
TOLERANCE = 0.01


def export_openvino(trained: Trained, folder: Path) -> Path:
    trained.trainer.export_iteration(trained.project_id, trained.iteration_id, "OpenVino")
    done = wait_for_export(trained, "OpenVino", None)
    assert done.status == "Done", done.additional_properties.get("errorDetails")
    bundle = download(done.download_uri, folder)
    assert {"model.xml", "model.bin", "model.json", "labels.txt", "predict.py"} <= {p.name for p in bundle.iterdir()}
    assert json.loads((bundle / "model.json").read_text())["runtime"] == "openvino"
    return bundle


def test_openvino_export_classifies_like_the_server(classifier: Trained, tmp_path: Path) -> None:
    bundle = export_openvino(classifier, tmp_path / "bundle")
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


def test_openvino_export_detects_like_the_server(detector: Trained, tmp_path: Path) -> None:
    bundle = export_openvino(detector, tmp_path / "bundle")
    seeds = (100, 101, 102)
    files = []
    for seed in seeds:
        files.append(tmp_path / f"scene{seed}.jpg")
        files[-1].write_bytes(scene(seed)[0])

    ours = [boxes(r["predictions"]) for r in run_predict(bundle, files)]

    assert_same_boxes(ours, server_boxes(detector), TOLERANCE, above=0.3)
