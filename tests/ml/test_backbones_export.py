"""Backbone registry (packaged weights load strictly) and ONNX export parity with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ownvision.imaging import preprocess_batch  # noqa: E402
from ownvision.inference import ModelRunner  # noqa: E402
from ownvision.ml.backbones import BACKBONES, create_backbone, get_backbone_spec, list_backbones  # noqa: E402
from ownvision.ml.network import ClassifierNetwork, split_efficientnet  # noqa: E402
from ownvision.ml.onnx_export import export_onnx  # noqa: E402

from .conftest import draw_image  # noqa: E402


def test_registry_names() -> None:
    assert list_backbones() == ["lite0", "lite2"]
    with pytest.raises(ValueError, match="unknown backbone"):
        get_backbone_spec("lite7")


@pytest.mark.parametrize("name", list_backbones())
def test_packaged_weights_load_and_differ_from_random(name: str) -> None:
    spec = BACKBONES[name]
    assert spec.weights_path().is_file()
    model = create_backbone(name)
    x = torch.zeros(1, 3, spec.input_size, spec.input_size)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, spec.num_features)
    assert torch.isfinite(out).all()
    random_first = create_backbone(name, pretrained=False).conv_stem.weight
    assert not torch.allclose(model.conv_stem.weight, random_first)


@pytest.mark.parametrize("name", list_backbones())
@pytest.mark.parametrize("at_block", [6, 7])
def test_split_reproduces_backbone(name: str, at_block: int) -> None:
    model = create_backbone(name)
    trunk, tail = split_efficientnet(model, at_block)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(tail(trunk(x)), model(x))


@pytest.mark.parametrize("name, multilabel", [("lite0", False), ("lite2", True)])
def test_onnx_matches_torch(name: str, multilabel: bool) -> None:
    spec = get_backbone_spec(name)
    torch.manual_seed(0)
    trunk, tail = split_efficientnet(create_backbone(name), 6)
    head = torch.nn.Linear(spec.num_features, 4)
    network = ClassifierNetwork(trunk, tail, head, multilabel=multilabel).eval()
    onnx_model = export_onnx(network, spec.input_size)
    rng = np.random.default_rng(0)
    images = [draw_image(rng, ("red_circle",)), draw_image(rng, ("blue_square", "green_stripes"))]
    batch = preprocess_batch(images, spec.preprocess_spec())
    with torch.no_grad():
        expected = network(torch.from_numpy(batch)).numpy()
    runner = ModelRunner(onnx_model, spec.preprocess_spec(), max_batch=1)  # batch 1 and 2 both exercised
    np.testing.assert_allclose(runner.classify(images), expected, atol=1e-4)
    np.testing.assert_allclose(ModelRunner(onnx_model, spec.preprocess_spec()).run(batch), expected, atol=1e-4)
    if not multilabel:
        np.testing.assert_allclose(expected.sum(1), 1.0, atol=1e-5)
