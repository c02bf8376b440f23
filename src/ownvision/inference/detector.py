"""ONNX Runtime execution of trained object detectors, without torch.

The exported graph (see ``ownvision.ml.detection``) maps ``input`` [B, 3, H, W] to ``scores``
[B, N, K] (``sqrt(sigmoid(class) * sigmoid(centre-ness))`` per location and class) and ``boxes``
[B, N, 4] (normalised ``x0, y0, x1, y1``). Thresholding and non-maximum suppression are done here in
numpy, mirroring torchvision's ``FCOS.postprocess_detections`` that produced the held-out figures:
per pyramid level, keep scores above the threshold and the ``topk_candidates`` best of them; then
class-wise greedy NMS (a box is dropped when its IoU with a higher-scored box of the same class
exceeds ``nms_iou``); then the ``max_detections`` best.

Example:
    >>> runner = DetectorRunner(trained.onnx_model, trained.spec, num_threads=2)
    >>> [d.label for d in runner.detect([Image.open("scene.jpg")])[0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ownvision.imaging import PreprocessSpec, normalize, to_rgb
from ownvision.inference.session import open_session

SPEC_FORMAT = "ownvision-fcos/1"
_REQUIRED = ("input_height", "input_width", "mean", "std", "num_classes", "level_sizes", "score_threshold",
             "nms_iou", "max_detections", "topk_candidates")


@dataclass(frozen=True)
class Detection:
    """One detected object; coordinates normalised to the image and clipped to [0, 1]."""

    label: int
    score: float
    left: float
    top: float
    width: float
    height: float


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression.

    Greedy NMS visits boxes by decreasing score and a box's fate depends only on higher-scored boxes,
    so stopping after ``max_keep`` kept boxes gives exactly the first ``max_keep`` of the full result.

    Args:
        boxes: ``[D, 4]`` ``(x0, y0, x1, y1)``.
        scores: ``[D]``.
        iou_threshold: A box is dropped when its IoU with a kept, higher-scored box exceeds this.
        max_keep: Stop after keeping this many (default: no limit).

    Returns:
        int64 indices of the kept boxes, by decreasing score.
    """
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    limit = len(order) if max_keep is None else max_keep
    while order.size and len(keep) < limit:
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


