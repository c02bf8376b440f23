"""The torch-free detector runner: NMS, post-processing, spec checks, and a hand-built ONNX graph."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack as DoesNotRaise
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ownvision.inference.detector import Detection, DetectorRunner, nms, postprocess


def test_detector_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import ownvision.inference.detector, ownvision.evaluation.detection\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    "boxes, scores, iou, kept",
    [
        ([[0, 0, 1, 1], [0, 0, 1, 1]], [0.9, 0.8], 0.5, [0]),
        ([[0, 0, 1, 1], [0, 0, 1, 1]], [0.7, 0.8], 0.5, [1]),
        ([[0, 0, 1, 1], [2, 2, 3, 3]], [0.9, 0.8], 0.5, [0, 1]),
        ([[0, 0, 2, 1], [1, 0, 3, 1]], [0.9, 0.8], 0.5, [0, 1]),  # IoU 1/3
        ([[0, 0, 2, 1], [1, 0, 3, 1]], [0.9, 0.8], 0.3, [0]),
        ([[0, 0, 4, 1], [1, 0, 5, 1], [2, 0, 6, 1]], [0.9, 0.8, 0.7], 0.5, [0, 2]),  # chain: 0 drops 1, 2 survives
        (np.zeros((0, 4)), [], 0.5, []),
    ],
)
def test_nms_cases(boxes: Any, scores: Any, iou: float, kept: list[int]) -> None:
    out = nms(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64), iou)
    assert out.tolist() == kept


def _outputs() -> tuple[np.ndarray, np.ndarray]:
    # Two levels (3 + 1 locations), two classes.
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.02, 0.3], [0.6, 0.0]], dtype=np.float32)
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9], [-0.1, 0.6, 0.2, 1.2]], dtype=np.float32)
    return scores, boxes


@pytest.mark.parametrize(
    "settings, expected",
    [
        # class 0: 0.9 suppresses its duplicate 0.8; class 1 keeps 0.7 (same box, other class); 0.6 clipped
        ({}, [(0, 0.9), (1, 0.7), (0, 0.6), (1, 0.3)]),
        ({"score_threshold": 0.5}, [(0, 0.9), (1, 0.7), (0, 0.6)]),
        ({"max_detections": 2}, [(0, 0.9), (1, 0.7)]),
        ({"nms_iou": 1.0}, [(0, 0.9), (0, 0.8), (1, 0.7), (0, 0.6), (1, 0.3), (1, 0.1)]),  # IoU 1 is not > 1
        ({"topk_candidates": 1}, [(0, 0.9), (0, 0.6)]),  # the best candidate of each level
        ({"score_threshold": 0.95}, []),
    ],
)
def test_postprocess_cases(settings: dict[str, Any], expected: list[tuple[int, float]]) -> None:
    scores, boxes = _outputs()
    kwargs: dict[str, Any] = {"level_sizes": [3, 1], "score_threshold": 0.05, "nms_iou": 0.5, "max_detections": 10,
                              "topk_candidates": 100, **settings}
    dets = postprocess(scores, boxes, **kwargs)
    assert [(d.label, round(d.score, 4)) for d in dets] == [(c, pytest.approx(s)) for c, s in expected]
    for d in dets:
        assert 0 <= d.left and 0 <= d.top and d.left + d.width <= 1 + 1e-6 and d.top + d.height <= 1 + 1e-6


def test_postprocess_converts_to_left_top_width_height() -> None:
    scores, boxes = _outputs()
    first = postprocess(scores, boxes, level_sizes=[3, 1], score_threshold=0.5, nms_iou=0.5, max_detections=10,
                        topk_candidates=100)
    assert first[0] == Detection(0, pytest.approx(0.9), pytest.approx(0.1), pytest.approx(0.1), pytest.approx(0.2),
                                 pytest.approx(0.2))
    clipped = first[2]
    assert (clipped.left, clipped.top) == (0.0, pytest.approx(0.6)) and clipped.height == pytest.approx(0.4)


SPEC: dict[str, Any] = {
    "format": "ownvision-fcos/1", "input_name": "input", "output_names": ["scores", "boxes"],
    "input_height": 64, "input_width": 96, "mean": [127, 127, 127], "std": [128, 128, 128], "num_classes": 2,
    "level_sizes": [3, 1], "score_threshold": 0.05, "nms_iou": 0.5, "max_detections": 10, "topk_candidates": 100,
}


def _constant_model() -> bytes:
    """A graph that ignores its pixels and returns :func:`_outputs` for every image of the batch."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    scores, boxes = _outputs()
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
        helper.make_node("Concat", ["batch", "score_dims"], ["score_shape"], axis=0),
        helper.make_node("Concat", ["batch", "box_dims"], ["box_shape"], axis=0),
        helper.make_node("Expand", ["score_values", "score_shape"], ["scores"]),
        helper.make_node("Expand", ["box_values", "box_shape"], ["boxes"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([4, 2], dtype=np.int64), "score_dims"),
        numpy_helper.from_array(np.array([4, 4], dtype=np.int64), "box_dims"),
        numpy_helper.from_array(scores[None], "score_values"),
        numpy_helper.from_array(boxes[None], "box_values"),
    ]
    graph = helper.make_graph(
        nodes, "constant", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, 64, 96])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["B", 4, 2]),
         helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["B", 4, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()  # type: ignore[no-any-return]


def test_runner_detects_per_image_with_min_score() -> None:
    runner = DetectorRunner(_constant_model(), SPEC, num_threads=1, max_batch=2)
    images = [Image.new("RGB", (640, 480), "white"), Image.new("L", (10, 30)), Image.new("RGBA", (50, 50))]
    out = runner.detect(images)
    assert len(out) == 3
    assert all([(d.label, round(d.score, 2)) for d in per] == [(0, 0.9), (1, 0.7), (0, 0.6), (1, 0.3)] for per in out)
    assert [d.score for d in runner.detect(images[:1], min_score=0.65)[0]] == pytest.approx([0.9, 0.7])
    assert runner.detect([]) == []


def test_runner_preprocess_squashes_and_normalises() -> None:
    runner = DetectorRunner(_constant_model(), SPEC)
    x = runner.preprocess(Image.new("RGB", (300, 100), (255, 127, 0)))
    assert x.shape == (3, 64, 96) and x.dtype == np.float32
    assert x[:, 10, 10] == pytest.approx([1.0, 0.0, -127 / 128])


@pytest.mark.parametrize(
    "change, expectation",
    [
        ({}, DoesNotRaise()),
        ({"format": "other/9"}, pytest.raises(ValueError, match="format")),
        ({"level_sizes": None}, pytest.raises(ValueError, match="lacks")),
        ({"input_width": 128}, pytest.raises(ValueError, match="input")),
        ({"level_sizes": [3, 2]}, pytest.raises(ValueError, match="locations")),
        ({"output_names": ["scores", "nope"]}, pytest.raises(ValueError, match="outputs")),
    ],
)
def test_runner_checks_spec_against_model(change: dict[str, Any], expectation: Any) -> None:
    spec = {k: v for k, v in {**SPEC, **change}.items() if v is not None}
    with expectation:
        DetectorRunner(_constant_model(), spec)


def test_runner_rejects_garbage_model() -> None:
    with pytest.raises(ValueError, match="cannot load"):
        DetectorRunner(b"not a model", SPEC)
