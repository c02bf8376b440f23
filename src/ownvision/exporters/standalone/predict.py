"""Run an exported ownvision model on images, outside the server (numpy + Pillow + one runtime).

This file is copied unchanged into every export bundle beside ``model.json``. It repeats the server's
preprocessing (``ownvision.imaging``) and detection post-processing (``ownvision.inference.detector``)
so that an exported model answers like the server; ownvision's tests and every export job check that
it does.

Usage::

    python predict.py photo.jpg                # prints the ImagePrediction JSON
    python predict.py --backend tflite photo.jpg

    from predict import ExportedModel
    model = ExportedModel(".")                 # the folder holding model.json
    model.predict(open("photo.jpg", "rb").read())["predictions"][0]

Backends (chosen from ``model.json``'s ``runtime``, or with ``--backend``): ``onnxruntime`` (pip install
onnxruntime), ``openvino`` (pip install openvino), ``tflite`` (pip install ai-edge-litert, or
tflite-runtime, or tensorflow) and ``savedmodel`` (pip install tensorflow).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

FORMAT = "ownvision-export/1"
_LETTERBOX_FILL = (127, 127, 127)

Outputs = dict[str, np.ndarray]


# ---- preprocessing (mirrors ownvision.imaging.preprocess) --------------------------------------


def load_image(data: bytes) -> Image.Image:
    """Decode image bytes to an upright RGB image (EXIF orientation applied, transparency on white)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        return to_rgb(ImageOps.exif_transpose(opened))


