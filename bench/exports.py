"""Export benchmark: package size and single-image latency of every export format, classifier and detector.

Runs a real ownvision server and worker on loopback over a temporary data folder, trains a small
compact classifier (two tags, 12 pictures) and a compact detector (one tag, 15 scenes) through the
official SDK, exports each iteration to every platform/flavor whose converter is installed, downloads
each package through its keyless ``downloadUri``, and measures:

- the zip's size and the model file's size;
- single-image latency of the bundle's own ``predict.py`` (``ExportedModel.predict(jpeg bytes)``: decode,
  preprocess, run, post-process) in a fresh process, median and p95 of ``--runs`` calls after 3
  warm-up calls, with the backend's settings in ``predict.py`` (2 threads);
- the export job's wall time (ExportIteration to Done).

Model size does not depend on the training data (EfficientNet-Lite0 backbone, compact domains).

    python bench/exports.py --runs 30
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

from tests.conftest import make_settings, start_server, stop_server  # noqa: E402
from tests.exports.conftest import (  # noqa: E402
    Trained,
    download,
    scene,
    train_classifier,
    train_detector,
    wait_for_export,
)
from tests.training.conftest import picture  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--detection-budget-s", type=float, default=25.0)
    args = parser.parse_args()
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
            for task, trained, image in (
                ("classification", train_classifier(srv), picture("disc", 900)),
                ("detection", train_detector(srv), scene(900)[0]),
            ):
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
