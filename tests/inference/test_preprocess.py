"""The shared preprocessing: spec validation and round trip, resize modes, normalisation, decoding."""

from __future__ import annotations

import io
from contextlib import ExitStack as DoesNotRaise
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ownvision.imaging import RESIZE_MODES, PreprocessSpec, load_image, preprocess, preprocess_batch


@pytest.mark.parametrize(
    "kwargs, expectation",
    [
        ({}, DoesNotRaise()),
        ({"input_size": 260, "resize_mode": "letterbox"}, DoesNotRaise()),
        ({"input_size": 8}, pytest.raises(ValueError, match="input_size")),
        ({"resize_mode": "stretch"}, pytest.raises(ValueError, match="resize_mode")),
        ({"crop_fraction": 0.0}, pytest.raises(ValueError, match="crop_fraction")),
        ({"std": (1.0, 0.0, 1.0)}, pytest.raises(ValueError, match="std")),
        ({"mean": (1.0, 2.0)}, pytest.raises(ValueError, match="3 values")),
    ],
)
def test_spec_validation(kwargs: dict[str, Any], expectation: Any) -> None:
    with expectation:
        PreprocessSpec(**kwargs)


def test_spec_dict_round_trip() -> None:
    spec = PreprocessSpec(input_size=260, resize_mode="squash", crop_fraction=0.9, mean=(1, 2, 3), std=(4, 5, 6))
    data = spec.to_dict()
    assert data["mean"] == [1, 2, 3]
    assert PreprocessSpec.from_dict(data) == spec
    with pytest.raises(ValueError, match="unknown"):
        PreprocessSpec.from_dict({**data, "colour": "BGR"})


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_preprocess_shape_and_normalisation(mode: str) -> None:
    spec = PreprocessSpec(input_size=64, resize_mode=mode)
    x = preprocess(Image.new("RGB", (200, 100), (255, 127, 0)), spec)
    assert x.shape == (3, 64, 64) and x.dtype == np.float32
    centre = x[:, 32, 32]
    np.testing.assert_allclose(centre, [(255 - 127) / 128, 0.0, -127 / 128], atol=1e-6)


def test_resize_modes_keep_different_parts() -> None:
    # Left third red, rest blue: centre crop loses the red band, squash and letterbox keep it.
    image = Image.new("RGB", (300, 100), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 100, 100))
    red = {}
    for mode in RESIZE_MODES:
        x = preprocess(image, PreprocessSpec(input_size=48, resize_mode=mode))
        red[mode] = float((x[0] > 0.5).mean())
    assert red["center_crop"] == 0.0
    assert red["squash"] == pytest.approx(1 / 3, abs=0.05)
    assert 0.05 < red["letterbox"] < red["squash"]


def test_batch_and_modes() -> None:
    spec = PreprocessSpec(input_size=32)
    images = [Image.new("L", (10, 40), 255), Image.new("RGBA", (40, 10), (0, 0, 0, 0))]
    batch = preprocess_batch(images, spec)
    assert batch.shape == (2, 3, 32, 32)
    np.testing.assert_allclose(batch[1], 1.0, atol=1e-6)  # transparent -> white -> (255-127)/128
    assert preprocess_batch([], spec).shape == (0, 3, 32, 32)


def test_load_image_applies_exif_orientation() -> None:
    image = Image.new("RGB", (40, 20), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    loaded = load_image(buffer.getvalue())
    assert loaded.size == (20, 40) and loaded.mode == "RGB"


def test_load_image_rejects_garbage(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="cannot decode"):
        load_image(b"\x00\x01 definitely not an image")
    path = tmp_path / "x.png"
    path.write_bytes(b"junk")
    with pytest.raises(ValueError, match="x.png"):
        load_image(path)
