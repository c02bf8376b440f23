"""Object detection benchmark on BCCD (blood cells) and a smoke check on the Custom Vision quickstart.

BCCD: 364 blood-smear images (640x480), Pascal VOC boxes for RBC, WBC and Platelets; trains on
``trainval`` (292 images) and evaluates on ``test`` (72 images). The data set is looked up in
``../shared/datasets/bccd`` (or ``--bccd``); get it from https://github.com/Shenggan/BCCD_Dataset
(MIT): ``git clone https://github.com/Shenggan/BCCD_Dataset`` and pass ``--bccd BCCD_Dataset``.

For each mode it prints: mAP@0.5 (all-point interpolated AP, COCO-style greedy matching, see
``ownvision.evaluation.detection``), per-class AP, mAP@[.5:.95], training wall time (the whole
``train_detector`` call: feature caching, held-out model, final model, ONNX export), and the
single-image ONNX Runtime latency (2 threads) of a 640x480 JPEG: decode + resize + network + NMS, p50
and p90 over the test images.

The quickstart check (``--quickstart``) trains Regular on the official fork/scissors images
(``azure-quickstart/CustomVision/ObjectDetection``) and prints what it finds in ``test/test_image.jpg``.

Usage::

    python bench/ml_detection.py --mode regular --budget 240
    python bench/ml_detection.py --mode advanced --budget 1500
    python bench/ml_detection.py --quickstart --budget 120
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ownvision.evaluation.detection import detection_metrics
from ownvision.imaging import load_image
from ownvision.inference.detector import DetectorRunner
from ownvision.ml.detector import DetectionSample, DetectorConfig, train_detector

CLASSES = ("RBC", "WBC", "Platelets")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def load_voc(root: Path, split: str) -> list[DetectionSample]:
    """Read a BCCD split (``BCCD/ImageSets/Main/{split}.txt``) as samples with normalised boxes."""
    base = root / "BCCD"
    names = (base / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
    samples = []
    for name in names:
        tree = ET.parse(base / "Annotations" / f"{name}.xml").getroot()
        w = float(tree.findtext("size/width") or 640)
        h = float(tree.findtext("size/height") or 480)
        boxes, labels = [], []
        for obj in tree.iter("object"):
            label = (obj.findtext("name") or "").strip()
            bb = obj.find("bndbox")
            if label not in CLASSES or bb is None:
                continue
            x0, y0, x1, y1 = (float(bb.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax"))
            if x1 <= x0 or y1 <= y0:
                continue  # a few BCCD boxes are degenerate
            boxes.append((x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h))
            labels.append(CLASSES.index(label))
        samples.append(DetectionSample(base / "JPEGImages" / f"{name}.jpg", tuple(boxes), tuple(labels)))
    return samples


def evaluate(runner: DetectorRunner, test: list[DetectionSample]) -> dict[str, object]:
    truth = [[(c, b) for c, b in zip(s.labels, s.boxes, strict=True)] for s in test]
    dets, times = [], []
    for s in test:
        data = s.path.read_bytes()
        t = time.perf_counter()
        found = runner.detect([load_image(data)])[0]
        times.append(time.perf_counter() - t)
        dets.append([(d.label, d.score, (d.left, d.top, d.width, d.height)) for d in found])
    m50 = detection_metrics(truth, dets, len(CLASSES), iou_threshold=0.5)
    coco = [detection_metrics(truth, dets, len(CLASSES), iou_threshold=t).mean_average_precision
            for t in np.arange(0.5, 0.96, 0.05)]
    return {
        "map50": m50.mean_average_precision,
        "per_class": [c.average_precision for c in m50.per_class],
        "map5095": float(np.mean(coco)),
        "precision@0.5": m50.precision,
        "recall@0.5": m50.recall,
        "p50_ms": 1000 * float(np.median(times)),
        "p90_ms": 1000 * float(np.percentile(times, 90)),
    }


def held_out_map(trained: object, train: list[DetectionSample]) -> float:
    held = trained.held_out  # type: ignore[attr-defined]
    truth = [[(c, b) for c, b in zip(train[i].labels, train[i].boxes, strict=True)] for i, _ in held]
    dets = [[(c, s, b) for c, s, b in rows] for _, rows in held]
    return detection_metrics(truth, dets, len(CLASSES)).mean_average_precision


def run_bccd(args: argparse.Namespace, mode: str) -> dict[str, object]:
    train, test = load_voc(args.bccd, "trainval"), load_voc(args.bccd, "test")
    budget = args.budget or (240.0 if mode == "regular" else 1500.0)
    config = DetectorConfig(backbone=args.backbone, advanced=mode == "advanced", time_budget_s=budget,
                            seed=args.seed, num_threads=2, input_long_side=args.long_side)
    t = time.perf_counter()
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  [{time.perf_counter() - t:6.0f}s] {fraction:4.0%} {message}", file=sys.stderr)

    trained = train_detector(train, len(CLASSES), config, progress=progress)
    wall = time.perf_counter() - t
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        (args.save / f"{mode}.onnx").write_bytes(trained.onnx_model)
        (args.save / f"{mode}.json").write_text(json.dumps(trained.spec))
    runner = DetectorRunner(trained.onnx_model, trained.spec, num_threads=2)
    result = evaluate(runner, test)
    result.update(mode=mode, budget_s=budget, train_s=wall, held_out_map50=held_out_map(trained, train),
                  onnx_mb=len(trained.onnx_model) / 1e6, details=trained.details)
    return result


def run_quickstart(args: argparse.Namespace) -> None:
    root = args.quickstart_dir
    regions = json.loads((root / "regions.json").read_text())
    tags = ["fork", "scissors"]
    samples = [DetectionSample(root / "Images" / tag / f"{name}.jpg", (tuple(box),), (k,))
               for k, tag in enumerate(tags) for name, box in regions[tag].items()]
    t = time.perf_counter()
    trained = train_detector(samples, len(tags), DetectorConfig(time_budget_s=args.budget or 120.0, seed=args.seed,
                                                                num_threads=2))
    print(f"quickstart: {len(samples)} images, trained in {time.perf_counter() - t:.0f}s, "
          f"held-out mAP@0.5 {detection_metrics(*_held(trained, samples), len(tags)).mean_average_precision:.3f}")
    runner = DetectorRunner(trained.onnx_model, trained.spec)
    for d in runner.detect([load_image(root / "Images" / "test" / "test_image.jpg")], min_score=0.1)[0][:5]:
        print(f"  {tags[d.label]:9s} {d.score:.3f}  left {d.left:.3f} top {d.top:.3f} width {d.width:.3f} height {d.height:.3f}")


def _held(trained: object, samples: list[DetectionSample]) -> tuple[list[object], list[object]]:
    held = trained.held_out  # type: ignore[attr-defined]
    truth = [[(c, b) for c, b in zip(samples[i].labels, samples[i].boxes, strict=True)] for i, _ in held]
    return truth, [rows for _, rows in held]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["regular", "advanced", "both"], default="regular")
    parser.add_argument("--budget", type=float, default=None, help="seconds (default: 240 Regular, 1500 Advanced)")
    parser.add_argument("--long-side", type=int, default=None, help="override the network input's long side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbone", default="lite0", help="lite0 (the compact domains) or lite2 (General)")
    parser.add_argument("--bccd", type=Path, default=SHARED / "bccd")
    parser.add_argument("--quickstart", action="store_true", help="run the fork/scissors check instead")
    parser.add_argument("--quickstart-dir", type=Path, default=SHARED / "azure-quickstart" / "CustomVision" / "ObjectDetection")
    parser.add_argument("--json", action="store_true", help="also print the raw results as JSON")
    parser.add_argument("--save", type=Path, default=None, help="write MODE.onnx and MODE.json (the spec) here")
    args = parser.parse_args()
    if args.quickstart:
        run_quickstart(args)
        return
    if not (args.bccd / "BCCD" / "Annotations").is_dir():
        sys.exit(f"BCCD not found under {args.bccd}; git clone https://github.com/Shenggan/BCCD_Dataset and pass --bccd")
    modes = ["regular", "advanced"] if args.mode == "both" else [args.mode]
    rows = [run_bccd(args, m) for m in modes]
    print("| mode | budget | train wall | mAP@0.5 | RBC | WBC | Platelets | mAP@.5:.95 | held-out mAP@0.5 | p50 latency | p90 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pc = r["per_class"]
        print(f"| {r['mode']} | {r['budget_s']:.0f} s | {r['train_s']:.0f} s | {r['map50']:.3f} | {pc[0]:.3f} | {pc[1]:.3f} | "
              f"{pc[2]:.3f} | {r['map5095']:.3f} | {r['held_out_map50']:.3f} | {r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms |")
    if args.json:
        print(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
