"""Smoke test of the benchmark harness (bench/run.py --smoke): it runs and every answer is exact.

A few requests per scenario against the scripted upstream directly and through ./entrypoint.sh:
every scenario of `make bench` at a tiny size, the stream sweep and the soak included. No timing
assertions: the figures of a smoke run mean nothing, only that the harness works. The second test
shows that the soak's answer check can fail: told to expect the think blocks the proxy removes,
it must count those answers wrong and fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e

LOAD_SCENARIOS = (
    "small-1",
    "small-32",
    "no-keepalive",
    "long-context",
    "long-stream",
    "stream-64",
    "stream-256",
    "burst-256",
    "bulk",
    "stream-responses",
    "stream-messages",
    "stream-ollama",
)
REQUESTS_ONLY = {"small-1", "small-32", "no-keepalive", "long-context"}


def run_bench(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Any, str]:
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
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(data.read_text()) if data.exists() else None
    return done, report, out.read_text() if out.exists() else ""


def test_bench_smoke_run_is_complete_and_exact(tmp_path: Path) -> None:
    done, report, table = run_bench(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    assert report["rounds"] == 1
    assert set(report["targets"]) == {"direct", "project"}
    for scenario in LOAD_SCENARIOS:
        for target in ("direct", "project"):
            (summary,) = report["results"][scenario][target]
            assert summary["requests"] > 0, (scenario, target)
            assert summary["errors"] == 0, (scenario, target, summary["error_samples"])
            assert summary["inexact"] == 0, (scenario, target, summary["error_samples"])
            assert summary["ok"] == summary["requests"], (scenario, target, summary)
            if scenario not in REQUESTS_ONLY:
                assert summary["events_per_s"] > 0 and summary["ttfa_p50"] is not None
            if target == "direct":
                assert summary["passed_through"] == 0  # direct is never taken for filtered
    (figures,) = report["think_filter"]
    assert figures["pass_exact"] and figures["think_exact"] and figures["json_loads_per_s"] > 0
    assert report["slow"] == {}

    for target in ("direct", "project"):
        for level, runs in report["sweep"][target].items():
            assert runs and all(r["errors"] == r["inexact"] == 0 for r in runs), (target, level)
    assert report["sizing"] is not None

    soak = report["soak"]
    assert soak["exact"] and soak["ok"] == soak["total"] >= 200, soak["error_samples"]
    kinds = soak["by_kind"]
    for kind in ("chat", "chat-stream", "long", "error-500", "error-429", "hang-up"):
        assert kinds.get(kind, 0) > 0, kinds
    for fmt in ("responses", "messages", "ollama"):
        assert kinds.get(fmt, 0) > 0, kinds
    assert soak["samples"] and soak["growth_mb"] is not None

    assert "| small-32 | req/s |" in table and "| think-filter |" in table
    assert "| stream-ollama | TTFA p50 ms |" in table and "| soak |" in table


def test_bench_soak_fails_on_a_wrong_answer(tmp_path: Path) -> None:
    done, report, table = run_bench(tmp_path, "--soak", "--soak-expect", "keep")
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    soak = report["soak"]
    assert not soak["exact"] and not soak["passed"]
    assert soak["inexact"] > 0, soak
    assert "| soak | answers" in table and "**MISS**" in table