def postprocess(
    scores: np.ndarray,
    boxes: np.ndarray,
    *,
    level_sizes: Sequence[int],
    score_threshold: float,
    nms_iou: float,
    max_detections: int,
    topk_candidates: int,
) -> list[Detection]:
    """Turn one image's network outputs into detections.

    Args:
        scores: ``[N, K]``.
        boxes: ``[N, 4]`` normalised ``(x0, y0, x1, y1)``.
        level_sizes: Locations per pyramid level (they sum to N).
        score_threshold: Keep scores strictly above this.
        nms_iou: Class-wise NMS IoU threshold.
        max_detections: Kept after NMS.
        topk_candidates: Kept per level before NMS.

    Returns:
        Detections by decreasing score.
    """
    num_classes = scores.shape[1]
    cand_boxes, cand_scores, cand_labels = [], [], []
    start = 0
    for size in level_sizes:
        flat = scores[start : start + size].reshape(-1)
        idx = np.flatnonzero(flat > score_threshold)
        if idx.size > topk_candidates:
            idx = idx[np.argpartition(-flat[idx], topk_candidates - 1)[:topk_candidates]]
        cand_scores.append(flat[idx])
        cand_labels.append(idx % num_classes)
        cand_boxes.append(boxes[start + idx // num_classes])
        start += size
    all_scores = np.concatenate(cand_scores).astype(np.float64)
    if all_scores.size == 0:
        return []
    all_labels = np.concatenate(cand_labels)
    all_boxes = np.concatenate(cand_boxes).astype(np.float64)
    # Class-wise NMS in one pass: shifting each class's boxes apart means boxes of different classes
    # never overlap (torchvision's batched_nms does the same).
    shifted = all_boxes + (all_labels * (all_boxes.max() - all_boxes.min() + 1.0))[:, None]
    keep = nms(shifted, all_scores, nms_iou, max_keep=max_detections)
    out = []
    for k in keep:
        x0, y0, x1, y1 = np.clip(all_boxes[k], 0.0, 1.0)
        out.append(Detection(int(all_labels[k]), float(all_scores[k]), float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
    return out


class DetectorRunner:
    """Detect objects in PIL images with an exported detector on the CPU (NMS in numpy).

    Thread-safe: ``InferenceSession.run`` may be called concurrently.

    Args:
        model: ONNX model bytes or a path to a ``.onnx`` file.
        spec: ``TrainedDetector.spec``: input size, normalisation and post-processing settings.
        num_threads: ONNX Runtime intra-op threads.
        max_batch: Images per ``run`` call.

    Raises:
        ValueError: The model cannot be loaded, or the spec is incomplete or does not fit the model.
    """

    def __init__(self, model: bytes | str | Path, spec: dict[str, Any], *, num_threads: int = 2, max_batch: int = 8) -> None:
        missing = [k for k in _REQUIRED if k not in spec]
        if missing:
            raise ValueError(f"detector spec lacks {missing}")
        if spec.get("format", SPEC_FORMAT) != SPEC_FORMAT:
            raise ValueError(f"unsupported detector spec format {spec.get('format')!r}, expected {SPEC_FORMAT!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.spec = dict(spec)
        self.input_hw = (int(spec["input_height"]), int(spec["input_width"]))
        self.norm = PreprocessSpec(mean=tuple(spec["mean"]), std=tuple(spec["std"]))
        self.num_classes = int(spec["num_classes"])
        self.max_batch = max_batch
        self._input = str(spec.get("input_name", "input"))
        self._outputs = [str(n) for n in spec.get("output_names", ["scores", "boxes"])]
        self._session = open_session(model, num_threads=num_threads)
        inputs = {i.name: i.shape for i in self._session.get_inputs()}
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        if self._input not in inputs or any(n not in outputs for n in self._outputs):
            raise ValueError(f"ONNX model has inputs {sorted(inputs)} and outputs {sorted(outputs)}, spec names "
                             f"{self._input!r} and {self._outputs}")
        want = (3, *self.input_hw)
        if any(isinstance(d, int) and d != w for d, w in zip(inputs[self._input][1:], want, strict=False)):
            raise ValueError(f"model input {inputs[self._input]} does not match the spec's input size {self.input_hw}")
        n_locations = outputs[self._outputs[0]][1]
        if isinstance(n_locations, int) and n_locations != sum(spec["level_sizes"]):
            raise ValueError(f"model has {n_locations} locations but the spec's levels sum to {sum(spec['level_sizes'])}")

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Squash an image to the network input and normalise it -> float32 ``[3, H, W]``."""
        h, w = self.input_hw
        rgb = to_rgb(image).resize((w, h), Image.Resampling.BICUBIC)
        return normalize(np.asarray(rgb, dtype=np.uint8), self.norm)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network outputs for preprocessed ``[B, 3, H, W]`` -> ``scores`` [B, N, K], ``boxes`` [B, N, 4]."""
        outs = [  # one image per call: the session's batch is fixed at 1 (see .session)
            self._session.run(self._outputs, {self._input: np.ascontiguousarray(batch[i : i + 1], dtype=np.float32)})
            for i in range(len(batch))
        ]
        if not outs:
            n = sum(self.spec["level_sizes"])
            return np.zeros((0, n, self.num_classes), np.float32), np.zeros((0, n, 4), np.float32)
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def detect(self, images: Sequence[Image.Image], *, min_score: float | None = None) -> list[list[Detection]]:
        """Detect objects.

        Args:
            images: Pillow images, any mode and size (apply EXIF orientation first, e.g. with
                :func:`ownvision.imaging.load_image`).
            min_score: Report detections scoring above this (default: the spec's ``score_threshold``).

        Returns:
            Per image, detections by decreasing score (at most ``max_detections``).
        """
        threshold = float(self.spec["score_threshold"] if min_score is None else min_score)
        out: list[list[Detection]] = []
        for start in range(0, len(images), self.max_batch):
            chunk = images[start : start + self.max_batch]
            scores, boxes = self.run(np.stack([self.preprocess(im) for im in chunk]))
            for s, b in zip(scores, boxes, strict=True):
                out.append(postprocess(
                    s, b, level_sizes=self.spec["level_sizes"], score_threshold=threshold,
                    nms_iou=float(self.spec["nms_iou"]), max_detections=int(self.spec["max_detections"]),
                    topk_candidates=int(self.spec["topk_candidates"]),
                ))
        return out
