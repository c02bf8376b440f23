"""Build one export bundle in a work folder: ``python -m ownvision.exporters WORKDIR --platform P [--flavor F]``.

The worker runs this in a child process (``worker/export_job.py``) so that a converter's crash or
memory use cannot take it down. The outcome is written to ``WORKDIR/result.json``::

    {"ok": true, "zip": "<path>", "verification": {...}, "notes": [...]}
    {"ok": false, "error": "<reason, in words for the user>"}

Exit status 0 when the bundle was built, 1 when it could not be (``result.json`` says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import get_exporter
from .base import ExportSource
from .errors import ExportFailed

RESULT_FILE = "result.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ownvision.exporters", description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="work folder laid out as ownvision.exporters.base describes")
    parser.add_argument("--platform", required=True, help="ONNX, DockerFile, OpenVino, TensorFlow, CoreML")
    parser.add_argument("--flavor", default=None, help="the platform's flavor (e.g. ONNX12, TensorFlowLite)")
    args = parser.parse_args(argv)
    result_path: Path = args.workdir / RESULT_FILE
    try:
        exporter = get_exporter(args.platform)
        flavor = exporter.check_flavor(args.flavor)
        built = exporter.build(ExportSource.load(args.workdir), flavor, args.workdir)
    except (ExportFailed, ValueError) as exc:
        result_path.write_text(json.dumps({"ok": False, "error": str(exc)}), encoding="utf-8")
        return 1
    except Exception as exc:  # any converter error becomes the export's failure reason
        result_path.write_text(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), encoding="utf-8")
        raise
    result = {"ok": True, "zip": str(built.path), "verification": built.verification, "notes": built.notes}
    result_path.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
