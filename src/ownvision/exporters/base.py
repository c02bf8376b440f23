"""What every exporter shares: its input (:class:`ExportSource`), the bundle's ``model.json``,
labels and README, zipping, and the verification against ONNX Runtime.

A build happens in a work folder laid out by the worker::

    workdir/source.json     iteration, tags (model order) and the model manifest
    workdir/model.onnx      the trained model as the server runs it
    workdir/images/*        a few of the iteration's training images (verification, int8 calibration)
    workdir/bundle/         what the exporter puts in the zip
"""

from __future__ import annotations

import importlib.resources
import json
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .errors import ExportFailed

BUNDLE_FORMAT = "ownvision-export/1"
SOURCE_FILE = "source.json"
MODEL_FILE = "model.onnx"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class ExportSource:
    """A trained iteration as the exporters see it.

    Attributes:
        model_path: The ONNX model (``input`` [B, 3, H, W] -> ``probabilities`` or ``scores``/``boxes``).
        manifest: The iteration's ``model_manifest`` (task, tags, preprocess or detector spec).
        tags: ``{"id", "name", "type"}`` per model output, in output order.
        iteration: ``{"id", "name", "projectId", "trainedAt", "domain"}``.
        images: Sample images of the iteration (may be empty).
    """

    model_path: Path
    manifest: dict[str, Any]
    tags: list[dict[str, str]]
    iteration: dict[str, Any]
    images: list[Path] = field(default_factory=list)

    @property
    def task(self) -> str:
        return str(self.manifest.get("task", "classification"))

    @classmethod
    def load(cls, workdir: Path) -> ExportSource:
        data = json.loads((workdir / SOURCE_FILE).read_text(encoding="utf-8"))
        images = sorted((workdir / IMAGES_DIR).glob("*")) if (workdir / IMAGES_DIR).is_dir() else []
        return cls(workdir / MODEL_FILE, data["manifest"], data["tags"], data["iteration"], images)

    def save(self, workdir: Path) -> None:
        """Write ``source.json`` (the model and images are put in place by the caller)."""
        data = {"manifest": self.manifest, "tags": self.tags, "iteration": self.iteration}
        (workdir / SOURCE_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")


@dataclass
class BuildResult:
    """A finished bundle: the zip and what its verification measured."""

    path: Path
    verification: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# ---- bundle contents -------------------------------------------------------------------------


def preprocess_json(source: ExportSource) -> dict[str, Any]:
    """How an image becomes the network input, for ``model.json`` (and ``predict.py``)."""
    m = source.manifest
    if source.task == "detection":
        d = m["detector"]
        return {
            "resize_mode": d.get("resize", "squash"),
            "input_height": int(d["input_height"]),
            "input_width": int(d["input_width"]),
            "crop_fraction": 1.0,
            "mean": list(d["mean"]),
            "std": list(d["std"]),
            "color": "RGB",
            "interpolation": "bicubic (Pillow)",
        }
    p = m["preprocess"]
    size = int(p.get("input_size", 224))
    return {
        "resize_mode": p.get("resize_mode", "squash"),
        "input_height": size,
        "input_width": size,
        "crop_fraction": float(p.get("crop_fraction", 0.875)),
        "mean": list(p.get("mean", [127.0] * 3)),
        "std": list(p.get("std", [128.0] * 3)),
        "color": "RGB",
        "interpolation": "bicubic (Pillow)",
    }


def postprocess_json(source: ExportSource) -> dict[str, Any]:
    if source.task == "detection":
        d = source.manifest["detector"]
        return {
            "kind": "fcos",
            "score_threshold": float(d["score_threshold"]),
            "nms_iou": float(d["nms_iou"]),
            "max_detections": int(d["max_detections"]),
            "topk_candidates": int(d["topk_candidates"]),
            "level_sizes": [int(n) for n in d["level_sizes"]],
            "scores": "sqrt(sigmoid(class) * sigmoid(centre-ness)) per location and tag",
            "boxes": "normalised x0, y0, x1, y1 per location",
        }
    multilabel = bool(source.manifest.get("multilabel", False))
    return {"kind": "sigmoid" if multilabel else "softmax", "multilabel": multilabel}


def output_names(source: ExportSource) -> list[str]:
    return ["scores", "boxes"] if source.task == "detection" else ["probabilities"]


def model_json(
    source: ExportSource,
    *,
    platform: str,
    flavor: str | None,
    runtime: str,
    model_file: str,
    layout: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The bundle's ``model.json``: everything needed to run the model without ownvision."""
    pre = preprocess_json(source)
    h, w = pre["input_height"], pre["input_width"]
    shape = [1, 3, h, w] if layout == "NCHW" else [1, h, w, 3]
    k = len(source.tags)
    outputs = (
        {
            "scores": {"shape": [1, sum(postprocess_json(source)["level_sizes"]), k]},
            "boxes": {"shape": [1, sum(postprocess_json(source)["level_sizes"]), 4]},
        }
        if source.task == "detection"
        else {"probabilities": {"shape": [1, k]}}
    )
    meta: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "platform": platform,
        "flavor": flavor,
        "runtime": runtime,
        "model_file": model_file,
        "task": source.task,
        "input": {"name": "input", "layout": layout, "shape": shape, "dtype": "float32"},
        "outputs": outputs,
        "preprocess": pre,
        "postprocess": postprocess_json(source),
        "tags": [{"id": t["id"], "name": t["name"], "type": t.get("type", "Regular")} for t in source.tags],
        "iteration": dict(source.iteration),
        "exported": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    meta.update(extra or {})
    return meta


def write_common(bundle: Path, meta: dict[str, Any], readme: str) -> None:
    """Write ``model.json``, ``labels.txt``, ``predict.py`` and ``README.md`` into the bundle folder."""
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (bundle / "labels.txt").write_text("".join(t["name"] + "\n" for t in meta["tags"]), encoding="utf-8")
    (bundle / "predict.py").write_text(standalone_source("predict.py"), encoding="utf-8")
    (bundle / "README.md").write_text(readme, encoding="utf-8")


def standalone_source(name: str) -> str:
    """The text of a file of :mod:`ownvision.exporters.standalone` (copied into bundles)."""
    return importlib.resources.files("ownvision.exporters.standalone").joinpath(name).read_text(encoding="utf-8")


def zip_folder(folder: Path, dest: Path) -> Path:
    """Zip a folder's contents (deflated, paths relative to it) into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return dest


def bundle_name(source: ExportSource, platform: str, flavor: str | None) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(source.iteration.get("name", "model")))
    return f"{safe.strip('-').lower() or 'model'}-{platform.lower()}{'-' + flavor.lower() if flavor else ''}.zip"


def readme_header(source: ExportSource, title: str) -> str:
    it = source.iteration
    tags = ", ".join(t["name"] for t in source.tags)
    task = (
        "object detector"
        if source.task == "detection"
        else ("multilabel classifier" if source.manifest.get("multilabel") else "multiclass classifier")
    )
    pre = preprocess_json(source)
    return (
        f"# {title}\n\n"
        f"Exported by ownvision from iteration **{it.get('name')}** (`{it.get('id')}`) of project "
        f"`{it.get('projectId')}`, trained {it.get('trainedAt')} on domain {it.get('domain')}: a {task} "
        f"over {len(source.tags)} tags ({tags}).\n\n"
        "## Input\n\n"
        f"One RGB image, resized to {pre['input_width']} x {pre['input_height']} pixels "
        f"({pre['resize_mode']}, Pillow bicubic), then `(pixel - {pre['mean'][0]:g}) / {pre['std'][0]:g}` per "
        "channel. `model.json` holds the exact recipe (`preprocess`), the tags in output order (`tags`) and the "
        "post-processing (`postprocess`); `labels.txt` lists the tag names, one a line, in output order.\n\n"
    )


def output_section(source: ExportSource) -> str:
    if source.task == "detection":
        return (
            "## Output\n\n"
            "`scores` [1, N, K]: per feature-map location and tag, `sqrt(sigmoid(class) * sigmoid(centre-ness))`; "
            "`boxes` [1, N, 4]: normalised `x0, y0, x1, y1`. Keep scores above `postprocess.score_threshold`, "
            "at most `topk_candidates` per pyramid level (`level_sizes`), then class-wise non-maximum suppression "
            "at IoU `nms_iou` and the best `max_detections`: `predict.py` does exactly that (`detections()`).\n\n"
        )
    kind = "independent sigmoid scores" if source.manifest.get("multilabel") else "softmax probabilities"
    return f"## Output\n\n`probabilities` [1, K]: {kind}, in the order of `labels.txt`.\n\n"


def predict_section(backend: str, install: str) -> str:
    return (
        "## Run it\n\n"
        "```sh\n"
        f"pip install numpy pillow {install}\n"
        f"python predict.py --backend {backend} photo.jpg   # prints a Custom Vision ImagePrediction\n"
        "```\n\n"
        "```python\n"
        "from predict import ExportedModel\n"
        f"model = ExportedModel('.', backend='{backend}')\n"
        "result = model.predict(open('photo.jpg', 'rb').read())\n"
        "print(result['predictions'][0])\n"
        "```\n\n"
    )


def verification_section(report: dict[str, Any]) -> str:
    return (
        "## Verification\n\n"
        "Before this bundle was offered, ownvision ran it with `predict.py` on "
        f"{report.get('inputs', 0)} input(s) and compared the outputs with ONNX Runtime on the original model: "
        f"largest absolute difference {report.get('max_abs_diff', 0):.2e} (allowed {report.get('tolerance', 0):g}); "
        "the figures are in `verification.json`.\n"
    )


# ---- verification ----------------------------------------------------------------------------


def load_predict(folder: Path) -> ModuleType:
    """Import the bundle's own ``predict.py`` (a fresh module object each time)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"ownvision_bundle_predict_{id(folder)}", folder / "predict.py")
    if spec is None or spec.loader is None:
        raise ExportFailed(f"cannot load {folder / 'predict.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _server_runner(source: ExportSource) -> Any:
    """The server's own runner for the original model (``ownvision.inference``)."""
    from ..imaging import PreprocessSpec
    from ..inference import ModelRunner
    from ..inference.detector import DetectorRunner

    if source.task == "detection":
        return DetectorRunner(source.model_path, source.manifest["detector"], num_threads=2)
    return ModelRunner(source.model_path, PreprocessSpec.from_dict(source.manifest["preprocess"]), num_threads=2)


def reference(source: ExportSource, limit: int = 8) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """What the server computes: ``(input [1, 3, H, W], raw outputs)`` for the sample images, made by
    ``ownvision.imaging``/``ownvision.inference``, plus one noise input when there are fewer than two."""
    from ..imaging import load_image, preprocess

    runner = _server_runner(source)
    inputs = []
    for path in source.images[:limit]:
        image = load_image(path)
        x = runner.preprocess(image) if source.task == "detection" else preprocess(image, runner.preprocess)
        inputs.append(x[None].astype(np.float32))
    if len(inputs) < 2:
        pre = preprocess_json(source)
        rng = np.random.default_rng(0)
        inputs.append(rng.normal(0.0, 0.6, (1, 3, pre["input_height"], pre["input_width"])).astype(np.float32))
    out = []
    for x in inputs:
        if source.task == "detection":
            scores, boxes = runner.run(x)
            out.append((x, {"scores": scores, "boxes": boxes}))
        else:
            out.append((x, {"probabilities": runner.run(x)}))
    return out


def verify(
    folder: Path,
    source: ExportSource,
    *,
    tolerance: float,
    backend: str | None = None,
    model_file: str | None = None,
    min_top1: float = 1.0,
    limit: int = 8,
) -> dict[str, Any]:
    """Run the bundle in ``folder`` through its ``predict.py`` and compare with ONNX Runtime.

    Checks (1) that ``predict.py`` preprocesses sample images exactly as the server does, and (2)
    that the converted network's raw outputs stay within ``tolerance`` (absolute) of the original's,
    and, for classifiers, that the top tag agrees on at least ``min_top1`` of the inputs.

    Returns:
        A JSON-able report (``max_abs_diff`` per output, ``top1_agreement``...).

    Raises:
        ExportFailed: A check failed; the message gives the numbers.
    """
    predict = load_predict(folder)
    model = predict.ExportedModel(folder, backend, model_file)
    pairs = reference(source, limit)
    inputs = [x for x, _ in pairs]
    pre = model.meta["preprocess"]
    from ..imaging import load_image

    pixel_diff = 0.0
    for path, x in zip(source.images[:limit], inputs, strict=False):
        ours = predict.preprocess(load_image(path), pre)
        pixel_diff = max(pixel_diff, float(np.abs(ours - x).max()))
    if pixel_diff > 1e-5:
        raise ExportFailed(f"predict.py preprocesses images differently from the server (max diff {pixel_diff:.3g})")
    refs = [r for _, r in pairs]
    diffs: dict[str, float] = {}
    agree = 0
    for x, ref in zip(inputs, refs, strict=True):
        got = model.raw(x)
        for name, value in ref.items():
            if got[name].shape != value.shape:
                raise ExportFailed(f"output {name} has shape {got[name].shape}, expected {value.shape}")
            diffs[name] = max(diffs.get(name, 0.0), float(np.abs(got[name] - value).max()))
        if "probabilities" in ref:
            agree += int(np.argmax(got["probabilities"]) == np.argmax(ref["probabilities"]))
    report: dict[str, Any] = {
        "backend": model.backend,
        "model_file": model_file or model.meta["model_file"],
        "inputs": len(inputs),
        "images": min(len(source.images), limit),
        "tolerance": tolerance,
        "max_abs_diff": max(diffs.values()),
        "max_abs_diff_per_output": diffs,
        "preprocess_max_abs_diff": pixel_diff,
    }
    if source.task != "detection":
        report["top1_agreement"] = agree / len(inputs)
        if agree < min_top1 * len(inputs):
            raise ExportFailed(
                f"the exported model's top tag agrees with the original on {agree} of {len(inputs)} inputs only"
            )
    if report["max_abs_diff"] > tolerance:
        raise ExportFailed(
            f"the exported model's outputs differ from the original by up to "
            f"{report['max_abs_diff']:.3g} (allowed {tolerance:g}): {diffs}"
        )
    return report


def write_verification(bundle: Path, reports: dict[str, Any]) -> None:
    (bundle / "verification.json").write_text(json.dumps(reports, indent=2), encoding="utf-8")
