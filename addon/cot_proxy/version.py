"""The proxy's version, from the VERSION file at the top of the tree.

One place: entrypoint.sh (`--version`, the log's first line), the image's OCI label (the
Dockerfile's ARG, checked against it by tests/test_deploy.py) and `/health` all read it.
"""

from __future__ import annotations

from pathlib import Path

_FILE = Path(__file__).resolve().parents[2] / "VERSION"  # addon/cot_proxy/ -> the top


def _read() -> str:
    try:
        return _FILE.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


VERSION = _read()
