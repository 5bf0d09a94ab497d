"""FilterStream's marks for the log and the metrics: the first answer text, and the done event."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cot_proxy.body import filter_body_counted
from cot_proxy.formats import chat
from cot_proxy.formats import completions
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig


def event(delta: dict[str, Any] | None = None, finish: str | None = None) -> bytes:
    obj = {"id": "c", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def feed(stream: FilterStream, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out += stream(chunk)
    return out + stream(b"")


@pytest.mark.parametrize("mode", ["strip", "reasoning", "keep"])
def test_done_sent_only_once_done_went_out(mode):
    stream = FilterStream(ThinkConfig(mode=mode), chat)
    stream(event({"role": "assistant", "content": ""}) + event({"content": "Hi"}))
    assert not stream.done_sent
    stream(event({}, finish="stop"))
    assert not stream.done_sent
    stream(DONE)
    assert stream.done_sent


@pytest.mark.parametrize(
    "chunks",
    [
        [event({"content": "Hi"}) + DONE],  # one chunk, the whole-chunk fast path
        [event({"content": "Hi"}) + b"data: [DO", b"NE]\n\n"],  # framed
        [event({"content": "<think>x</think>Hi"}), b"data:[DONE]\r\n\r\n"],  # no space, CRLF
    ],
)
def test_done_found_however_cut(chunks):
    stream = FilterStream(ThinkConfig(), chat)
    out = feed(stream, chunks)
    assert stream.done_sent, out


@pytest.mark.parametrize(
    "tail",
    [
        event({"content": "data: [DONE]"}),  # the text says it, the event is not it
        b"data: [DONE]\n",  # not yet a whole event
        b'data: {"x": 1}\n\n',
    ],
)
def test_done_not_claimed_early(tail):
    stream = FilterStream(ThinkConfig(), chat)
    stream(event({"content": "Hi"}))
    stream(tail)
    assert not stream.done_sent


def test_first_answer_after_the_think_block():
    stream = FilterStream(ThinkConfig(), chat)
    stream(event({"role": "assistant", "content": ""}))
    stream(event({"content": "<think>long thought"}))
    stream(event({"content": " more</think>"}))
    assert stream.first_answer_at is None  # nothing the client reads as the answer yet
    before = time.time()
    stream(event({"content": "Answer"}))
    assert stream.first_answer_at is not None and stream.first_answer_at >= before


def test_reasoning_mode_think_text_is_not_the_answer():
    stream = FilterStream(ThinkConfig(mode="reasoning"), chat)
    out = stream(event({"content": "<think>hmm</think>"}))
    assert b"reasoning_content" in b"".join(out)
    assert stream.first_answer_at is None
    stream(event({"content": "ok"}))
    assert stream.first_answer_at is not None


def test_tool_call_counts_as_the_answer():
    stream = FilterStream(ThinkConfig(), chat)
    stream(event({"role": "assistant", "content": None}))
    assert stream.first_answer_at is None
    stream(event({"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}))
    assert stream.first_answer_at is not None


def test_answer_released_at_the_end_is_noted():
    # A cut-off tag start held back to the end, then released as answer text.
    stream = FilterStream(ThinkConfig(), completions)
    obj = {"id": "c", "choices": [{"index": 0, "text": "<thi", "finish_reason": None}]}
    stream(b"data: " + json.dumps(obj).encode() + b"\n\n")
    assert stream.first_answer_at is None
    stream(DONE)
    assert stream.first_answer_at is not None and stream.done_sent


def test_keep_mode_notes_the_first_byte():
    stream = FilterStream(ThinkConfig(mode="keep"), chat)
    assert stream(b"") == []
    assert stream.first_answer_at is None
    stream(event({"content": "<think>x</think>"}))
    assert stream.first_answer_at is not None


def test_buffered_body_counts_think_chars():
    body = json.dumps(
        {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "<think>abcd</think>Hi"}}
            ]
        }
    ).encode()
    new, chars = filter_body_counted(body, ThinkConfig(), chat)
    assert chars == 4 and new is not None and b"abcd" not in new
    assert filter_body_counted(body, ThinkConfig(mode="keep"), chat) == (None, 0)
