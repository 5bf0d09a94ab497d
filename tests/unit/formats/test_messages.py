"""Anthropic Messages: the stream rewriter, event by event, and the buffered body filter."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.filters import Filters
from cot_proxy.formats import EVENT_FORMATS
from cot_proxy.formats import messages
from cot_proxy.formats._api import SAME
from cot_proxy.formats.messages_stream import MessagesRewriter
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from tests.e2e import messages_upstream as up

Event = dict[str, Any]
STRIP = ThinkConfig(mode="strip")
REASONING = ThinkConfig(mode="reasoning")
INLINE = ThinkConfig(mode="inline")
THINK = "<think>The user greets me.</think>\n\n"


def rewriter(config: ThinkConfig) -> MessagesRewriter:
    return messages.rewriter(config, Filters(config))


def run(events: list[Event], config: ThinkConfig = STRIP, end: bool = True) -> list[Event]:
    """What the client gets, as the conductor would send it (raw events that pass, as they are)."""
    client = rewriter(config)
    out: list[Event] = []
    for event in events:
        if client.passes(up.frame(event)):
            out.append(event)
            continue
        result = client.event(copy.deepcopy(event))
        out.extend(
            event if item is SAME else item for item in ([SAME] if result is None else result)
        )
    if end:
        out.extend(client.end())
    return json.loads(json.dumps(out))


def accumulate(events: list[Event]) -> list[Event]:
    """The content blocks, as the SDK builds them, and stricter: every start at the next index,
    deltas and stops only for open blocks, nothing left open at message_stop."""
    content: list[Event] = []
    open_blocks: set[int] = set()
    for event in events:
        kind, index = event["type"], event.get("index")
        if kind == "content_block_start":
            assert index == len(content), f"start at {index}, expected {len(content)}"
            content.append(dict(event["content_block"]))
            open_blocks.add(index)
        elif kind == "content_block_delta":
            assert index in open_blocks, f"delta for block {index}, not open"
            block, delta = content[index], event["delta"]
            for field, key in (("text", "text"), ("thinking", "thinking")):
                if delta["type"] == f"{field}_delta":
                    assert block["type"] == ("text" if field == "text" else "thinking")
                    block[key] += delta[key]
            if delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            if delta["type"] == "input_json_delta":
                block["json"] = block.get("json", "") + delta["partial_json"]
        elif kind == "content_block_stop":
            assert index in open_blocks, f"stop for block {index}, not open"
            open_blocks.remove(index)
        elif kind == "message_stop":
            assert not open_blocks, f"blocks {open_blocks} open at message_stop"
    return content


def texts(content: list[Event]) -> list[tuple[str, Any]]:
    return [(b["type"], b.get("text", b.get("thinking", ""))) for b in content]


def test_registered_as_the_messages_event_format() -> None:
    assert EVENT_FORMATS["messages"] is messages
    assert messages.name == "messages" and messages.framing == "sse"


# -- strip ---------------------------------------------------------------------------------------


def test_strip_drops_the_think_block_and_holds_the_start_until_the_answer() -> None:
    out = run(up.vllm_text(["<think>", "The user greets me.", "</think>", "\n\n", "Hello", "!"]))
    assert texts(accumulate(out)) == [("text", "Hello!")]
    kinds = [e["type"] for e in out]
    # the block starts with its first answer text, not before
    assert kinds[1:4] == ["content_block_start", "content_block_delta", "content_block_delta"]
    assert out[0] == up.vllm_start() and out[-2:] == up.vllm_end()


def test_a_text_block_of_think_only_is_not_sent_and_later_blocks_move_up() -> None:
    events = up.vllm_text(["<think>I should call the tool.</think>"])[:-2]
    events += [
        up.vllm_block_start(1, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
        up.vllm_delta(1, {"type": "input_json_delta", "partial_json": '{"a":'}),
        up.vllm_delta(1, {"type": "input_json_delta", "partial_json": " 1}"}),
        up.vllm_stop(1),
        *up.vllm_end("tool_use"),
    ]
    content = accumulate(out := run(events))
    assert [b["type"] for b in content] == ["tool_use"] and content[0]["json"] == '{"a": 1}'
    assert all(e.get("index") in (None, 0) for e in out)


def test_strip_drops_upstream_thinking_blocks_with_all_their_events() -> None:
    events = up.vllm_thinking_tool(
        ["Let me ", "think."], ["It is ", "sunny."], ['{"city"', ':"P"}']
    )
    out = run(events)
    content = accumulate(out)
    assert [b["type"] for b in content] == ["text", "tool_use"]
    assert content[0]["text"] == "It is sunny." and content[1]["json"] == '{"city":"P"}'
    assert not any(
        e.get("delta", {}).get("type") in ("thinking_delta", "signature_delta") for e in out
    )


def test_strip_llama_cpp_blocks_open_side_by_side() -> None:
    events = up.llama_thinking_tool(["Hmm."], ["Sure", "."], ['{"city":"P"}'])
    out = run(events)
    content = accumulate(out)
    assert texts(content) == [("text", "Sure."), ("tool_use", "")]
    assert content[1]["name"] == "get_weather" and "input" not in content[1]  # as it came


def test_redacted_thinking_is_dropped_in_strip_and_kept_in_reasoning() -> None:
    events = up.anthropic_thinking(["Let me think."], ["Hi", "!"])
    assert texts(accumulate(run(events))) == [("text", "Hi!")]
    kept = accumulate(run(events, REASONING))
    assert [b["type"] for b in kept] == ["thinking", "redacted_thinking", "text"]
    assert kept[0]["signature"] == "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"
    assert run(events, REASONING) == events  # nothing to change: every event as it came


@pytest.mark.parametrize("cut", range(1, len("<think>x</think>Answer")))
def test_tags_split_anywhere_across_deltas(cut: int) -> None:
    text = "<think>x</think>Answer"
    out = run(up.llama_text([text[:cut], text[cut:]]))
    assert texts(accumulate(out)) == [("text", "Answer")]


def test_several_tag_pairs_and_custom_tags() -> None:
    config = ThinkConfig(tags=(("<think>", "</think>"), ("[THINK]", "[/THINK]")))
    out = run(up.vllm_text(["A <think>a</think> B ", "[THINK]b[/THINK]", " C"]), config)
    assert texts(accumulate(out)) == [("text", "A B C")]


def test_several_text_blocks_each_their_own_channel() -> None:
    events = [
        up.anthropic_start(),
        up.llama_block_start(0, {"type": "text", "text": ""}),
        up.llama_delta(0, {"type": "text_delta", "text": "<think>open"}),
        {"type": "content_block_stop", "index": 0},  # the block ends unclosed: think text
        up.llama_block_start(1, {"type": "text", "text": ""}),
        up.llama_delta(1, {"type": "text_delta", "text": "</think>Second"}),  # an orphan end tag
        {"type": "content_block_stop", "index": 1},
        *up.llama_end([], "end_turn", thinking=False),
    ]
    assert texts(accumulate(run(events))) == [("text", "Second")]


def test_a_text_block_whose_answer_comes_after_a_later_blocks_start_goes_after_it() -> None:
    tool = {"type": "tool_use", "id": "t", "name": "f"}
    events = [
        up.llama_start(),
        up.llama_block_start(0, {"type": "text", "text": ""}),
        up.llama_delta(0, {"type": "text_delta", "text": "<think>x"}),
        up.llama_block_start(1, tool),
        up.llama_delta(0, {"type": "text_delta", "text": "</think>late"}),
        *up.llama_end([0, 1], "tool_use", thinking=False),
    ]
    assert texts(accumulate(run(events))) == [("tool_use", ""), ("text", "late")]


def test_a_citation_opens_the_text_block_it_belongs_to() -> None:
    citation = {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "c"}}
    events = up.vllm_text(["<think>x</think>"])
    events.insert(3, up.vllm_delta(0, citation))  # after the think-only text, before the stop
    out = run(events)
    assert [b["type"] for b in accumulate(out)] == ["text"]
    assert any(e.get("delta") == citation for e in out)


def test_implicit_start_holds_until_the_end_tag() -> None:
    config = ThinkConfig(implicit_start=True)
    out = run(up.vllm_text(["reasoning ", "more", "</think>", "Answer"]), config)
    assert texts(accumulate(out)) == [("text", "Answer")]


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [("max_tokens", []), ("end_turn", [("text", "no end tag at all")])],
)
def test_implicit_start_without_end_tag_waits_for_the_stop_reason(
    stop_reason: str, expected: list[tuple[str, str]]
) -> None:
    config = ThinkConfig(implicit_start=True)
    events = up.vllm_text(["no end tag", " at all"], stop_reason)
    out = run(events, config, end=False)
    assert texts(accumulate(out)) == expected
    delta_at = next(i for i, e in enumerate(out) if e["type"] == "message_delta")
    assert all(e["type"].startswith("message_") for e in out[delta_at:])  # released before it


def test_held_text_is_released_before_the_blocks_stop() -> None:
    out = run(up.vllm_text(["Answer <"]))  # "<" could begin a tag: held until the stop
    stop_at = next(i for i, e in enumerate(out) if e["type"] == "content_block_stop")
    assert out[stop_at - 1]["delta"] == {"type": "text_delta", "text": "<"}
    assert texts(accumulate(out)) == [("text", "Answer <")]


def test_a_cut_stream_releases_held_text_at_its_end() -> None:
    client = rewriter(STRIP)
    for event in up.vllm_text(["Hi <thi"])[:3]:
        client.event(copy.deepcopy(event))
    assert client.end() == [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "<thi"}}
    ]


# -- reasoning -----------------------------------------------------------------------------------


def test_reasoning_puts_inline_think_in_a_thinking_block_before_its_text() -> None:
    out = run(up.vllm_text(["<think>", "Greeting.", "</think>", "Hello!"]), REASONING)
    content = accumulate(out)
    assert content == [
        {"type": "thinking", "thinking": "Greeting.", "signature": ""},
        {"type": "text", "text": "Hello!"},
    ]
    stop_at = next(i for i, e in enumerate(out) if e["type"] == "content_block_stop")
    # a signature last, as Anthropic's API and llama.cpp end a thinking block
    assert out[stop_at - 1]["delta"] == {"type": "signature_delta", "signature": ""}


def test_reasoning_implicit_start_with_the_end_tag_split() -> None:
    config = ThinkConfig(mode="reasoning", implicit_start=True)
    out = run(up.vllm_text(["plan</thi", "nk>Answer"]), config)
    assert texts(accumulate(out)) == [("thinking", "plan"), ("text", "Answer")]


def test_reasoning_a_think_block_mid_answer_splits_the_text() -> None:
    out = run(up.vllm_text(["Hello <think>x</think> world"]), REASONING)
    assert texts(accumulate(out)) == [("text", "Hello "), ("thinking", "x"), ("text", "world")]


def test_reasoning_keeps_upstream_thinking_and_renumbers_after_inserted_blocks() -> None:
    events = up.llama_thinking_tool(["Plan."], ["<think>more</think>", "Sure."], ["{}"])
    content = accumulate(run(events, REASONING))
    assert texts(content) == [
        ("thinking", "Plan."),
        ("thinking", "more"),
        ("text", "Sure."),
        ("tool_use", ""),
    ]


# -- inline --------------------------------------------------------------------------------------


def test_inline_shows_upstream_thinking_as_a_text_block_between_tags() -> None:
    events = up.vllm_thinking_tool(["Let me ", "think."], ["Sunny."], ["{}"])
    content = accumulate(run(events, INLINE))
    assert texts(content) == [
        ("text", "<think>Let me think.</think>"),
        ("text", "Sunny."),
        ("tool_use", ""),
    ]


def test_inline_closes_the_tag_before_other_content_when_blocks_interleave() -> None:
    events = up.llama_thinking_tool(["Hmm."], ["Sure."], ["{}"])
    out = run(events, INLINE)
    text_deltas = [
        e["delta"]["text"] for e in out if e.get("delta", {}).get("type") == "text_delta"
    ]
    assert text_deltas == ["<think>Hmm.", "</think>", "Sure."]  # the end tag before the answer
    assert texts(accumulate(out))[:2] == [("text", "<think>Hmm.</think>"), ("text", "Sure.")]


def test_inline_leaves_the_models_own_text_and_empty_thinking_blocks_out() -> None:
    events = up.vllm_thinking_tool([], ["<think>mine</think>ok"], ["{}"])
    assert texts(accumulate(run(events, INLINE))) == [
        ("text", "<think>mine</think>ok"),
        ("tool_use", ""),
    ]


# -- the events around the blocks ----------------------------------------------------------------


def test_ping_error_and_unknown_events_pass_unchanged() -> None:
    client = rewriter(STRIP)
    for event in ({"type": "ping"}, up.ANTHROPIC_ERROR, {"type": "later_event"}, [1], "x", None):
        assert client.event(copy.deepcopy(event)) is None
    assert client.heartbeat() == {"type": "ping"}


@pytest.mark.parametrize(
    "event",
    [
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_delta", "index": 7, "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_delta", "index": 0, "delta": "text"},
        {"type": "content_block_start", "index": "0", "content_block": {"type": "text"}},
        {"type": "content_block_start", "index": 0},
        {"type": "content_block_stop", "index": 9},
    ],
)
def test_events_not_of_the_expected_shape_pass_unchanged(event: Event) -> None:
    client = rewriter(STRIP)
    client.event(up.vllm_start())
    client.event(up.vllm_block_start(0, {"type": "text", "text": ""}))
    assert client.event(copy.deepcopy(event)) is None


UNPLACED = [
    up.vllm_start(),
    # no index, a block that never started, an index that is no int: no place in the stream
    {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi <think>se"}},
    {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "cret</think>there"}},
    {
        "type": "content_block_delta",
        "index": 7,
        "delta": {"type": "thinking_delta", "thinking": "s"},
    },
    {"type": "content_block_start", "index": "1", "content_block": {"type": "thinking"}},
    {
        "type": "content_block_start",
        "index": "2",
        "content_block": {"type": "text", "text": "<think>"},
    },
    {
        "type": "content_block_delta",
        "index": "2",
        "delta": {"type": "text_delta", "text": "s</think>A"},
    },
    {"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "B <thi"}},
    *up.vllm_end(),
]


def test_strip_filters_the_text_of_events_it_cannot_place() -> None:
    out = run(UNPLACED)
    assert "<think>" not in json.dumps(out) and '"s"' not in json.dumps(out)
    assert not any(e["type"] == "content_block_start" and e["index"] == "1" for e in out)
    texts = [
        (e.get("index"), e["delta"]["text"]) for e in out if e["type"] == "content_block_delta"
    ]
    assert texts == [(None, "Hi "), (None, "there"), ("2", "A"), (3, "B "), (3, "<thi")]
    assert out[-2]["type"] == "message_delta"  # held text released before the end


@pytest.mark.parametrize("config", [REASONING, INLINE])
def test_other_modes_pass_events_they_cannot_place(config: ThinkConfig) -> None:
    client = rewriter(config)
    for event in UNPLACED[:-2]:
        if event["type"] != "message_start":
            assert client.event(copy.deepcopy(event)) is None


def test_an_error_event_comes_after_the_held_text() -> None:
    events = [*up.vllm_text(["Hi <"])[:3], up.ANTHROPIC_ERROR]
    out = run(events, end=False)
    assert out[-1] == up.ANTHROPIC_ERROR and out[-2]["delta"]["text"] == "<"


def test_answered_on_the_first_answer_text_or_a_tool_call_and_finished_at_message_stop() -> None:
    client = rewriter(STRIP)
    events = up.vllm_thinking_tool(["x"], [], ["{}"])
    for event in events[:-1]:
        before = client.answered
        client.event(copy.deepcopy(event))
        if not before and client.answered:
            assert event["type"] == "content_block_start"
            assert event["content_block"]["type"] == "tool_use"
    assert client.answered and not client.finished
    client.event(events[-1])
    assert client.finished

    client = rewriter(REASONING)
    for event in up.vllm_text(["<think>long", " thought", "</think>"])[:5]:
        client.event(copy.deepcopy(event))
    assert not client.answered  # think text is no answer


def test_passes_only_text_deltas_that_cannot_change() -> None:
    client = rewriter(STRIP)
    events = up.vllm_text(["Hello", " there", " <b>", "!"])
    assert not any(client.passes(up.frame(e)) for e in events[:2])
    for event in events[:3]:
        client.event(copy.deepcopy(event))
    assert client.passes(up.frame(events[3]))  # " there"
    assert not client.passes(up.frame(events[4]))  # may begin a tag
    assert not client.passes(up.frame(events[-2]))  # not a text delta


def test_upstream_thinking_deltas_pass_raw_in_reasoning_mode_but_not_in_strip() -> None:
    events = up.anthropic_thinking(["Let me think."], ["Hi"])
    for config, passes in ((REASONING, True), (STRIP, False)):
        client = rewriter(config)
        for event in events[:3]:
            client.event(copy.deepcopy(event))
        assert client.passes(up.frame(events[3])) is passes  # a thinking_delta


def test_passed_text_still_counts_for_the_whitespace_rule() -> None:
    # "Hi" then " there " passed raw: after the block, the space before "you" stays single.
    out = run(up.vllm_text(["Hi", " there ", "<think>x</think>", " you"]))
    assert texts(accumulate(out)) == [("text", "Hi there you")]


def test_a_json_escaped_tag_is_not_passed_raw() -> None:
    client = rewriter(STRIP)
    for event in up.vllm_text(["Hi"])[:3]:
        client.event(copy.deepcopy(event))
    assert not client.passes(b'event: content_block_delta\ndata: {"delta":{"text":"\\u003c"}}\n\n')


# -- any split of the answer text ----------------------------------------------------------------

ANSWER = "<think>plan: a < b</think>\n\nHello <think>again</think> world"


@settings(max_examples=150, deadline=None)
@given(
    cuts=st.lists(st.integers(0, len(ANSWER)), max_size=8),
    config=st.sampled_from([STRIP, REASONING, INLINE]),
    server=st.sampled_from([up.vllm_text, up.llama_text]),
)
def test_any_split_of_the_text_gives_the_same_blocks(
    cuts: list[int], config: ThinkConfig, server: Any
) -> None:
    points = sorted({0, len(ANSWER), *cuts})
    deltas = [ANSWER[a:b] for a, b in zip(points, points[1:], strict=False)]
    content = accumulate(run(server(deltas), config))  # consecutive indices, checked
    whole = accumulate(run(server([ANSWER]), config))
    assert content == whole
    expected = {
        "strip": [("text", "Hello world")],
        "reasoning": [
            ("thinking", "plan: a < b"),
            ("text", "Hello "),
            ("thinking", "again"),
            ("text", "world"),
        ],
        "inline": [("text", ANSWER)],
    }
    assert texts(content) == expected[config.mode]


# -- buffered ------------------------------------------------------------------------------------


def body_filter(body: Event, config: ThinkConfig) -> bool:
    return messages.filter_body(body, config, Filters(config))


def test_buffered_strip_removes_think_blocks_and_empty_text_blocks() -> None:
    tool = {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}
    body = up.llama_body(
        [
            {"type": "thinking", "thinking": "Plan.", "signature": ""},
            {"type": "text", "text": "<think>only</think>"},
            {"type": "text", "text": THINK + "Hello!"},
            tool,
        ],
        "tool_use",
    )
    assert body_filter(body, STRIP)
    assert body["content"] == [{"type": "text", "text": "Hello!"}, tool]


def test_buffered_reasoning_adds_a_thinking_block_before_the_text() -> None:
    body = up.vllm_body([{"type": "text", "text": THINK + "Hello!"}])
    assert body_filter(body, REASONING)
    assert body["content"] == [
        {"type": "thinking", "thinking": "The user greets me.", "signature": ""},
        {"type": "text", "text": "Hello!"},
    ]


def test_buffered_matches_the_stream() -> None:
    for config in (STRIP, REASONING, INLINE):
        body = up.vllm_body([{"type": "text", "text": ANSWER}])
        body_filter(body, config)
        assert texts(body["content"]) == texts(accumulate(run(up.vllm_text([ANSWER]), config)))


def test_buffered_implicit_start_cut_off_is_think() -> None:
    config = ThinkConfig(implicit_start=True)
    body = up.vllm_body([{"type": "text", "text": "no end tag"}], "max_tokens")
    assert body_filter(body, config) and body["content"] == []


def test_buffered_inline_shows_thinking_as_text() -> None:
    body = up.vllm_body(
        [
            {"type": "thinking", "thinking": "Plan.", "signature": "ab12"},
            {"type": "thinking", "thinking": "", "signature": "cd34"},
            {"type": "text", "text": "Hi"},
        ]
    )
    assert body_filter(body, INLINE)
    assert body["content"] == [
        {"type": "text", "text": "<think>Plan.</think>"},
        {"type": "text", "text": "Hi"},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        {"type": "message", "content": "text"},
        [1],
        up.vllm_body([{"type": "text", "text": "Plain answer."}, {"type": "text"}]) | {"x": "odd"},
        {"type": "message", "content": [{"type": "text", "text": "Plain."}, "odd", 5]},
    ],
)
def test_buffered_unchanged(body: Any) -> None:
    before = copy.deepcopy(body)
    assert not body_filter(body, STRIP)
    assert body == before


# -- through the conductor: bytes in, bytes out ------------------------------------------------


def client_events(data: bytes) -> list[Event]:
    """The events a client reads from SSE bytes (each event's `event:` name checked)."""
    events = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"data" in lines:
            event = json.loads(lines[b"data"])
            assert lines[b"event"].decode() == event["type"]
            events.append(event)
    return events


def through_stream(chunks: list[bytes], config: ThinkConfig, clock: Any = None) -> bytes:
    stream = FilterStream(config, messages, **({"clock": clock} if clock else {}))
    out = [piece for chunk in [*chunks, b""] for piece in stream(chunk)]
    assert not stream.passthrough, stream.fallback_reason
    return b"".join(out)


SHAPES = [
    up.vllm_text(["<think>", "plan", "</think>", "\n\nHel", "lo", " <think>x</think> world"]),
    up.vllm_thinking_tool(
        ["Let me ", "think."], ["It is ", "<think>hm</think>sunny."], ['{"a":1}']
    ),
    up.llama_thinking_tool(["Hmm."], ["Sure", "."], ['{"city":', '"P"}']),
    up.anthropic_thinking(["Let me think."], ["Hi", " there", "!"]),
]


@settings(max_examples=120, deadline=None)
@given(
    shape=st.sampled_from(range(len(SHAPES))),
    config=st.sampled_from([STRIP, REASONING, INLINE, ThinkConfig(mode="keep")]),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(0, 4000), max_size=12),
)
def test_any_split_of_the_bytes_gives_the_same_answer(
    shape: int, config: ThinkConfig, crlf: bool, cuts: list[int]
) -> None:
    data = up.sse(SHAPES[shape])
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    out = through_stream(chunks, config)
    assert out == through_stream([data], config)
    if config.mode == "keep":
        assert out == data
    else:
        expected = accumulate(run(SHAPES[shape], config))
        assert accumulate(client_events(out)) == expected


def test_untouched_events_keep_their_bytes() -> None:
    data = up.sse(up.anthropic_thinking(["Let me think."], ["Hi", "!"]))
    assert through_stream([data], REASONING) == data  # nothing to change, ping included
    out = through_stream([data], STRIP)
    assert up.frame(up.anthropic_start()) in out and b'data: {"type": "ping"}' in out


def test_a_long_think_block_gets_a_ping_every_5_seconds() -> None:
    now = [0.0]
    stream = FilterStream(STRIP, messages, clock=lambda: now[0])
    events = up.vllm_text(["<think>", *["thinking "] * 12, "</think>", "Done."])
    sent = []
    for event in events:
        now[0] += 1.0
        sent.append(b"".join(stream(up.frame(event))))
    pings = [i for i, data in enumerate(sent) if data == b'event: ping\ndata: {"type":"ping"}\n\n']
    assert pings and all(b - a >= 5 for a, b in zip(pings, pings[1:], strict=False))
    assert len(pings) >= 2
    assert texts(accumulate(client_events(b"".join(sent)))) == [("text", "Done.")]