def to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        scale = 255.0 / (65535.0 if max(float(arr.max()), 1.0) > 255 else 255.0)
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def resize(image: Image.Image, mode: str, height: int, width: int, crop_fraction: float) -> Image.Image:
    """``squash`` (whole image to H x W), ``center_crop`` or ``letterbox`` (square inputs only), bicubic."""
    w, h = image.size
    if mode == "squash":
        return image.resize((width, height), Image.Resampling.BICUBIC)
    size = height
    if mode == "center_crop":
        scale = (size / crop_fraction) / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        resized = image.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        return resized.crop((left, top, left + size, top + size))
    if mode == "letterbox":
        scale = size / max(w, h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = Image.new("RGB", (size, size), _LETTERBOX_FILL)
        canvas.paste(image.resize((nw, nh), Image.Resampling.BICUBIC), ((size - nw) // 2, (size - nh) // 2))
        return canvas
    raise ValueError(f"unknown resize mode {mode!r}")


def preprocess(image: Image.Image, pre: dict[str, Any]) -> np.ndarray:
    """RGB image -> float32 ``[1, 3, H, W]`` as the model expects (``model.json`` ``preprocess``)."""
    rgb = resize(
        to_rgb(image),
        pre["resize_mode"],
        int(pre["input_height"]),
        int(pre["input_width"]),
        float(pre.get("crop_fraction", 0.875)),
    )
    pixels = np.asarray(rgb, dtype=np.uint8)
    x = np.empty((1, 3, *pixels.shape[:2]), dtype=np.float32)  # one conversion, then in-place arithmetic
    np.copyto(x[0], pixels.transpose(2, 0, 1), casting="unsafe")
    x -= np.asarray(pre["mean"], dtype=np.float32).reshape(3, 1, 1)
    x /= np.asarray(pre["std"], dtype=np.float32).reshape(3, 1, 1)
    return x


# ---- detection post-processing (mirrors ownvision.inference.detector) --------------------------


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int) -> np.ndarray:
    """Greedy NMS by decreasing score, stopping after ``max_keep`` kept boxes (the same as cutting after)."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size and len(keep) < max_keep:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def detections(scores: np.ndarray, boxes: np.ndarray, post: dict[str, Any]) -> list[dict[str, Any]]:
    """One image's ``scores`` [N, K] and ``boxes`` [N, 4] -> detections by decreasing score."""
    num_classes = scores.shape[1]
    threshold, topk = float(post["score_threshold"]), int(post["topk_candidates"])
    cand_boxes, cand_scores, cand_labels = [], [], []
    start = 0
    for size in post["level_sizes"]:
        flat = scores[start : start + size].reshape(-1)
        idx = np.flatnonzero(flat > threshold)
        if idx.size > topk:
            idx = idx[np.argpartition(-flat[idx], topk - 1)[:topk]]
        cand_scores.append(flat[idx])
        cand_labels.append(idx % num_classes)
        cand_boxes.append(boxes[start + idx // num_classes])
        start += size
    all_scores = np.concatenate(cand_scores).astype(np.float64)
    if all_scores.size == 0:
        return []
    all_labels = np.concatenate(cand_labels)
    all_boxes = np.concatenate(cand_boxes).astype(np.float64)
    # class-wise NMS in one pass: each class's boxes are shifted apart so that classes never overlap
    shifted = all_boxes + (all_labels * (all_boxes.max() - all_boxes.min() + 1.0))[:, None]
    keep = nms(shifted, all_scores, float(post["nms_iou"]), int(post["max_detections"]))
    out = []
    for k in keep:
        x0, y0, x1, y1 = (float(v) for v in np.clip(all_boxes[k], 0.0, 1.0))
        out.append(
            {
                "label": int(all_labels[k]),
                "probability": float(all_scores[k]),
                "boundingBox": {"left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0},
            }
        )
    return out


# ---- runtimes ----------------------------------------------------------------------------------


def _onnxruntime(folder: Path, meta: dict[str, Any]) -> Callable[[np.ndarray], Outputs]:
    import onnxruntime as ort

    # The settings ownvision's server runs the model with (so the outputs match it exactly). Fixing
    # the batch at 1 lets ONNX Runtime fold the padding arithmetic of the graph: a third faster.
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_free_dimension_override_by_name("batch", 1)
    session = ort.InferenceSession(str(folder / meta["model_file"]), options, providers=["CPUExecutionProvider"])
    names = list(meta["outputs"])
    input_name = meta["input"]["name"]

    def run(x: np.ndarray) -> Outputs:
        return dict(zip(names, session.run(names, {input_name: x}), strict=True))

    return run


def _openvino(folder: Path, meta: dict[str, Any]) -> Callable[[np.ndarray], Outputs]:
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(
        core.read_model(str(folder / meta["model_file"])),
        "CPU",
        {"INFERENCE_NUM_THREADS": 2, "INFERENCE_PRECISION_HINT": "f32"},
    )
    request = compiled.create_infer_request()
    names = list(meta["outputs"])

    def run(x: np.ndarray) -> Outputs:
        result = request.infer({0: x})
        return {n: np.asarray(result[compiled.output(n)]) for n in names}

    return run


def _tflite_interpreter(path: Path) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(path), num_threads=2)


def _tflite(folder: Path, meta: dict[str, Any], model_file: str | None = None) -> Callable[[np.ndarray], Outputs]:
    interpreter = _tflite_interpreter(folder / (model_file or meta["model_file"]))
    runner = interpreter.get_signature_runner()
    input_name = meta["input"]["name"]
    details = runner.get_input_details()[input_name]
    scale, zero = details.get("quantization", (0.0, 0))

    def run(x: np.ndarray) -> Outputs:
        nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        if details["dtype"] != np.float32:  # an integer input: quantise as the converter asked
            nhwc = np.clip(
                np.round(nhwc / scale + zero), np.iinfo(details["dtype"]).min, np.iinfo(details["dtype"]).max
            ).astype(details["dtype"])
        out = runner(**{input_name: nhwc})
        return {n: np.asarray(out[n], dtype=np.float32) for n in meta["outputs"]}

    return run


def _savedmodel(folder: Path, meta: dict[str, Any]) -> Callable[[np.ndarray], Outputs]:
    import tensorflow as tf

    fn = tf.saved_model.load(str(folder / meta["savedmodel_dir"])).signatures["serving_default"]
    input_name = meta["input"]["name"]

    def run(x: np.ndarray) -> Outputs:
        out = fn(**{input_name: tf.constant(x.transpose(0, 2, 3, 1))})
        return {n: out[n].numpy() for n in meta["outputs"]}

    return run


BACKENDS = {"onnxruntime": _onnxruntime, "openvino": _openvino, "tflite": _tflite, "savedmodel": _savedmodel}


# ---- the model ---------------------------------------------------------------------------------


class ExportedModel:
    """An exported iteration: the network, its labels and its pre- and post-processing.

    Args:
        folder: The unzipped bundle (holding ``model.json``).
        backend: One of :data:`BACKENDS`; default: ``model.json``'s ``runtime``.
        model_file: Another model file of the bundle for the same backend (e.g. the quantised TFLite).
    """

    def __init__(self, folder: str | Path = ".", backend: str | None = None, model_file: str | None = None) -> None:
        self.folder = Path(folder)
        self.meta: dict[str, Any] = json.loads((self.folder / "model.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"model.json has format {self.meta.get('format')!r}, expected {FORMAT!r}")
        self.backend = backend or self.meta["runtime"]
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {sorted(BACKENDS)}")
        if model_file is not None:
            if self.backend != "tflite":
                raise ValueError("model_file is only for the tflite backend")
            self._run = _tflite(self.folder, self.meta, model_file)
        else:
            self._run = BACKENDS[self.backend](self.folder, self.meta)
        self.tags: list[dict[str, str]] = self.meta["tags"]

    def raw(self, x: np.ndarray) -> Outputs:
        """Network outputs for one preprocessed image ``[1, 3, H, W]``."""
        return self._run(np.ascontiguousarray(x, dtype=np.float32))

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return preprocess(image, self.meta["preprocess"])

    def predictions(self, image: Image.Image) -> list[dict[str, Any]]:
        """Every tag's probability (classification) or the detected boxes, by decreasing probability."""
        out = self.raw(self.preprocess(image))
        items: list[dict[str, Any]] = []
        if self.meta["task"] == "detection":
            for d in detections(out["scores"][0], out["boxes"][0], self.meta["postprocess"]):
                tag = self.tags[d["label"]]
                items.append(
                    {
                        "probability": d["probability"],
                        "tagId": tag["id"],
                        "tagName": tag["name"],
                        "boundingBox": d["boundingBox"],
                    }
                )
        else:
            for p, tag in zip(out["probabilities"][0].tolist(), self.tags, strict=True):
                items.append({"probability": float(p), "tagId": tag["id"], "tagName": tag["name"]})
        items.sort(key=lambda item: -item["probability"])
        return items

    def predict(self, data: bytes) -> dict[str, Any]:
        """Image bytes -> a Custom Vision ``ImagePrediction`` (``id``, ``project``, ``iteration``,
        ``created``, ``predictions``)."""
        preds = self.predictions(load_image(data))
        for p in preds:
            p.setdefault("boundingBox", None)
        now = _dt.datetime.now(_dt.UTC)
        return {
            "id": str(uuid.uuid4()),
            "project": self.meta["iteration"]["projectId"],
            "iteration": self.meta["iteration"]["id"],
            "created": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "predictions": preds,
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Predict images with an exported ownvision model.")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--model", default=str(Path(__file__).resolve().parent), help="bundle folder")
    parser.add_argument("--backend", choices=sorted(BACKENDS), help="runtime (default: model.json's)")
    parser.add_argument("--model-file", help="another model file of the bundle (tflite backend)")
    args = parser.parse_args(argv)
    model = ExportedModel(args.model, args.backend, args.model_file)
    for path in args.images:
        result = model.predict(Path(path).read_bytes())
        print(json.dumps(result if len(args.images) == 1 else {"file": path, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
