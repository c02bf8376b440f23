"""Export benchmark: package size and single-image latency of every export format, classifier and detector.

Runs a real ownvision server and worker on loopback over a temporary data folder, trains a compact
classifier and a compact detector through the official SDK: on real photos when the data sets are
found (clothing-small, 10 images per tag, 10 tags; BCCD's ``trainval`` split with its boxes, timed on
one of its 640x480 test images), otherwise on pictures made here (``--synthetic``). It exports each
iteration to every platform/flavor whose converter is installed, downloads each package through its
keyless ``downloadUri``, and measures:

- the zip's size and the model file's size;
- single-image latency of the bundle's own ``predict.py`` (``ExportedModel.predict(jpeg bytes)``: decode,
  preprocess, run, post-process) in a fresh process, median and p95 of ``--runs`` calls after 3
  warm-up calls, with the backend's settings in ``predict.py`` (2 threads);
- the export job's wall time (ExportIteration to Done).

Model size barely depends on the training data (EfficientNet-Lite0 backbone, compact domains); a
detector's latency does, through its input size and how many candidate boxes reach NMS.

Data: ../shared/datasets/{clothing-small,bccd} (or --clothing / --bccd); see bench/classification_server.py
and bench/ml_detection.py for where to get them.

    python bench/exports.py --runs 30
    python bench/exports.py --synthetic
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.cognitiveservices.vision.customvision.training.models import (  # noqa: E402
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from tests.conftest import make_settings, start_server, stop_server  # noqa: E402
from tests.exports.conftest import (  # noqa: E402
    CLASSIFICATION_COMPACT,
    DETECTION_COMPACT,
    Trained,
    _train,
    download,
    scene,
    train_classifier,
    train_detector,
    wait_for_export,
)
from tests.training.conftest import clients, picture  # noqa: E402

from ownvision.exporters import EXPORTERS  # noqa: E402
from ownvision.worker.loop import run_worker  # noqa: E402

TIMING = """
import json, sys, time
from predict import ExportedModel
model = ExportedModel(".")
data = open("bench.jpg", "rb").read()
for _ in range(3):
    model.predict(data)
times = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter()
    model.predict(data)
    times.append((time.perf_counter() - t0) * 1000)
print(json.dumps(times))
"""
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CONVERTER_MODULES = {"OpenVino": "openvino", "TensorFlow": "tensorflow", "CoreML": "coremltools"}


def formats() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for platform, exporter in EXPORTERS.items():
        module = CONVERTER_MODULES.get(platform)
        if module and importlib.util.find_spec(module) is None:
            continue
        if platform == "DockerFile":  # Windows and ARM: the same model and app, another base image
            flavors: tuple[str | None, ...] = ("Linux",)
        elif platform == "ONNX":
            flavors = (None, *exporter.flavors)
        else:
            flavors = exporter.flavors or (None,)
        out += [(platform, f) for f in flavors]
    return out


def model_size(path: Path) -> int:
    """Bytes of a model: a file, a folder (SavedModel), or OpenVINO's .xml with its .bin."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    extra = path.with_suffix(".bin") if path.suffix == ".xml" else None
    return path.stat().st_size + (extra.stat().st_size if extra and extra.exists() else 0)


def measure(trained: Trained, platform: str, flavor: str | None, image: bytes, runs: int, tmp: Path) -> dict[str, Any]:
    started = time.perf_counter()
    trained.trainer.export_iteration(trained.project_id, trained.iteration_id, platform, flavor=flavor)
    done = wait_for_export(trained, platform, flavor, timeout=1800)
    export_s = time.perf_counter() - started
    row: dict[str, Any] = {"format": platform + (f"/{flavor}" if flavor else ""), "status": done.status}
    if done.status != "Done":
        row["note"] = (done.additional_properties.get("errorDetails") or "")[:100]
        return row
    folder = download(done.download_uri, tmp / row["format"].replace("/", "-"))
    row["zip_mb"] = done.additional_properties["sizeInBytes"] / 1e6
    meta = json.loads((folder / "model.json").read_text())
    row["model_mb"] = model_size(folder / meta["model_file"]) / 1e6
    if meta.get("quantized_model_file"):
        quantized = meta["quantized_model_file"]
        row["note"] = f"+ {quantized}: {model_size(folder / quantized) / 1e6:.1f} MB"
    row["export_s"] = export_s
    if not (folder / "predict.py").exists():
        row["note"] = "no predict.py (runtime not available here)"
        return row
    # In a fresh process, as a user runs it (TensorFlow and torch must not share one process).
    (folder / "bench.jpg").write_bytes(image)
    out = subprocess.run([sys.executable, "-c", TIMING, str(runs)], cwd=folder, capture_output=True, text=True)
    if out.returncode != 0:
        row["note"] = out.stderr.strip().splitlines()[-1][:100]
        return row
    times = sorted(json.loads(out.stdout.strip().splitlines()[-1]))
    row["p50_ms"] = statistics.median(times)
    row["p95_ms"] = times[min(len(times) - 1, int(0.95 * len(times)))]
    return row


