"""Inline mode: reasoning the upstream split off goes back into the text, between think tags."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import cot_proxy.stream as stream_module
from cot_proxy import jsonbytes
from cot_proxy.body import filter_body
from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.filters import Filters
from cot_proxy.formats import FORMATS
from cot_proxy.formats import chat
from cot_proxy.formats import completions
from cot_proxy.inline import InlineBlock
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.transcript import Transcript
from cot_proxy.transcript import render
from tests.unit.test_stream import CMPL_ENVELOPE
from tests.unit.test_stream import ENVELOPE
from tests.unit.test_stream import chat_chunk
from tests.unit.test_stream import client_text
from tests.unit.test_stream import payloads_of
from tests.unit.test_stream import run
from tests.unit.test_stream import split_at
from tests.unit.test_stream import sse
from tests.unit.test_stream import usage_chunk

INLINE = ThinkConfig(mode="inline")


def inline_stream(config: ThinkConfig = INLINE, endpoint: str = "chat") -> FilterStream:
    return FilterStream(config, FORMATS[endpoint])


def cmpl_choice(fields: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": finish, **fields}
    return {**CMPL_ENVELOPE, "choices": [choice]}


def event(fields: dict[str, Any], endpoint: str, finish: str | None = None) -> dict[str, Any]:
    return chat_chunk(fields, finish) if endpoint == "chat" else cmpl_choice(fields, finish)


def no_reasoning_left(payloads: list[Any]) -> bool:
    for obj in payloads:
        for choice in obj.get("choices", ()) if isinstance(obj, dict) else ():
            holder = choice.get("delta", choice)
            if any(isinstance(holder.get(k), str) for k in ("reasoning_content", "reasoning")):
                return False
    return True


# -- the filter and the channel step ------------------------------------------------------------


def test_inline_filter_opens_once_and_closes_once() -> None:
    block = InlineBlock(INLINE)
    assert block.idle
    assert block.open_block("a") == "<think>a"
    assert not block.idle
    assert block.open_block("b") == "b"
    assert block.close_block() == "</think>"
    assert block.close_block() == ""
    assert block.finish("stop") == ("", "")
    assert (block.think_chars, block.blocks) == (2, 1)


def test_inline_filter_leaves_the_models_own_text_alone() -> None:
    block = InlineBlock(INLINE)
    assert block.feed("<think>mine</think>answer") == ("<think>mine</think>answer", "")
    assert block.idle


def test_the_first_tag_pair_is_used() -> None:
    config = ThinkConfig(
        mode="inline", tags=(("<thinking>", "</thinking>"), ("<think>", "</think>"))
    )
    body = {"choices": [{"index": 0, "message": {"content": "A", "reasoning": "r"}}]}
    out = filter_body(json.dumps(body).encode(), config, chat)
    assert out is not None
    assert json.loads(out)["choices"][0]["message"] == {"content": "<thinking>r</thinking>A"}


def test_new_filter_by_mode() -> None:
    assert type(Filters(INLINE)(0)) is InlineBlock
    assert type(Filters(ThinkConfig(mode="strip"))(0)) is ThinkFilter


def test_a_plain_filter_in_inline_mode_keeps_the_text() -> None:
    # Whatever builds it, the text the model wrote is never filtered in inline mode.
    assert ThinkFilter(INLINE).feed("<think>x</think>y") == ("<think>x</think>y", "")


def step(container: dict[str, Any], block: InlineBlock, finish: object = None) -> Change:
    return ChannelStep(INLINE, chat).apply(block, container, finish)


def test_channel_step_moves_reasoning_and_keeps_null_fields() -> None:
    block = InlineBlock(INLINE)
    container: dict[str, Any] = {"content": None, "reasoning_content": "r", "reasoning": None}
    assert step(container, block) == Change.CHANGED | Change.GAVE_TEXT
    assert container == {"content": "<think>r", "reasoning": None}
    container = {"content": "A", "reasoning_content": None}
    assert step(container, block) == Change.CHANGED | Change.GAVE_TEXT
    assert container == {"content": "</think>A", "reasoning_content": None}
    container = {"content": "B"}
    assert step(container, block) is Change.NONE
    assert container == {"content": "B"}


def test_channel_step_both_fields_carry_one_text() -> None:
    container = {"content": "", "reasoning_content": "r", "reasoning": "r"}
    step(container, InlineBlock(INLINE), "stop")
    assert container == {"content": "<think>r</think>"}


def test_a_tool_call_closes_the_block() -> None:
    block = InlineBlock(INLINE)
    step({"reasoning_content": "r"}, block)
    container: dict[str, Any] = {"tool_calls": [{"index": 0, "id": "t"}]}
    step(container, block)
    assert container["content"] == "</think>"


def test_a_custom_reasoning_field_is_moved_too() -> None:
    config = ThinkConfig(mode="inline", reasoning_field="thinking")
    container = {"content": "A", "thinking": "r"}
    ChannelStep(config, chat).apply(InlineBlock(config), container, "stop")
    assert container == {"content": "<think>r</think>A"}


# -- buffered -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_buffered_chat_and_completions(field: str) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A", field: "r"}}]}
    out = filter_body(json.dumps(body).encode(), INLINE, chat)
    assert out is not None
    assert json.loads(out)["choices"][0]["message"] == {
        "role": "assistant",
        "content": "<think>r</think>A",
    }
    body = {"choices": [{"index": 0, "text": "A", field: "r", "finish_reason": "length"}]}
    out = filter_body(json.dumps(body).encode(), INLINE, completions)
    assert out is not None
    assert json.loads(out)["choices"][0] == {
        "index": 0,
        "text": "<think>r</think>A",
        "finish_reason": "length",
    }


def test_buffered_without_reasoning_is_unchanged() -> None:
    body = {"choices": [{"index": 0, "message": {"content": "<think>own</think>A"}}]}
    assert filter_body(json.dumps(body).encode(), INLINE, chat) is None


def test_buffered_tool_call_with_reasoning_and_no_content() -> None:
    message = {"content": None, "reasoning_content": "r", "tool_calls": [{"id": "t"}]}
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    out = filter_body(json.dumps(body).encode(), INLINE, chat)
    assert out is not None
    got = json.loads(out)["choices"][0]["message"]
    assert got == {"content": "<think>r</think>", "tool_calls": [{"id": "t"}]}


# -- streamed -----------------------------------------------------------------------------------


def test_stream_tags_go_with_the_first_reasoning_and_the_first_answer_delta() -> None:
    data = sse(
        [
            chat_chunk({"role": "assistant", "content": ""}),
            chat_chunk({"reasoning_content": "Let me"}),
            chat_chunk({"content": None, "reasoning_content": " think"}),
            chat_chunk({"content": "Hi"}),
            chat_chunk({"content": " there"}),
            chat_chunk({}, "stop"),
            usage_chunk(),
            b"[DONE]",
        ]
    )
    payloads = payloads_of(b"".join(run(inline_stream(), [data])))
    deltas = [p["choices"][0]["delta"] for p in payloads if isinstance(p, dict) and p["choices"]]
    assert deltas[1] == {"content": "<think>Let me"}
    assert deltas[2] == {"content": " think"}
    assert deltas[3] == {"content": "</think>Hi"}
    assert deltas[4] == {"content": " there"}
    assert client_text(payloads, "chat") == "<think>Let me think</think>Hi there"
    assert no_reasoning_left(payloads)


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_stream_reasoning_only_closes_before_the_finish(endpoint: str) -> None:
    data = sse([event({"reasoning": "r"}, endpoint), event({}, endpoint, "length"), b"[DONE]"])
    payloads = payloads_of(b"".join(run(inline_stream(endpoint=endpoint), [data])))
    objects = [p for p in payloads if isinstance(p, dict)]
    assert client_text(objects, endpoint) == "<think>r</think>"
    assert client_text(objects[-1:], endpoint) == "</think>"  # in the finish event itself
    assert objects[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("done", [True, False])
def test_stream_that_ends_without_a_finish_still_closes(done: bool) -> None:
    payloads: list[Any] = [chat_chunk({"reasoning_content": "r"})]
    if done:
        payloads.append(b"[DONE]")
    got = payloads_of(b"".join(run(inline_stream(), [sse(payloads)])))
    assert client_text(got, "chat") == "<think>r</think>"
    if done:
        assert got[-1] == b"[DONE]"


def test_stream_two_choices_have_their_own_blocks() -> None:
    data = sse(
        [
            chat_chunk({"reasoning_content": "a"}, index=0),
            chat_chunk({"reasoning_content": "b"}, index=1),
            chat_chunk({"content": "A"}, index=0),
            chat_chunk({}, "stop", index=0),
            chat_chunk({"content": "B"}, "stop", index=1),
            b"[DONE]",
        ]
    )
    payloads = payloads_of(b"".join(run(inline_stream(), [data])))
    assert client_text(payloads, "chat", 0) == "<think>a</think>A"
    assert client_text(payloads, "chat", 1) == "<think>b</think>B"


def test_stream_without_reasoning_is_byte_identical() -> None:
    data = sse(
        [
            chat_chunk({"role": "assistant", "content": ""}),
            chat_chunk({"content": "<think>own</think>"}),
            chat_chunk({"content": "A", "reasoning_content": None}),
            chat_chunk({}, "stop"),
            b"[DONE]",
        ]
    )
    assert b"".join(run(inline_stream(), [data])) == data


def test_stream_answer_events_after_the_block_take_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real_decode = jsonbytes.decode_json  # what stream.py calls

    def counting_decode(data: bytes) -> Any:
        calls.append(1)
        return real_decode(data)

    monkeypatch.setattr(stream_module, "decode_json", counting_decode)
    stream = inline_stream()
    stream(sse([chat_chunk({"reasoning_content": "r"}), chat_chunk({"content": "<b>A"})]))
    assert stream.first_answer_at is not None
    calls.clear()
    plain = sse([chat_chunk({"content": f"<i>{i}"}) for i in range(3)])
    assert stream(plain) == [plain]  # a tag character in the text changes nothing inline
    assert calls == []


def test_first_answer_time_waits_for_the_answer() -> None:
    stream = inline_stream()
    stream(sse([chat_chunk({"reasoning_content": "r"})]))
    assert stream.first_answer_at is None
    stream(sse([chat_chunk({"content": "A"})]))
    assert stream.first_answer_at is not None


def test_transcript_records_the_models_text_and_the_moved_reasoning() -> None:
    transcript = Transcript("inline", "reasoning_content")
    stream = FilterStream(INLINE, chat, transcript=transcript)
    run(stream, [sse([chat_chunk({"reasoning_content": "r"}), chat_chunk({"content": "A"})])])
    assert transcript.summary()["channels"] == [{"channel": 0, "answer": "A", "think": "r"}]
    assert "reasoning moved into the text" in render(transcript.summary())


# -- the property: any split of any stream gives the same client-visible result -------------------

PIECES = ["a", " b", "<think>", "</think>", "é", "日本", "\n", "<", '"q"']


def expected(deltas: list[tuple[str, str]]) -> str:
    """The rule as the issue states it, for a whole stream."""
    out, inside = "", False
    for reasoning, content in deltas:
        if reasoning:
            out += reasoning if inside else "<think>" + reasoning
            inside = True
        if content:
            out += "</think>" + content if inside else content
            inside = False
    return out + ("</think>" if inside else "")


@st.composite
def inline_cases(draw: st.DrawFn) -> dict[str, Any]:
    text = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
    deltas = draw(st.lists(st.tuples(text, text), max_size=12))
    return {
        "deltas": deltas,
        "endpoint": draw(st.sampled_from(["chat", "completions"])),
        "field": draw(st.sampled_from(["reasoning_content", "reasoning", "both"])),
        "finish": draw(st.sampled_from(["stop", "length", None])),
        "done": draw(st.booleans()),
        "ensure_ascii": draw(st.booleans()),
        "byte_cuts": draw(st.lists(st.integers(min_value=0, max_value=4000), max_size=20)),
    }


@settings(max_examples=300, deadline=None)
@given(inline_cases())
def test_inline_stream_property(case: dict[str, Any]) -> None:
    endpoint, field = case["endpoint"], case["field"]
    payloads: list[Any] = []
    for reasoning, content in case["deltas"]:
        fields: dict[str, Any] = (
            {"content": content or None} if endpoint == "chat" else {"text": content}
        )
        if reasoning:
            for key in ("reasoning_content", "reasoning") if field == "both" else (field,):
                fields[key] = reasoning
        payloads.append(event(fields, endpoint))
    if case["finish"] is not None:
        payloads.append(event({}, endpoint, case["finish"]))
    if case["done"]:
        payloads.append(b"[DONE]")
    data = sse(payloads, ensure_ascii=case["ensure_ascii"])
    whole = b"".join(run(inline_stream(endpoint=endpoint), [data]))
    out = b"".join(run(inline_stream(endpoint=endpoint), split_at(data, case["byte_cuts"])))
    got = payloads_of(out)
    assert client_text(got, endpoint) == expected(case["deltas"])
    assert client_text(got, endpoint) == client_text(payloads_of(whole), endpoint)
    assert no_reasoning_left(got)
    objects = [p for p in got if isinstance(p, dict)]
    envelope = ENVELOPE if endpoint == "chat" else CMPL_ENVELOPE
    for obj in objects:
        assert {k: v for k, v in obj.items() if k not in ("choices", "usage")} == envelope
    finishes = [i for i, obj in enumerate(objects) if obj["choices"][0]["finish_reason"]]
    if case["finish"] is not None:
        assert finishes == [len(objects) - 1]  # nothing after the finish
    if case["done"]:
        assert got[-1] == b"[DONE]"
