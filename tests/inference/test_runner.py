"""ModelRunner on a tiny hand-built ONNX graph (no torch), and the torch-free import guarantee."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack as DoesNotRaise
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from ownvision.imaging import PreprocessSpec, preprocess_batch
from ownvision.inference import ModelRunner

SPEC = PreprocessSpec(input_size=32, resize_mode="center_crop")


def mean_colour_model(size: int = 32, num_classes: int = 3, *, input_name: str = "input") -> bytes:
    """``[B, 3, size, size] -> softmax(mean RGB @ W)``: class 0 red, 1 green, 2 blue."""
    weight = (np.eye(3, num_classes, dtype=np.float32) * 10.0)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "mean_colour",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", num_classes])],
        [helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.flatten())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_classify_returns_probabilities_per_image() -> None:
    runner = ModelRunner(mean_colour_model(), SPEC, num_threads=1, max_batch=2)
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 10, 10), (5, 5, 240)]
    images = [Image.new("RGB", (40 + 7 * i, 30 + 5 * i), c) for i, c in enumerate(colours)]
    probs = runner.classify(images)
    assert probs.shape == (5, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert probs.argmax(1).tolist() == [0, 1, 2, 0, 2]
    assert runner.num_classes == 3


def test_classify_accepts_any_mode_and_empty_lists(tmp_path: Any) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(mean_colour_model())
    runner = ModelRunner(path, SPEC)
    images = [Image.new("L", (50, 20), 200), Image.new("RGBA", (20, 50), (0, 0, 255, 255)), Image.new("P", (33, 33))]
    assert runner.classify(images).shape == (3, 3)
    assert runner.classify([]).shape == (0, 3)


def test_run_matches_classify() -> None:
    runner = ModelRunner(mean_colour_model(), SPEC)
    images = [Image.new("RGB", (64, 48), (10, 200, 30))]
    np.testing.assert_array_equal(runner.run(preprocess_batch(images, SPEC)), runner.classify(images))


@pytest.mark.parametrize(
    "model, spec, kwargs, expectation",
    [
        (mean_colour_model(), SPEC, {}, DoesNotRaise()),
        (b"not onnx", SPEC, {}, pytest.raises(ValueError, match="cannot load ONNX model")),
        (mean_colour_model(input_name="images"), SPEC, {}, pytest.raises(ValueError, match="must have input")),
        (mean_colour_model(size=32), PreprocessSpec(input_size=64), {}, pytest.raises(ValueError, match="does not match")),
        (mean_colour_model(), SPEC, {"num_threads": 0}, pytest.raises(ValueError, match="num_threads")),
    ],
)
def test_runner_rejects_bad_models(model: bytes, spec: PreprocessSpec, kwargs: dict[str, Any], expectation: Any) -> None:
    with expectation:
        ModelRunner(model, spec, **kwargs)


def test_inference_never_imports_torch() -> None:
    code = (
        "import sys; import ownvision.inference, ownvision.imaging, ownvision.ml; "
        "from ownvision.ml import TrainingCancelled; "
        "bad = [m for m in ('torch', 'torchvision', 'timm') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
