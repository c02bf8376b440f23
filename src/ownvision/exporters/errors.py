"""Errors of the exporters; their messages are shown to users as the export's failure reason.

ExportFailed                the model could not be converted or failed its verification
└── MissingDependency       the converter's packages are not installed (names the pip extra)
"""

from __future__ import annotations


class ExportFailed(Exception):
    """The export cannot be produced; ``str(exc)`` says why, in words for the user."""


class MissingDependency(ExportFailed):
    """A converter's optional packages are missing.

    Args:
        platform: Wire name of the platform (``"TensorFlow"``).
        extra: The ownvision extra that installs them (``"export-tflite"``).
        exc: The ImportError met.
    """

    def __init__(self, platform: str, extra: str, exc: ImportError) -> None:
        missing = exc.name or str(exc)
        super().__init__(
            f"{platform} export needs packages that are not installed on the worker (missing {missing!r}); "
            f"install them with: pip install 'ownvision[{extra}]'"
        )
        self.extra = extra
