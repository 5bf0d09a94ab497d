"""Where things are: the repository, the results, the venv's tools; the one host we use."""

from __future__ import annotations

import sys
from pathlib import Path

HOST = "127.0.0.1"
BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parent
RESULTS = BENCH / "results"
ADDON = REPO / "addon"
VENV_BIN = Path(sys.executable).parent
