"""Under mitmweb, the event formats record the reasoning the upstream split off and strip mode
drops (Responses reasoning items, Anthropic thinking blocks, Ollama's `thinking`) as think text,
streamed and buffered, as the chat formats do `reasoning_content`; the client's bytes and the
think count stay what they are without a transcript."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.body import filter_body_counted
from cot_proxy.formats import EVENT_FORMATS
from cot_proxy.formats import responses
from cot_proxy.formats._api import Format
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript
from cot_proxy.transcript import render
from tests.e2e import fixtures_responses as rsp
from tests.e2e import messages_upstream as msg
from tests.e2e import ollama_fixtures as oll

STRIP = ThinkConfig()
REASONING = ["Let me ", "think."]  # what the upstream's reasoning parser split off
REASONED = "".join(REASONING)
SIGNED = {"type": "thinking", "thinking": REASONED, "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}


@dataclasses.dataclass(frozen=True)
class Case:
    format: str  # its key in EVENT_FORMATS
    stream: bytes
    body: bytes
    # (channel, answer, think) of the transcript, streamed and buffered alike
    channels: list[tuple[int, str, str]]
    think_chars: int  # the answer text's own think text only: the upstream's is not counted


CASES = {
    # vLLM: a reasoning item (reasoning_text deltas), then the message (channel 1).
    "responses vllm": Case(
        "responses",
        rsp.vllm_sse(rsp.vllm_stream(REASONING, ["<think>x</think>Hi", "!"])),
        json.dumps(rsp.vllm_body(REASONED, "<think>x</think>Hi!")).encode(),
        [(0, "", REASONED), (1, "Hi!", "x")],
        1,
    ),
    # Ollama's /v1/responses: reasoning_summary_text deltas, Go's escapes.
    "responses ollama": Case(
        "responses",
        rsp.ollama_sse(rsp.ollama_stream(REASONING, ["Hi!"])),
        rsp.ollama_body_bytes(rsp.ollama_body(REASONED, "Hi!")),
        [(0, "", REASONED), (1, "Hi!", "")],
        0,
    ),
    # vLLM's Messages: thinking (block 0), text (1), tool_use (2), one after another.
    "messages vllm": Case(
        "messages",
        msg.sse(msg.vllm_thinking_tool(REASONING, ["Hi", "!"], ['{"a":', " 1}"])),
        json.dumps(msg.vllm_body([SIGNED, {"type": "text", "text": "Hi!"}])).encode(),
        [(0, "", REASONED), (1, "Hi!", "")],
        0,
    ),
    # llama.cpp keeps the thinking block open while the text streams.
    "messages llama.cpp": Case(
        "messages",
        msg.sse(msg.llama_thinking_tool(REASONING, ["<think>x</think>Hi", "!"], ["{}"])),
        json.dumps(
            msg.llama_body([SIGNED, {"type": "text", "text": "<think>x</think>Hi!"}])
        ).encode(),
        [(0, "", REASONED), (1, "Hi!", "x")],
        1,
    ),
    # Anthropic: a redacted_thinking block (1) has no text to record.
    "messages anthropic": Case(
        "messages",
        msg.sse(msg.anthropic_thinking(REASONING, ["Hi!"])),
        json.dumps(msg.vllm_body([SIGNED, REDACTED, {"type": "text", "text": "Hi!"}])).encode(),
        [(0, "", REASONED), (2, "Hi!", "")],
        0,
    ),
    **{
        f"ollama {endpoint}": Case(
            f"ollama_{endpoint}",
            b"".join(oll.ndjson(oll.stream_lines(endpoint, ["Hi", "!"], thinking=REASONING))),
            oll.go_json(oll.line_of(endpoint, "Hi!", thinking=REASONED, done_reason="stop")),
            [(0, "Hi!", REASONED)],
            0,
        )
        for endpoint in ("chat", "generate")
    },
}


def streamed(fmt: Format, chunks: list[bytes], transcript: Transcript | None) -> tuple[bytes, int]:
    stream = FilterStream(STRIP, fmt, transcript=transcript)
    out: list[bytes] = []
    for chunk in chunks:
        out += stream(chunk)
    out += stream(b"")
    assert not stream.passthrough and stream.done_sent
    return b"".join(out), stream.think_chars


def recorded(transcript: Transcript) -> list[tuple[int, str, str]]:
    return [(c["channel"], c["answer"], c["think"]) for c in transcript.summary()["channels"]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stream_records_the_upstream_reasoning_it_drops(name: str) -> None:
    case = CASES[name]
    fmt = EVENT_FORMATS[case.format]
    plain, plain_chars = streamed(fmt, [case.stream], None)
    transcript = Transcript("strip", STRIP.reasoning_field)
    out, think_chars = streamed(fmt, [case.stream], transcript)
    assert out == plain  # recording changes no byte the client gets
    assert b"Let me" not in out and b"Hi" in out
    assert recorded(transcript) == case.channels
    assert think_chars == plain_chars == case.think_chars
    assert f"think text removed ({len(REASONED)} chars)" in render(transcript.summary())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_buffered_answer_records_the_upstream_reasoning_it_drops(name: str) -> None:
    case = CASES[name]
    fmt = EVENT_FORMATS[case.format]
    plain = filter_body_counted(case.body, STRIP, fmt)
    transcript = Transcript("strip", STRIP.reasoning_field)
    assert filter_body_counted(case.body, STRIP, fmt, transcript) == plain
    new_body, think_chars = plain
    assert new_body is not None and b"Let me" not in new_body
    assert think_chars == case.think_chars
    assert recorded(transcript) == case.channels


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_any_split_records_the_same(data: Any) -> None:
    case = CASES[data.draw(st.sampled_from(sorted(CASES)))]
    fmt = EVENT_FORMATS[case.format]
    raw = case.stream
    points = sorted(set(data.draw(st.lists(st.integers(0, len(raw)), max_size=10))))
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)]) if b > a]
    transcript = Transcript("strip", STRIP.reasoning_field)
    assert streamed(fmt, chunks, transcript)[0] == streamed(fmt, [raw], None)[0]
    assert recorded(transcript) == case.channels


def test_responses_records_one_family_of_deltas_and_what_a_cut_stream_had() -> None:
    """A reasoning item with both text and summary deltas: the first family only; a stream cut
    off inside the reasoning: what came of it."""
    events = rsp.vllm_stream(REASONING, ["Hi!"])
    first = next(i for i, e in enumerate(events) if e["type"] == "response.reasoning_text.delta")
    summary = {
        "type": "response.reasoning_summary_text.delta",
        "item_id": rsp.VLLM_RS,
        "output_index": 0,
        "summary_index": 0,
        "delta": "A summary.",
        "sequence_number": None,
    }
    both = [*events[: first + 1], summary, *events[first + 1 :]]
    transcript = Transcript("strip", STRIP.reasoning_field)
    streamed(responses, [rsp.vllm_sse(both)], transcript)
    assert recorded(transcript) == [(0, "", REASONED), (1, "Hi!", "")]

    transcript = Transcript("strip", STRIP.reasoning_field)
    stream = FilterStream(STRIP, responses, transcript=transcript)
    stream(rsp.vllm_sse(events[: first + 1]))
    stream(b"")
    assert recorded(transcript) == [(0, "", REASONING[0])]


def test_responses_records_a_reasoning_item_that_came_only_as_done() -> None:
    events = [e for e in rsp.vllm_stream(REASONING, ["Hi!"]) if "reasoning_text" not in e["type"]]
    transcript = Transcript("strip", STRIP.reasoning_field)
    streamed(responses, [rsp.vllm_sse(events)], transcript)
    assert recorded(transcript) == [(0, "", REASONED), (1, "Hi!", "")]
