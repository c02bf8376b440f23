"""End-to-end classification benchmark through the server: train, publish, predict over HTTP.

Runs ``ownvision serve`` (API and worker processes) on loopback over a temporary data folder, uploads K images per
tag of clothing-small through the official SDK, trains (Regular, optionally Advanced), then measures:

- top-1 accuracy on the test split, predicted through the Prediction API;
- training wall time (TrainProject to Completed);
- prediction latency over HTTP (p50/p95, one client, 640x480 JPEGs) and throughput with 4 concurrent
  clients, next to the bare ONNX Runtime time of the same model in the same run;
- a plain baseline on the same training images, in the same run: frozen EfficientNet-Lite0 ImageNet
  features (shorter side 256 bicubic, centre crop 224, ``(x - 127) / 128``) and scikit-learn's
  logistic regression, evaluated on the same test images (``--no-baseline`` skips it).

Data: ../shared/datasets/clothing-small (or --dataset); get it from
https://github.com/alexeygrigorev/clothing-dataset-small (folders train/, test/, one folder per class).

    python bench/classification_server.py --k 30 --domain "General"
    python bench/classification_server.py --k 0 --domain "General"          # the whole train split
    python bench/classification_server.py --k 30 --domain "General (compact)" --advanced-hours 1 --advanced-cap-s 600
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training.models import (  # noqa: E402
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from bench.common import loaded_model, percentile, served  # noqa: E402
from msrest.authentication import ApiKeyCredentials  # noqa: E402
from tests.served import Served  # noqa: E402

from ownvision.imaging import load_image  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "clothing-small"


def jpeg_640x480(path: Path) -> bytes:
    img = Image.open(path).convert("RGB").resize((640, 480))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def sample(root: Path, k: int | None, seed: int) -> dict[str, list[Path]]:
    rng = random.Random(seed)
    out = {}
    for folder in sorted(p for p in (root / "train").iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.jpg"))
        rng.shuffle(files)
        out[folder.name] = files if k is None else files[:k]
    return out


def baseline_lite0(chosen: dict[str, list[Path]], test_files: list[tuple[str, Path]]) -> tuple[float, float]:
    """Top-1 of frozen Lite0 features + logistic regression, and its wall time (features and fit)."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from ownvision.ml.backbones import create_backbone

    torch.set_num_threads(2)
    model = create_backbone("lite0").eval()

    def features(paths: list[Path]) -> np.ndarray:
        rows = []
        for path in paths:
            img = Image.open(path).convert("RGB")
            scale = 256 / min(img.size)
            img = img.resize((max(224, round(img.width * scale)), max(224, round(img.height * scale))),
                             Image.BICUBIC)
            left, top = (img.width - 224) // 2, (img.height - 224) // 2
            x = np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.float32)
            x = torch.from_numpy((x - 127.0) / 128.0).permute(2, 0, 1)[None]
            with torch.no_grad():
                rows.append(model(x)[0].numpy())
        return np.stack(rows)

    started = time.perf_counter()
    names = sorted(chosen)
    x_train = features([p for n in names for p in chosen[n]])
    y_train = [n for n in names for _ in chosen[n]]
    clf = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    wall = time.perf_counter() - started
    predicted = clf.predict(features([p for _t, p in test_files]))
    return float(np.mean([a == t for a, (t, _p) in zip(predicted, test_files, strict=True)])), wall


def train(trainer: CustomVisionTrainingClient, project_id: str, **kw: object) -> tuple[object, float]:
    started = time.perf_counter()
    it = trainer.train_project(project_id, **kw)
    while it.status == "Training":
        time.sleep(0.5)
        it = trainer.get_iteration(project_id, it.id)
    return it, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--k", type=int, default=30, help="training images per tag (0: the whole train split)")
    ap.add_argument("--domain", default="General")
    ap.add_argument("--advanced-hours", type=int, default=0, help="also train Advanced with this budget")
    ap.add_argument("--advanced-cap-s", type=float, default=None, help="cap on the Advanced budget, seconds")
    ap.add_argument("--latency-n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true", help="skip the Lite0 + logistic regression baseline")
    args = ap.parse_args()
    if not (args.dataset / "train").is_dir():
        sys.exit(f"{args.dataset} not found; get clothing-small from https://github.com/alexeygrigorev/clothing-dataset-small")

    with served(advanced_budget_cap_s=args.advanced_cap_s) as (srv, keys):
        rows, n_train, chosen, test_files, lat, throughput, bare = run(args, srv, keys)
    baseline = None if args.no_baseline else baseline_lite0(chosen, test_files)

    print(f"\nclothing-small, domain {args.domain!r}, K={args.k or 'all'} per tag, {n_train} training images, "
          f"{len(test_files)} test images")
    print("| training | wall time (s) | top-1 (test) | precision* | recall* | mAP* |")
    print("|---|---|---|---|---|---|")
    for label, wall, acc, p, r, ap, *_ in rows:
        print(f"| {label} | {wall:.1f} | {acc:.1%} | {p:.3f} | {r:.3f} | {ap:.3f} |")
    if baseline is not None:
        print(f"| baseline: Lite0 features + logistic regression | {baseline[1]:.1f} | {baseline[0]:.1%} | | | |")
    print("* held-out figures reported by GetIterationPerformance (threshold 0.5)")
    print("\n| prediction (640x480 JPEG) | p50 ms | p95 ms | throughput |")
    print("|---|---|---|---|")
    print(f"| HTTP, 1 client | {statistics.median(lat):.1f} | {percentile(lat, 0.95):.1f} | |")
    print(f"| HTTP, 4 clients | | | {throughput:.1f}/s |")
    print(f"| bare ONNX Runtime (decode+preprocess+run) | {statistics.median(bare):.1f} | {percentile(bare, 0.95):.1f} | |")


