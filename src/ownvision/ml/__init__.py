"""Model training: the only package that imports torch.

``TrainingCancelled`` is importable without torch; the training API is loaded on first use, so
``from ownvision.ml import TrainingCancelled`` stays cheap in processes that never train.

Public API::

    from ownvision.ml import ClassifierConfig, TrainingSample, train_classifier
    trained = train_classifier(samples, num_classes=3, config=ClassifierConfig(backbone="lite0"))
    trained.onnx_model      # bytes: input "input" [B,3,H,W] -> "probabilities" [B,C]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ownvision.ml.errors import TrainingCancelled

if TYPE_CHECKING:
    from ownvision.ml.backbones import create_backbone, list_backbones
    from ownvision.ml.classifier import ClassifierConfig, TrainedClassifier, TrainingSample, train_classifier

__all__ = [
    "ClassifierConfig",
    "TrainedClassifier",
    "TrainingCancelled",
    "TrainingSample",
    "create_backbone",
    "list_backbones",
    "train_classifier",
]

_LAZY = {
    "ClassifierConfig": "ownvision.ml.classifier",
    "TrainedClassifier": "ownvision.ml.classifier",
    "TrainingSample": "ownvision.ml.classifier",
    "train_classifier": "ownvision.ml.classifier",
    "create_backbone": "ownvision.ml.backbones",
    "list_backbones": "ownvision.ml.backbones",
}


def __getattr__(name: str) -> Any:
    # Deferred so that importing the package (e.g. for TrainingCancelled) does not load torch.
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ownvision.ml' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