def train_clothing(srv: Any, root: Path, k: int) -> tuple[Trained, bytes]:
    """A compact classifier on k photos per tag of clothing-small; returns it and a 640x480 test JPEG."""
    from bench.classification_server import jpeg_640x480, sample

    keys = srv.new_account()
    trainer, predictor = clients(srv, keys)
    project = trainer.create_project("clothing", domain_id=CLASSIFICATION_COMPACT)
    chosen = sample(root, k, seed=0)
    tags = {name: trainer.create_tag(project.id, name) for name in chosen}
    entries = [ImageFileCreateEntry(name=p.name, contents=p.read_bytes(), tag_ids=[tags[name].id])
               for name, paths in chosen.items() for p in paths]
    for i in range(0, len(entries), 64):
        assert trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[i:i + 64]))
    test_image = sorted((root / "test").glob("*/*.jpg"))[0]
    return _train(srv, keys, trainer, predictor, project.id, "clothing"), jpeg_640x480(test_image)


def train_bccd(srv: Any, root: Path) -> tuple[Trained, bytes]:
    """A compact detector on BCCD trainval; returns it and one 640x480 test image."""
    from bench.ml_detection import CLASSES, load_voc

    keys = srv.new_account()
    trainer, predictor = clients(srv, keys)
    project = trainer.create_project("bccd", domain_id=DETECTION_COMPACT)
    tags = [trainer.create_tag(project.id, name) for name in CLASSES]
    entries = [ImageFileCreateEntry(name=smp.path.name, contents=smp.path.read_bytes(), regions=[
        Region(tag_id=tags[c].id, left=b[0], top=b[1], width=b[2], height=b[3])
        for c, b in zip(smp.labels, smp.boxes, strict=True)]) for smp in load_voc(root, "trainval")]
    for i in range(0, len(entries), 64):
        assert trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[i:i + 64]))
    return _train(srv, keys, trainer, predictor, project.id, "bccd"), load_voc(root, "test")[0].path.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--detection-budget-s", type=float, default=None,
                        help="Regular detection budget (default: 120 s on BCCD, 25 s on made-up scenes)")
    parser.add_argument("--clothing", type=Path, default=SHARED / "clothing-small")
    parser.add_argument("--bccd", type=Path, default=SHARED / "bccd")
    parser.add_argument("--k", type=int, default=10, help="clothing-small photos per tag")
    parser.add_argument("--synthetic", action="store_true", help="train on pictures made here, not the data sets")
    args = parser.parse_args()
    real = not args.synthetic and (args.clothing / "train").is_dir() and (args.bccd / "BCCD").is_dir()
    if args.detection_budget_s is None:
        args.detection_budget_s = 120.0 if real else 25.0
    with tempfile.TemporaryDirectory(prefix="ownvision-bench-exports-") as tmp:
        settings = make_settings(
            Path(tmp) / "data",
            job_heartbeat_s=0.5,
            worker_poll_s=0.2,
            detection_regular_budget_s=args.detection_budget_s,
        )
        srv = start_server(settings)
        stop = threading.Event()
        worker = threading.Thread(target=run_worker, args=(srv.ctx,), kwargs={"stop": stop}, daemon=True)
        worker.start()
        try:
            rows = []
            if real:
                models = [("classification (clothing-small)", *train_clothing(srv, args.clothing, args.k)),
                          ("detection (BCCD)", *train_bccd(srv, args.bccd))]
            else:
                models = [("classification", train_classifier(srv), picture("disc", 900)),
                          ("detection", train_detector(srv), scene(900)[0])]
            for task, trained, image in models:
                for platform, flavor in formats():
                    row = measure(trained, platform, flavor, image, args.runs, Path(tmp))
                    rows.append({"task": task, **row})
                    print(rows[-1], flush=True)
        finally:
            stop.set()
            worker.join(timeout=60)
            stop_server(srv)
    print()
    print(f"| task | format | zip MB | model MB | export s | p50 ms | p95 ms | note |\n|{'---|' * 8}")
    for r in rows:
        cells = [
            r["task"],
            r["format"],
            *(f"{r[k]:.1f}" if k in r else "" for k in ("zip_mb", "model_mb", "export_s", "p50_ms", "p95_ms")),
            r.get("note", ""),
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
