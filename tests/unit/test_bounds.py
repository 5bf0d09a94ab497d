"""Unbounded input stays bounded in memory: each case streams far more than the documented cap."""

from __future__ import annotations

import json
import logging
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from cot_proxy.formats import chat
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig

MiB = 1024 * 1024


def peak_while(feed: Callable[[], int]) -> tuple[int, int]:
    """(peak traced bytes, bytes fed) while running `feed`."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fed = feed()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, fed


def content_event(text: str) -> bytes:
    event = {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


@pytest.mark.parametrize("mode", ["strip", "reasoning"])
def test_sse_line_that_never_ends(caplog, mode):
    """20 MiB with no line end, cap 1 MiB: strip mode ends the answer with an error event and
    drops the rest, the other modes pass it through raw; memory stays near the cap."""
    cap = 1 * MiB
    stream = FilterStream(ThinkConfig(mode=mode), chat, max_event_bytes=cap)
    chunk = b"data: " + b"x" * (64 * 1024 - 6)
    out_size = 0

    def feed() -> int:
        nonlocal out_size
        fed = 0
        for i in range(330):
            data = chunk if i == 0 else b"x" * len(chunk)
            out_size += sum(len(part) for part in stream(data))
            fed += len(data)
        out_size += sum(len(part) for part in stream(b""))
        return fed

    with caplog.at_level(logging.WARNING):
        peak, fed = peak_while(feed)
    assert fed > 20 * cap
    if mode == "strip":
        assert stream.cut and out_size < 1000  # the error event only
    else:
        assert out_size == fed  # nothing lost
    assert peak < 4 * cap, peak  # framing copies, independent of how much streams through
    assert "larger than" in caplog.text


def test_think_block_that_never_closes_strip():
    """40,000 events of think text with no end tag: nothing is held, nothing leaks."""
    stream = FilterStream(ThinkConfig(), chat)
    out: list[bytes] = []

    def feed() -> int:
        fed = 0
        first = content_event("<think>")
        out.extend(stream(first))
        for i in range(40_000):
            event = content_event(f"thinking step {i} " * 3)
            fed += len(event)
            out.extend(stream(event))
        out.extend(stream(b""))
        return fed

    peak, fed = peak_while(feed)
    assert fed > 5 * MiB
    assert peak < 1 * MiB, peak
    assert b"thinking step" not in b"".join(out)


def test_implicit_start_without_end_tag_is_capped(caplog):
    """Implicit start holds text until the end tag; past max_held_chars it is delivered as the answer."""
    cap_chars = 200_000
    stream = FilterStream(ThinkConfig(implicit_start=True), chat, max_held_chars=cap_chars)
    delivered: dict[str, Any] = {"first": "", "last": "", "chars": 0}

    def feed() -> int:
        fed = 0
        for i in range(25_000):
            text = f"word{i} " * 10
            fed += len(text)
            for part in stream(content_event(text)):
                for line in part.split(b"\n"):
                    if line.startswith(b"data: {"):
                        text = json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                        delivered["first"] = delivered["first"] or text
                        delivered["last"] = text or delivered["last"]
                        delivered["chars"] += len(text)
        stream(b"")
        return fed

    with caplog.at_level(logging.WARNING):
        peak, fed = peak_while(feed)
    assert fed > 10 * cap_chars
    assert peak < 8 * cap_chars, peak  # a few bytes per held character, never the whole stream
    assert delivered["first"].startswith("word0 word0")
    assert "word24999" in delivered["last"]
    assert delivered["chars"] == fed  # nothing lost: the model did not think
    assert caplog.records, "the cap must be announced"


@pytest.mark.parametrize("mode", ["reasoning"])
def test_reasoning_block_that_never_closes_is_streamed_not_held(mode):
    stream = FilterStream(ThinkConfig(mode=mode), chat)
    emitted = 0

    def feed() -> int:
        nonlocal emitted
        fed = 0
        stream(content_event("<think>"))
        for i in range(20_000):
            event = content_event(f"step {i} " * 5)
            fed += len(event)
            emitted += sum(len(p) for p in stream(event))
        return fed

    peak, fed = peak_while(feed)
    assert emitted > fed // 2  # the reasoning went out as it came
    assert peak < 1 * MiB, peak


def test_text_after_an_end_marker_is_capped_and_never_leaks(caplog):
    """After a <tool_call> in a block, text is held for the end tag; past max_held_chars it is
    think text (strip mode drops it) and memory stays bounded."""
    cap_chars = 200_000
    stream = FilterStream(ThinkConfig(), chat, max_held_chars=cap_chars)
    delivered: list[str] = []

    def feed() -> int:
        fed = 0
        stream(content_event("<think>plan <tool_call>"))
        for i in range(25_000):
            text = f"secret{i} " * 10
            fed += len(text)
            for part in stream(content_event(text)):
                for line in part.split(b"\n"):
                    if line.startswith(b"data: {"):
                        choice = json.loads(line[6:])["choices"][0]
                        delivered.append(choice["delta"].get("content") or "")
        stream(content_event("</think>answer"))
        stream(b"")
        return fed

    with caplog.at_level(logging.WARNING):
        peak, fed = peak_while(feed)
    assert fed > 10 * cap_chars
    assert peak < 8 * cap_chars, peak
    assert "secret" not in "".join(delivered)
    assert any("end marker" in r.getMessage() for r in caplog.records)
