"""Torch-free image decoding and preprocessing, shared by training (``ml``) and serving (``inference``)."""

from ownvision.imaging.preprocess import (
    RESIZE_MODES,
    PreprocessSpec,
    ResizeMode,
    load_image,
    normalize,
    preprocess,
    preprocess_batch,
    resize,
    to_rgb,
)

__all__ = [
    "RESIZE_MODES",
    "PreprocessSpec",
    "ResizeMode",
    "load_image",
    "normalize",
    "preprocess",
    "preprocess_batch",
    "resize",
    "to_rgb",
]
