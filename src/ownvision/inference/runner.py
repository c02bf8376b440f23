"""ONNX Runtime execution of trained classifiers, without torch.

A :class:`ModelRunner` owns one CPU ``InferenceSession`` and the :class:`PreprocessSpec` the model was
trained with. Models produced by ``ownvision.ml`` take ``input`` (float32 ``[B, 3, H, W]``, made by
:func:`ownvision.imaging.preprocess`) and return ``probabilities`` ``[B, C]``.

Example:
    >>> runner = ModelRunner(onnx_bytes, spec, num_threads=2)
    >>> probs = runner.classify([Image.open("shoe.jpg")])   # [1, C]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ownvision.imaging import PreprocessSpec, preprocess_batch
from ownvision.inference.session import open_session

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


class ModelRunner:
    """Classify PIL images with an exported ONNX model on the CPU.

    Thread-safe: ``InferenceSession.run`` may be called concurrently.

    Args:
        model: ONNX model as bytes, or a path to a ``.onnx`` file.
        preprocess: The recipe the model was trained with.
        num_threads: ONNX Runtime intra-op threads.
        max_batch: Images preprocessed at a time; longer lists are split to bound memory.

    Raises:
        ValueError: If the model cannot be loaded or lacks the ``input``/``probabilities`` tensors.
    """

    def __init__(
        self,
        model: bytes | str | Path,
        preprocess: PreprocessSpec,
        *,
        num_threads: int = 2,
        max_batch: int = 16,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._session = open_session(model, num_threads=num_threads)
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ValueError(
                f"ONNX model must have input {INPUT_NAME!r} and output {OUTPUT_NAME!r}, "
                f"found inputs {sorted(inputs)} and outputs {sorted(outputs)}"
            )
        shape = inputs[INPUT_NAME].shape
        size = preprocess.input_size
        if len(shape) != 4 or any(isinstance(d, int) and d != want for d, want in zip(shape[1:], (3, size, size))):
            raise ValueError(f"model input shape {shape} does not match preprocess input size {size}")
        out_shape = outputs[OUTPUT_NAME].shape
        self.num_classes: int | None = out_shape[-1] if isinstance(out_shape[-1], int) else None
        self.preprocess = preprocess
        self.max_batch = max_batch

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on preprocessed inputs.

        Args:
            batch: float32 ``[N, 3, H, W]`` from :func:`ownvision.imaging.preprocess_batch`.

        Returns:
            float32 probabilities ``[N, C]``.
        """
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"batch must be [N, 3, H, W], got shape {batch.shape}")
        outs = [  # one image per call: the session's batch is fixed at 1 (see .session)
            self._session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(batch[i : i + 1], np.float32)})[0]
            for i in range(len(batch))
        ]
        if not outs:
            return np.zeros((0, self.num_classes or 0), dtype=np.float32)
        return np.concatenate(outs).astype(np.float32, copy=False)

    def classify(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Classify images.

        Args:
            images: Pillow images in any mode and size (apply EXIF orientation beforehand, e.g. with
                :func:`ownvision.imaging.load_image`).

        Returns:
            float32 probabilities ``[N, C]``: softmax rows for multiclass models, independent sigmoid
            scores for multilabel models.
        """
        outs = [
            self.run(preprocess_batch(images[i : i + self.max_batch], self.preprocess))
            for i in range(0, len(images), self.max_batch)
        ]
        if not outs:
            return np.zeros((0, self.num_classes or 0), dtype=np.float32)
        return np.concatenate(outs)
