"""Trained models loaded for prediction: one ONNX Runtime session per iteration, kept warm (LRU)."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from .. import errors
from ..config import Settings
from ..db.tables import Iteration
from ..imaging import PreprocessSpec
from ..inference import ModelRunner
from ..inference.detector import DetectorRunner
from ..storage import BlobStore


@dataclass(frozen=True)
class LoadedModel:
    runner: ModelRunner | DetectorRunner
    tags: list[tuple[uuid.UUID, str, str]]  # id, name, type in model output order
    task: str  # "classification" | "detection"


class ModelCache:
    """Loaded models by iteration id, least recently used evicted first."""

    def __init__(self, blobs: BlobStore, settings: Settings) -> None:
        self.blobs = blobs
        self.settings = settings
        self.size = max(1, settings.model_cache_size)
        self._models: OrderedDict[uuid.UUID, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, iteration: Iteration, tags: list[tuple[uuid.UUID, str, str]]) -> LoadedModel:
        with self._lock:
            model = self._models.get(iteration.id)
            if model is not None:
                self._models.move_to_end(iteration.id)
                return model
        if not iteration.model_key or not iteration.model_manifest:
            raise errors.OwnVisionError("ErrorPredictionModelNotFound", f"Iteration {iteration.id} has no model.")
        manifest = iteration.model_manifest
        data = self.blobs.get(iteration.model_key)
        runner: ModelRunner | DetectorRunner
        if manifest.get("task") == "detection":
            runner = DetectorRunner(data, manifest["detector"], num_threads=self.settings.inference_threads)
        else:
            runner = ModelRunner(data, PreprocessSpec.from_dict(manifest["preprocess"]),
                                 num_threads=self.settings.inference_threads)
        order = {t[0]: t for t in tags}
        ordered = [order[uuid.UUID(t)] for t in manifest["tags"]]
        model = LoadedModel(runner, ordered, manifest.get("task", "classification"))
        with self._lock:
            self._models[iteration.id] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model

    def evict(self, iteration_id: uuid.UUID) -> None:
        with self._lock:
            self._models.pop(iteration_id, None)
