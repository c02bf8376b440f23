"""Enumerations of the Custom Vision wire format (values are the exact wire strings)."""

from __future__ import annotations

from enum import StrEnum


class DomainType(StrEnum):
    CLASSIFICATION = "Classification"
    OBJECT_DETECTION = "ObjectDetection"


class ClassificationType(StrEnum):
    MULTICLASS = "Multiclass"
    MULTILABEL = "Multilabel"


class TagType(StrEnum):
    REGULAR = "Regular"
    NEGATIVE = "Negative"
    GENERAL_PRODUCT = "GeneralProduct"


class TrainingType(StrEnum):
    REGULAR = "Regular"
    ADVANCED = "Advanced"


class IterationStatus(StrEnum):
    TRAINING = "Training"
    COMPLETED = "Completed"
    FAILED = "Failed"


class ExportPlatform(StrEnum):
    CORE_ML = "CoreML"
    TENSORFLOW = "TensorFlow"
    DOCKERFILE = "DockerFile"
    ONNX = "ONNX"
    VAIDK = "VAIDK"
    OPENVINO = "OpenVino"


class ImageCreateStatus(StrEnum):
    OK = "OK"
    OK_DUPLICATE = "OKDuplicate"
    ERROR_SOURCE = "ErrorSource"
    ERROR_IMAGE_FORMAT = "ErrorImageFormat"
    ERROR_IMAGE_SIZE = "ErrorImageSize"
    ERROR_STORAGE = "ErrorStorage"
    ERROR_LIMIT_EXCEED = "ErrorLimitExceed"
    ERROR_TAG_LIMIT_EXCEED = "ErrorTagLimitExceed"
    ERROR_REGION_LIMIT_EXCEED = "ErrorRegionLimitExceed"
    ERROR_UNKNOWN = "ErrorUnknown"
    ERROR_NEGATIVE_AND_REGULAR = "ErrorNegativeAndRegularTagOnSameImage"
    ERROR_IMAGE_DIMENSIONS = "ErrorImageDimensions"
    ERROR_INVALID_TAG = "ErrorInvalidTag"


class OrderBy(StrEnum):
    NEWEST = "Newest"
    OLDEST = "Oldest"
