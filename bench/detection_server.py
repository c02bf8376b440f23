"""End-to-end object detection benchmark through the server: upload, train, publish, detect over HTTP.

Runs ``ownvision serve`` (API and worker processes) on loopback over a temporary data folder, creates an object
detection project, uploads BCCD's ``trainval`` images (292) with their boxes through the official SDK,
trains (Regular, optionally Advanced), publishes, and then:

- sends every ``test`` image (72, 640x480 JPEG) to DetectImageWithNoStore over HTTP and computes
  mAP@0.5 and per-tag AP from the API's answers (``ownvision.evaluation.detection``: all-point
  interpolated AP, greedy matching by score);
- reports training wall time (TrainProject to Completed) and the held-out mAP that
  GetIterationPerformance gives;
- times detection over HTTP (p50/p95, one client) next to the bare model time (decode, resize,
  ONNX Runtime, NMS) of the same model in the same process.

Data: ../shared/datasets/bccd (or --bccd); get it from https://github.com/Shenggan/BCCD_Dataset (MIT).

    python bench/detection_server.py                                   # General (compact), Regular
    python bench/detection_server.py --domain General
    python bench/detection_server.py --advanced-hours 1 --advanced-cap-s 1500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training.models import (  # noqa: E402
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from bench.common import loaded_model, percentile, served  # noqa: E402
from bench.ml_detection import CLASSES, SHARED, load_voc  # noqa: E402
from msrest.authentication import ApiKeyCredentials  # noqa: E402
from tests.served import Served  # noqa: E402

from ownvision.evaluation.detection import detection_metrics  # noqa: E402
from ownvision.imaging import load_image  # noqa: E402


def train(trainer: CustomVisionTrainingClient, project_id: str, **kw: object) -> tuple[object, float]:
    started = time.perf_counter()
    it = trainer.train_project(project_id, **kw)
    last = 0.0
    while it.status == "Training":
        time.sleep(1.0)
        it = trainer.get_iteration(project_id, it.id)
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            msg = it.additional_properties.get("progressMessage")
            print(f"  [{time.perf_counter() - started:6.0f}s] {msg}", file=sys.stderr)
    return it, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bccd", type=Path, default=SHARED / "bccd")
    ap.add_argument("--domain", default="General (compact)")
    ap.add_argument("--regular-budget-s", type=float, default=None, help="Regular budget (server default: 240)")
    ap.add_argument("--advanced-hours", type=int, default=0, help="also train Advanced with this budget")
    ap.add_argument("--advanced-cap-s", type=float, default=None, help="cap on the Advanced budget, seconds")
    args = ap.parse_args()
    if not (args.bccd / "BCCD").is_dir():
        sys.exit(f"BCCD not found under {args.bccd}; "
                 "git clone https://github.com/Shenggan/BCCD_Dataset and pass --bccd")

    with served(advanced_budget_cap_s=args.advanced_cap_s, detection_regular_budget_s=args.regular_budget_s) as (
        srv, keys
    ):
        rows, n_train, n_test = run(args, srv, keys)
    print(f"\nBCCD through the API, domain {args.domain!r}: {n_train} training images, {n_test} test images")
    print("| training | wall time (s) | mAP@0.5 (test, via API) | RBC | WBC | Platelets | held-out mAP* "
          "| HTTP p50 ms | HTTP p95 ms | bare model p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, wall, m, perf, lat, bare, _ in rows:
        pc = [c.average_precision for c in m.per_class]
        print(f"| {label} | {wall:.0f} | {m.mean_average_precision:.3f} | {pc[0]:.3f} | {pc[1]:.3f} | {pc[2]:.3f} | "
              f"{perf.average_precision:.3f} | {statistics.median(lat):.1f} | {percentile(lat, 0.95):.1f} | "
              f"{statistics.median(bare):.1f} |")
    print("* mAP@0.5 on the held-out training images, as GetIterationPerformance reports it")


def run(args: argparse.Namespace, srv: Served, keys: dict[str, str]) -> tuple[list[Any], int, int]:
    trainer = CustomVisionTrainingClient(srv.url, ApiKeyCredentials(in_headers={"Training-key": keys["Training-Key"]}))
    domain = next(d for d in trainer.get_domains() if d.name == args.domain and d.type == "ObjectDetection")
    project = trainer.create_project(f"bccd {args.domain}", domain_id=domain.id)
    tags = [trainer.create_tag(project.id, name) for name in CLASSES]

    train_set, test_set = load_voc(args.bccd, "trainval"), load_voc(args.bccd, "test")
    entries = [
        ImageFileCreateEntry(
            name=s.path.name,
            contents=s.path.read_bytes(),
            regions=[Region(tag_id=tags[c].id, left=b[0], top=b[1], width=b[2], height=b[3])
                     for c, b in zip(s.labels, s.boxes, strict=True)],
        )
        for s in train_set
    ]
    for i in range(0, len(entries), 64):
        res = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[i : i + 64]))
        assert all(r.status in ("OK", "OKDuplicate") for r in res.images), [r.status for r in res.images]

    runs: list[tuple[str, dict[str, object]]] = [("Regular", {})]
    if args.advanced_hours:
        runs.append(("Advanced", {"training_type": "Advanced", "reserved_budget_in_hours": args.advanced_hours,
                                  "force_train": True}))
    tag_index = {t.id: k for k, t in enumerate(tags)}
    truth = [[(c, b) for c, b in zip(s.labels, s.boxes, strict=True)] for s in test_set]
    bodies = [s.path.read_bytes() for s in test_set]
    rows = []
    for label, kw in runs:
        it, wall = train(trainer, project.id, **kw)
        assert it.status == "Completed", it.training_error_details
        name = f"bench-{label}"
        trainer.publish_iteration(project.id, it.id, name, "bench")
        url = f"{srv.url}/customvision/v3.1/prediction/{project.id}/detect/iterations/{name}/image/nostore"
        headers = {"Prediction-Key": keys["Prediction-Key"], "Content-Type": "application/octet-stream"}
        dets, lat = [], []
        with httpx.Client(timeout=60) as client:
            client.post(url, content=bodies[0], headers=headers)  # loads the model
            for body in bodies:
                t0 = time.perf_counter()
                r = client.post(url, content=body, headers=headers)
                lat.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text[:300]
                dets.append([
                    (tag_index[p["tagId"]], p["probability"],
                     (p["boundingBox"]["left"], p["boundingBox"]["top"], p["boundingBox"]["width"],
                      p["boundingBox"]["height"]))
                    for p in r.json()["predictions"]
                ])
        m = detection_metrics(truth, dets, len(CLASSES), iou_threshold=0.5)
        perf = trainer.get_iteration_performance(project.id, it.id)
        model = loaded_model(srv, it.id)
        bare = []
        for body in bodies:
            t0 = time.perf_counter()
            model.runner.detect([load_image(body)])
            bare.append((time.perf_counter() - t0) * 1000)
        rows.append((label, wall, m, perf, lat, bare, it.additional_properties.get("trainingTimeInMinutes")))

    return rows, len(train_set), len(test_set)


if __name__ == "__main__":
    main()