def run(args: argparse.Namespace, srv: Served, keys: dict[str, str]) -> tuple[Any, ...]:
    trainer = CustomVisionTrainingClient(srv.url, ApiKeyCredentials(in_headers={"Training-key": keys["Training-Key"]}))
    predictor = CustomVisionPredictionClient(srv.url, ApiKeyCredentials(in_headers={"Prediction-key": keys["Prediction-Key"]}))
    domain = next(d for d in trainer.get_domains() if d.name == args.domain and d.type == "Classification")
    project = trainer.create_project(f"clothing k={args.k}", domain_id=domain.id)
    chosen = sample(args.dataset, args.k or None, args.seed)
    tags = {name: trainer.create_tag(project.id, name) for name in chosen}
    entries = [ImageFileCreateEntry(name=p.name, contents=p.read_bytes(), tag_ids=[tags[name].id])
               for name, paths in chosen.items() for p in paths]
    for i in range(0, len(entries), 64):
        res = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[i:i + 64]))
        assert all(r.status in ("OK", "OKDuplicate") for r in res.images), [r.status for r in res.images]

    rows = []
    runs = [("Regular", {})]
    if args.advanced_hours:
        runs.append(("Advanced", {"training_type": "Advanced", "reserved_budget_in_hours": args.advanced_hours,
                                  "force_train": True}))
    test_files = [(folder.name, p) for folder in sorted((args.dataset / "test").iterdir()) if folder.is_dir()
                  for p in sorted(folder.glob("*.jpg"))]
    for label, kw in runs:
        it, wall = train(trainer, project.id, **kw)
        assert it.status == "Completed", it.training_error_details
        name = f"bench-{label}"
        trainer.publish_iteration(project.id, it.id, name, "bench")
        correct = 0
        for truth, path in test_files:
            r = predictor.classify_image_with_no_store(project.id, name, path.read_bytes())
            correct += max(r.predictions, key=lambda p: p.probability).tag_name == truth
        perf = trainer.get_iteration_performance(project.id, it.id)
        rows.append((label, wall, correct / len(test_files), perf.precision, perf.recall, perf.average_precision, name, it))

    # latency over HTTP, one client, 640x480 JPEGs
    name = rows[0][6]
    url = f"{srv.url}/customvision/v3.1/prediction/{project.id}/classify/iterations/{name}/image/nostore"
    headers = {"Prediction-Key": keys["Prediction-Key"], "Content-Type": "application/octet-stream"}
    bodies = [jpeg_640x480(p) for _t, p in test_files[: args.latency_n]]
    client = httpx.Client()
    client.post(url, content=bodies[0], headers=headers)
    lat = []
    for body in bodies:
        t0 = time.perf_counter()
        r = client.post(url, content=body, headers=headers)
        lat.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    def worker(chunk: list[bytes]) -> None:
        with httpx.Client() as c:
            for b in chunk:
                c.post(url, content=b, headers=headers)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, [bodies[i::4] for i in range(4)]))
    throughput = len(bodies) / (time.perf_counter() - t0)
    # the bare model, loaded here as the server loads it (same ONNX Runtime settings)
    model = loaded_model(srv, rows[0][7].id)
    bare = []
    for body in bodies[:50]:
        t0 = time.perf_counter()
        model.runner.classify([load_image(body)])
        bare.append((time.perf_counter() - t0) * 1000)
    return rows, len(entries), chosen, test_files, lat, throughput, bare


if __name__ == "__main__":
    main()
