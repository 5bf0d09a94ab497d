"""Smoke test of the benchmark harness (bench/run.py --smoke): it runs and every answer is exact.

A few requests per scenario against the scripted upstream directly and through ./entrypoint.sh.
No timing assertions: the figures of a smoke run mean nothing, only that the harness works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e


def test_bench_smoke_run_is_complete_and_exact(tmp_path: Path) -> None:
    out = tmp_path / "smoke.md"
    data = tmp_path / "smoke.json"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--smoke",
            "--no-install",
            "--strict",
            "--out",
            str(out),
            "--json",
            str(data),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    report = json.loads(data.read_text())
    assert report["rounds"] == 1
    assert set(report["targets"]) == {"direct", "project"}
    for scenario in ("small-1", "small-32", "stream-64", "stream-256", "burst-256", "bulk"):
        for target in ("direct", "project"):
            (summary,) = report["results"][scenario][target]
            assert summary["requests"] > 0, (scenario, target)
            assert summary["errors"] == 0, (scenario, target, summary["error_samples"])
            assert summary["inexact"] == 0, (scenario, target, summary["error_samples"])
            assert summary["ok"] == summary["requests"], (scenario, target, summary)
            if scenario != "small-1" and scenario != "small-32":
                assert summary["events_per_s"] > 0 and summary["ttfa_p50"] is not None
    (figures,) = report["think_filter"]
    assert figures["pass_exact"] and figures["think_exact"]
    assert report["slow"] == {}

    table = out.read_text()
    assert "| small-32 | req/s |" in table and "| think-filter |" in table
