"""The soak: many mixed requests against one proxy process, its memory sampled over time.

A fixed mix, repeated (`mix()`): buffered chat answers with think blocks, short chat streams, one
stream of each other wire format, long-context requests, upstream errors (a buffered 500 and a
streamed request answered 429) and clients that hang up mid-stream. Every answer is checked
exactly as in the other scenarios (bench/load.py): a wrong one fails the soak.

RSS (`VmRSS` of the proxy process) is sampled with the number of answers so far, every
`SAMPLE_S` seconds or every 1/`SAMPLES` of the requests, whichever comes first. The growth after warm-up is the median of the last samples minus the median of
the samples right after the warm-up (the first `WARMUP_SHARE` of the requests): the medians ride
over the ups and downs of the buffers in flight, and a leak shows as a steady climb.

Bounded in count (`total`) and time (`deadline_s`); 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

from load import Result
from load import Spec
from load import Template
from load import run_load
from load import run_loop
from load import template

SAMPLE_S = 1.0
SAMPLES = 200
WARMUP_SHARE = 0.1
EDGE_SAMPLES = 10  # samples on each side whose medians give the growth
GROWTH_LIMIT_MB = 10.0


def mix(host: str, port: int, stripped: bool | None, long_model: str) -> list[Template]:
    """One round of the mix (20 requests), in the order a worker sends them."""

    def spec(**kw: Any) -> Spec:
        base: dict[str, Any] = {"connections": 1, "requests_per_conn": 1, "stripped": stripped}
        return Spec(**{**base, **kw})

    small = template(host, port, spec(stream=False), name="chat")
    stream = template(host, port, spec(stream=True, tokens=12, think_tokens=4), name="chat-stream")
    kinds = [
        small,
        stream,
        small,
        template(host, port, spec(stream=True, tokens=12, fmt="responses")),
        small,
        template(host, port, spec(stream=False), status=500, name="error-500"),
        stream,
        small,
        template(host, port, spec(stream=True, tokens=12, fmt="messages")),
        small,
        template(
            host, port, spec(stream=False, history_bytes=200_000, model=long_model), name="long"
        ),
        stream,
        small,
        template(host, port, spec(stream=True, tokens=12, fmt="ollama")),
        small,
        template(host, port, spec(stream=True), status=429, name="error-429"),
        template(
            host,
            port,
            spec(stream=True, tokens=40, think_tokens=4, delay=0.005),
            disconnect_after=8,
            name="hang-up",
        ),
        small,
        stream,
        small,
    ]
    return kinds


@dataclasses.dataclass
class Soak:
    result: Result
    samples: list[tuple[float, int, float]]  # (seconds since start, answers so far, RSS MB)
    total: int
    warmup_answers: int

    def growth_mb(self) -> float | None:
        after = [s for s in self.samples if s[1] >= self.warmup_answers]
        if len(after) < 2:
            return None
        edge = max(1, min(EDGE_SAMPLES, len(after) // 3))
        first = statistics.median(s[2] for s in after[:edge])
        last = statistics.median(s[2] for s in after[-edge:])
        return last - first

    def peak_mb(self) -> float | None:
        return max((s[2] for s in self.samples), default=None)

    def exact(self) -> bool:
        r = self.result
        return r.errors == 0 and r.inexact == 0 and r.ok == r.requests == self.total

    def passed(self) -> bool:
        growth = self.growth_mb()
        return self.exact() and growth is not None and growth <= GROWTH_LIMIT_MB

    def summary(self) -> dict[str, Any]:
        return {
            **self.result.summary(),
            "total": self.total,
            "warmup_answers": self.warmup_answers,
            "samples": self.samples,
            "growth_mb": self.growth_mb(),
            "peak_rss_mb": self.peak_mb(),
            "exact": self.exact(),
            "passed": self.passed(),
        }


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total_kb / 1024


def soak(
    host: str,
    port: int,
    pids: list[int],
    total: int,
    connections: int,
    deadline_s: float,
    stripped: bool | None = True,
    long_model: str = "bench",
) -> Soak:
    """Send `total` requests of the mix over `connections` connections; sample RSS of `pids`."""
    kinds = mix(host, port, stripped, long_model)
    per_conn = -(-total // connections)
    samples: list[tuple[float, int, float]] = []
    answers = 0
    every = max(1, total // SAMPLES)
    start = time.monotonic()
    next_sample = start

    def tick() -> None:
        nonlocal answers, next_sample
        answers += 1
        now = time.monotonic()
        if now >= next_sample or answers % every == 0:
            samples.append((now - start, answers, rss_mb(pids)))
            next_sample = now + SAMPLE_S

    result: Result = run_loop(
        run_load(host, port, kinds, connections, per_conn, deadline_s, tick=tick)
    )
    samples.append((time.monotonic() - start, answers, rss_mb(pids)))
    return Soak(result, samples, per_conn * connections, int(per_conn * connections * WARMUP_SHARE))
