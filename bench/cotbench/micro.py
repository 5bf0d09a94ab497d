"""The in-process micro-benchmarks: the think filter alone, and the JSON codec of the rules.

Both import the project (cot_proxy, from addon/) when they run, not when this module loads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from load import Spec
from load import request_body
from wire import chat_event

from cotbench.scenarios import LONG_HISTORY_BYTES
from cotbench.scenarios import LONG_MODEL

FILTER_REPEATS = 4  # each figure is the best of this many passes over events/FILTER_REPEATS


def think_filter_round(events: int) -> dict[str, Any]:
    """The pure stream filter, best of a few passes: a neighbour on the machine only slows a
    pass down, so the fastest is the steadiest figure."""
    passes = [think_filter_pass(max(1, events // FILTER_REPEATS)) for _ in range(FILTER_REPEATS)]
    best: dict[str, Any] = {}
    for key in passes[0]:
        values = [p[key] for p in passes]
        best[key] = max(values) if key.endswith("_per_s") else all(values)
    return best


def think_filter_pass(events: int) -> dict[str, Any]:
    """The pure stream filter (no proxy): per-event calls, as mitmproxy makes them."""
    from cot_proxy.formats import chat
    from cot_proxy.stream import FilterStream
    from cot_proxy.think import ThinkConfig

    role = chat_event("")
    answer = [chat_event(f" a{i}") for i in range(events)]
    thinking = [chat_event(f" t{i}") for i in range(events)]
    out: dict[str, Any] = {}

    # Pass-through: answer events without "<", one per call; must come out byte for byte.
    stream = FilterStream(ThinkConfig(), chat)
    sent: list[bytes] = list(stream(role))
    started = time.perf_counter()
    for raw in answer:
        sent += stream(raw)
    elapsed = time.perf_counter() - started
    sent += stream(b"")
    out["pass_events_per_s"] = events / elapsed
    out["pass_exact"] = b"".join(sent) == role + b"".join(answer)

    # In-think: content events inside an open block, one per call; strip mode drops them.
    stream = FilterStream(ThinkConfig(), chat)
    stream(role)
    stream(chat_event("<think>"))
    kept = 0
    started = time.perf_counter()
    for raw in thinking:
        kept += len(stream(raw))
    elapsed = time.perf_counter() - started
    out["think_events_per_s"] = events / elapsed
    tail = b"".join(stream(chat_event("</think>")) + stream(chat_event("Done")) + stream(b""))
    # Only heartbeats (one per 5 s at most) may leave while the block is open.
    out["think_exact"] = kept <= 1 + int(elapsed / 5) and b'"Done"' in tail

    # Informational: 64 pass-through events per chunk (a fast upstream, a big network read).
    stream = FilterStream(ThinkConfig(), chat)
    stream(role)
    batches = [b"".join(answer[i : i + 64]) for i in range(0, events, 64)]
    started = time.perf_counter()
    for raw in batches:
        stream(raw)
    out["batched_events_per_s"] = events / (time.perf_counter() - started)

    # The yardstick: json.loads of each event's payload, the least a parsing filter would do.
    payloads = [raw[6:-2] for raw in answer]
    loads = json.loads
    started = time.perf_counter()
    for payload in payloads:
        loads(payload)
    out["json_loads_per_s"] = events / (time.perf_counter() - started)
    return out


def json_codec_round(repeat: int) -> dict[str, Any]:
    """Parse and write one request body, as the rules do when they rewrite it: the json module
    against cot_proxy.jsonbytes (orjson when installed). µs per body, best of `repeat`."""
    from cot_proxy import jsonbytes

    def best(action: Callable[[], object]) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
        return min(times) * 1e6

    out: dict[str, Any] = {"orjson": jsonbytes.orjson is not None}
    for label, spec in (
        ("small", Spec(stream=False, connections=1, requests_per_conn=1)),
        (
            "long",
            Spec(
                stream=False,
                connections=1,
                requests_per_conn=1,
                history_bytes=LONG_HISTORY_BYTES,
                model=LONG_MODEL,
            ),
        ),
    ):
        raw = json.dumps(request_body(spec)).encode()
        obj = json.loads(raw)
        out[f"{label}_bytes"] = len(raw)
        out[f"{label}_json_us"] = best(lambda: json.dumps(json.loads(raw), ensure_ascii=False))
        out[f"{label}_ours_us"] = best(lambda: jsonbytes.dumps_body(jsonbytes.loads_body(raw)))
        out[f"{label}_same"] = json.loads(jsonbytes.dumps_body(jsonbytes.loads_body(raw))) == obj
    return out


# -- statistics and the report --------------------------------------------------------------------
