"""DockerFile export: a container that serves the model over the Prediction API.

The bundle holds the ONNX model as the server runs it, ``predict.py`` (pre- and post-processing),
``app.py`` (a standard-library HTTP server answering Prediction API requests), a ``Dockerfile`` and
``requirements.txt`` (numpy, Pillow, ONNX Runtime). Flavors pick the base image: ``Linux`` and
``ARM`` (64-bit ARM; the official Python images are multi-architecture) build on ``python:3.12-slim``,
``Windows`` on ``python:3.12-windowsservercore-ltsc2022``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .base import (
    BuildResult,
    ExportSource,
    bundle_name,
    model_json,
    output_section,
    readme_header,
    standalone_source,
    verification_section,
    verify,
    write_common,
    write_verification,
    zip_folder,
)

BASE_IMAGES = {
    "Linux": "python:3.12-slim",
    "ARM": "python:3.12-slim",
    "Windows": "python:3.12-windowsservercore-ltsc2022",
}
# Versions the bundle was verified with are at least these; newer ones read opset-17 models too.
REQUIREMENTS = "numpy>=1.21\npillow>=9.1\nonnxruntime>=1.15\n"
PORT = 80


def dockerfile(flavor: str) -> str:
    return (
        f"FROM {BASE_IMAGES[flavor]}\n"
        "WORKDIR /app\n"
        "COPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "COPY . .\n"
        f"EXPOSE {PORT}\n"
        f'CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "{PORT}"]\n'
    )


def build(source: ExportSource, flavor: str | None, workdir: Path) -> BuildResult:
    flavor = flavor or "Linux"
    bundle = workdir / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.model_path, bundle / "model.onnx")
    meta = model_json(
        source,
        platform="DockerFile",
        flavor=flavor,
        runtime="onnxruntime",
        model_file="model.onnx",
        layout="NCHW",
        extra={"onnx_opset": 17, "base_image": BASE_IMAGES[flavor]},
    )
    write_common(bundle, meta, "")
    (bundle / "app.py").write_text(standalone_source("app.py"), encoding="utf-8")
    (bundle / "Dockerfile").write_text(dockerfile(flavor), encoding="utf-8")
    (bundle / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    report = verify(bundle, source, tolerance=0.0)
    task = "detect" if source.task == "detection" else "classify"
    it = source.iteration
    readme = (
        readme_header(source, "Prediction container exported by ownvision")
        + output_section(source)
        + "## Build and run\n\n"
        "```sh\n"
        "docker build -t my-model .\n"
        f"docker run -p 8080:{PORT} my-model            # add -e PREDICTION_KEY=... to require a key\n"
        "curl -X POST --data-binary @photo.jpg http://localhost:8080/image\n"
        "```\n\n"
        f"Base image: `{BASE_IMAGES[flavor]}` (flavor {flavor}). Without Docker: "
        "`pip install -r requirements.txt && python app.py --port 8080`.\n\n"
        "## Endpoints\n\n"
        "- `POST /image`: the image bytes (or a multipart form with the file in `imageData`).\n"
        '- `POST /url`: `{"url": "https://..."}`.\n'
        f"- `POST /customvision/v3.0/prediction/{it.get('projectId')}/{task}/iterations/<any name>/image` "
        "(and `/url`, `/nostore`, v3.1): the Prediction API paths, so the official SDK's prediction client "
        "works with this container as its endpoint.\n"
        "- `GET /`: health and the model's tags.\n\n"
        "Every prediction answers a Custom Vision `ImagePrediction` (`id`, `project`, `iteration`, `created`, "
        "`predictions` with `probability`, `tagId`, `tagName` and, for detectors, `boundingBox` normalised to "
        "the image). Nothing is stored.\n\n" + verification_section(report)
    )
    (bundle / "README.md").write_text(readme, encoding="utf-8")
    write_verification(bundle, {"model.onnx": report})
    return BuildResult(zip_folder(bundle, workdir / bundle_name(source, "DockerFile", flavor)), {"model.onnx": report})
