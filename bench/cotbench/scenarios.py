"""The scenarios of the benchmark: one typed row each, in the order the report shows them.

A row carries everything about its scenario: what kind of load it is, its sizes for the three
modes (full, quick, smoke), the wire format, the figures the report's main table shows for it
and their targets, and whether it is also measured against WORKERS=2 and on uvloop. Adding a
scenario is one row here (and one line in bench/README.md's table).
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Literal
from typing import TypeVar

from load import Spec

Mode = Literal["full", "quick", "smoke"]
# requests: measured per request (req/s, latency); streams: per upstream event (TTFA, events/s);
# the others are phases of their own (after the rounds, or in-process micro-benchmarks).
Kind = Literal["requests", "streams", "think-filter", "json-codec", "sweep", "slow", "soak"]

MEASURE_DEADLINE = 60.0  # seconds, for one measurement (one scenario, one target, one round)
LONG_MODEL = "bench-long"
LONG_HISTORY_BYTES = 200_000  # what coding agents send
# The project's rule for the long-context model: forced params and history strip (a rewrite).
LONG_RULE = f"model={LONG_MODEL},temperature=0.6,top_p=0.95,history=strip"
LOOP_TARGETS = ("floor", "floor-uvloop", "project", "project-uvloop")
SLOW_RSS_LIMIT_MB = 150
# The think filter's speed relative to json.loads of the same events (see micro.think_filter_round),
# measured at this commit (median of 5 rounds): what "no slower than now" holds it to.
THINK_FILTER_BASELINE: dict[str, Any] = {
    "commit": "70e3ff8",
    "pass_events_per_s": 2.10,
    "think_events_per_s": 0.47,
    "batched_events_per_s": 17.2,
}
# One round's ratio still varies by up to ~15% on a shared machine (5 rounds at 70e3ff8:
# pass-through 1.94-2.58); a median below 0.85x the baseline is a real slowdown.
THINK_FILTER_SLACK = 0.85


@dataclasses.dataclass(frozen=True)
class Run:
    """What a mode runs: rounds of the interleaved scenarios, seconds for the whole run."""

    rounds: int
    budget: float


RUNS: dict[Mode, Run] = {
    "full": Run(rounds=5, budget=1320),  # with the default profiles (cli.FULL_PROFILES)
    "quick": Run(rounds=3, budget=420),
    "smoke": Run(rounds=1, budget=90),
}


@dataclasses.dataclass(frozen=True)
class Load:
    """One load's size: the fields of load.Spec a scenario sets (the rest are Spec's defaults)."""

    connections: int
    requests_per_conn: int
    tokens: int = 16
    think_tokens: int = 8
    delay: float = 0.0
    history_bytes: int = 0
    model: str = "bench"


@dataclasses.dataclass(frozen=True)
class Sweep:
    levels: tuple[int, ...]  # concurrent streams, one stream per connection
    rounds: int
    tokens: int = 50
    think_tokens: int = 20
    delay: float = 0.02


@dataclasses.dataclass(frozen=True)
class Soak:
    total: int
    connections: int
    deadline: float


@dataclasses.dataclass(frozen=True)
class Events:
    """The think filter's events per round (split over micro.FILTER_REPEATS passes)."""

    events: int


@dataclasses.dataclass(frozen=True)
class Repeat:
    """The JSON codec's repeats per body (the best one counts)."""

    repeat: int


Size = Load | Sweep | Soak | Events | Repeat
S = TypeVar("S", Load, Sweep, Soak, Events, Repeat)


@dataclasses.dataclass(frozen=True)
class Figure:
    """One row of the main table for a load scenario: a key of the per-round summaries."""

    label: str
    key: str
    unit: str = ""  # "ms": seconds shown as ms
    check: Literal["min", "max"] | None = None  # the project/floor ratio must be ≥ / ≤ bound
    bound: float | None = None
    vs_direct: bool = True  # also show project/direct


def request_figures(target: float) -> tuple[Figure, ...]:
    return (
        Figure("req/s", "req_per_s", check="min", bound=target),
        Figure("latency p50 ms", "latency_p50", "ms"),
        Figure("latency p99 ms", "latency_p99", "ms"),
        Figure("CPU µs/request", "cpu_us_per_unit", vs_direct=False),
    )


CPU_PER_EVENT = Figure("CPU µs/event", "cpu_us_per_unit", vs_direct=False)
STREAM_FIGURES = (
    Figure("TTFA p50 ms", "ttfa_p50", "ms", check="max", bound=1.0),
    Figure("TTFA p99 ms", "ttfa_p99", "ms"),
    Figure("events/s", "events_per_s", check="min", bound=1.0),
    CPU_PER_EVENT,
)
BULK_FIGURES = (Figure("events/s", "events_per_s", check="min", bound=1.0), CPU_PER_EVENT)
# Informational: CPU-bound streaming, for WORKERS.
BURST_FIGURES = (Figure("events/s", "events_per_s"), CPU_PER_EVENT)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    kind: Kind
    full: Size
    quick: Size
    smoke: Size | None  # None: not run in smoke mode
    figures: tuple[Figure, ...] = ()  # load scenarios: their rows in the main table
    stream: bool = False  # the client asks for streamed answers
    fmt: str = "chat"  # a format of bench/wire.py
    keepalive: bool = True
    workers: bool = False  # also measured against WORKERS=2 (project-w2)
    workers_target: float | None = None  # WORKERS=2 against one process, at least
    loops: bool = False  # also measured on uvloop (floor and project)

    @property
    def is_load(self) -> bool:
        """Measured in the interleaved rounds against every target."""
        return self.kind in ("requests", "streams")

    @property
    def per_request(self) -> bool:
        """Measured in requests (req/s, latency, CPU per request), not in upstream events."""
        return self.kind == "requests"

    def size(self, mode: Mode) -> Size | None:
        return {"full": self.full, "quick": self.quick, "smoke": self.smoke}[mode]

    def runs_in(self, mode: Mode) -> bool:
        return self.size(mode) is not None

    def sized(self, mode: Mode, kind: type[S]) -> S:
        size = self.size(mode)
        if not isinstance(size, kind):
            raise ValueError(f"{self.name} has no {kind.__name__} size in {mode} mode")
        return size


