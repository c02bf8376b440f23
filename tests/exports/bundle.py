"""Running an unzipped export bundle the way its README says: ``python predict.py`` and ``python app.py``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

# The server and the bundle run the same ONNX model with the same preprocessing; the exported copy
# differs only by ONNX Runtime's choice of kernels (none for an unconverted model).
SAME_MODEL_TOLERANCE = 1e-5
# ONNX12/ONNX10 flavors: the folded, opset-converted graph (see exporters/to_onnx.py).
CONVERTED_TOLERANCE = 1e-4


def run_predict(folder: Path, images: list[Path]) -> list[dict[str, Any]]:
    """``python predict.py IMAGES...`` in the bundle folder -> one ImagePrediction per image."""
    out = subprocess.run(
        [sys.executable, "predict.py", *map(str, images)], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    decoder, text, results, pos = json.JSONDecoder(), out.stdout, [], 0
    while pos < len(text.rstrip()):
        value, end = decoder.raw_decode(text, pos)
        results.append(value)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return results


@contextmanager
def serve_bundle(folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``python app.py --port 0`` in the bundle folder; yields its base URL."""
    import os

    proc = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", "0"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving"), line
        url = line.strip().rsplit(" ", 1)[-1]
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=5)
                break
            except httpx.TransportError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def by_tag(predictions: list[Any]) -> dict[str, float]:
    """tag name -> probability, for SDK objects or JSON dicts."""
    out = {}
    for p in predictions:
        name = p["tagName"] if isinstance(p, dict) else p.tag_name
        out[name] = p["probability"] if isinstance(p, dict) else p.probability
    return out