def _stream(connections: int, requests_per_conn: int) -> Load:
    return Load(connections, requests_per_conn, tokens=50, think_tokens=20, delay=0.02)


def _burst(connections: int, requests_per_conn: int) -> Load:
    """The paced streams' answers, as fast as possible."""
    return Load(connections, requests_per_conn, tokens=50, think_tokens=20)


def _long(load: Load) -> Load:
    """`load` as coding agents send it: ~200 KB of history, to the long-context rule's model."""
    return dataclasses.replace(load, history_bytes=LONG_HISTORY_BYTES, model=LONG_MODEL)


def _tiny(connections: int, delay: float = 0.005) -> Load:
    return Load(connections, 1, tokens=10, think_tokens=4, delay=delay)


def _format(fmt: str) -> Scenario:
    """`stream-64`'s load (2 streams per connection) in another wire format."""
    return Scenario(
        f"stream-{fmt}",
        "streams",
        _stream(64, 2),
        _stream(64, 1),
        _tiny(2),
        STREAM_FIGURES,
        stream=True,
        fmt=fmt,
    )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "small-1",
        "requests",
        Load(1, 500),
        Load(1, 200),
        Load(1, 5),
        request_figures(1.4),
    ),
    Scenario(
        "small-32",
        "requests",
        Load(32, 50),
        Load(32, 15),
        Load(4, 2),
        request_figures(1.4),
        workers=True,
        workers_target=1.5,
        loops=True,
    ),
    Scenario(
        "no-keepalive",
        "requests",
        Load(32, 25),
        Load(32, 8),
        Load(4, 2),
        request_figures(1.0),
        keepalive=False,
    ),
    Scenario(
        "long-context",
        "requests",
        _long(Load(8, 25)),
        _long(Load(8, 8)),
        _long(Load(2, 2)),
        request_figures(0.9),
    ),
    Scenario(
        "long-stream",
        "requests",
        _long(_burst(8, 15)),
        _long(_burst(8, 5)),
        _long(_burst(2, 1)),
        request_figures(0.9),
        stream=True,
    ),
    Scenario(
        "stream-64",
        "streams",
        _stream(64, 3),
        _stream(64, 1),
        _tiny(4),
        STREAM_FIGURES,
        stream=True,
    ),
    Scenario(
        "stream-256",
        "streams",
        _stream(256, 1),
        _stream(256, 1),
        _tiny(8),
        STREAM_FIGURES,
        stream=True,
        workers=True,
        loops=True,
    ),
    Scenario(
        "burst-256",
        "streams",
        _burst(256, 2),
        _burst(256, 1),
        _tiny(8, delay=0.0),
        BURST_FIGURES,
        stream=True,
        workers=True,
    ),
    Scenario(
        "bulk",
        "streams",
        Load(16, 1, tokens=5000, think_tokens=500),
        Load(16, 1, tokens=1000, think_tokens=100),
        Load(2, 1, tokens=200, think_tokens=20),
        BULK_FIGURES,
        stream=True,
    ),
    _format("responses"),
    _format("messages"),
    _format("ollama"),
    Scenario("think-filter", "think-filter", Events(200_000), Events(50_000), Events(2_000)),
    Scenario("json-codec", "json-codec", Repeat(20), Repeat(20), Repeat(2)),
    Scenario(
        "sweep",
        "sweep",
        Sweep((1, 16, 32, 64, 128, 256, 512, 1000), rounds=1),
        Sweep((1, 64, 256, 1000), rounds=1),
        Sweep((1, 8), rounds=1, tokens=10, think_tokens=4, delay=0.005),
    ),
    Scenario(
        "slow-1000",
        "slow",
        Load(1000, 1, tokens=5, think_tokens=1, delay=1.0),
        Load(1000, 1, tokens=3, think_tokens=1, delay=0.5),
        None,
        stream=True,
    ),
    Scenario(
        "soak",
        "soak",
        Soak(total=100_000, connections=64, deadline=480),
        Soak(total=10_000, connections=32, deadline=90),
        Soak(total=200, connections=8, deadline=30),
    ),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
NAMES = [scenario.name for scenario in SCENARIOS]
LOAD_SCENARIOS = [scenario for scenario in SCENARIOS if scenario.is_load]


def scenario(name: str) -> Scenario:
    return BY_NAME[name]


def load_spec(scenario: Scenario, mode: Mode, stripped: bool, deadline: float) -> Spec:
    """The load.Spec of one measurement of a load scenario (or slow-1000)."""
    load = scenario.sized(mode, Load)
    if scenario.kind == "slow":
        # Long-lived streams: the deadline covers them (tokens * delay plus slack).
        events = load.tokens + load.think_tokens + 4
        deadline = max(deadline, events * load.delay + 30)
    return Spec(
        stream=scenario.stream,
        fmt=scenario.fmt,
        stripped=stripped,
        keepalive=scenario.keepalive,
        deadline=deadline,
        request_timeout=min(deadline, MEASURE_DEADLINE),
        **dataclasses.asdict(load),
    )
