"""The Responses API event format: streamed events and buffered response objects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from cot_proxy.filters import Filters
from cot_proxy.formats import EVENT_FORMATS
from cot_proxy.formats import responses
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from tests.e2e.fixtures_responses import ollama_body
from tests.e2e.fixtures_responses import ollama_sse
from tests.e2e.fixtures_responses import ollama_stream
from tests.e2e.fixtures_responses import vllm_body
from tests.e2e.fixtures_responses import vllm_sse
from tests.e2e.fixtures_responses import vllm_stream
from tests.unit.formats.responses_check import run
from tests.unit.formats.responses_check import view

STRIP = ThinkConfig()
REASONING = ThinkConfig(mode="reasoning")
INLINE = ThinkConfig(mode="inline")
FAMILIES = ("text", "summary", "both")
THINKING = ["<thi", "nk>The user gre", "ets me.</th", "ink>\n\nHel", "lo!"]


def reasoning(family: str) -> ThinkConfig:
    return ThinkConfig(mode="reasoning", responses_reasoning=family)  # type: ignore[arg-type]


def renumbered(events: list[dict[str, Any]], first: int) -> list[dict[str, Any]]:
    return [{**e, "sequence_number": first + n} for n, e in enumerate(events)]


def test_the_format_is_registered() -> None:
    assert EVENT_FORMATS["responses"] is responses
    assert responses.name == "responses" and responses.framing == "sse"


def test_the_heartbeat_is_an_sse_comment_the_sdk_skips() -> None:
    assert responses.rewriter(STRIP, Filters(STRIP)).heartbeat() is None
    # the conductor's comment, between two events, as openai-python's decoder reads it
    data = b"event: a\ndata: {}\n\n: ping\n\nevent: b\ndata: {}\n\n"
    decoded = list(SSEDecoder().iter_bytes(iter([data])))
    assert [(e.event, e.data) for e in decoded] == [("a", "{}"), ("b", "{}")]


# -- strip --------------------------------------------------------------------------------


def test_strip_inline_think_block() -> None:
    seen = view(run(vllm_stream(text=THINKING), STRIP))
    assert seen.items == [("message", "Hello!")]
    assert seen.final.output_text == "Hello!"
    deltas = [e["delta"] for e in seen.events if e["type"] == "response.output_text.delta"]
    assert deltas == ["Hel", "lo!"]  # think-only deltas are dropped, the answer is not held


def test_strip_removes_upstream_reasoning_items_and_renumbers() -> None:
    upstream = vllm_stream(
        ["Let me ", "think."], ["Hi", "!"], [("get_weather", ['{"c', 'ity": 1}'])]
    )
    seen = view(run(upstream, STRIP))
    assert seen.items == [("message", "Hi!"), ("function_call", "")]
    assert not any("reasoning" in kind for kind in seen.kinds())
    calls = [e for e in seen.events if e["type"].startswith("response.function_call_arguments")]
    assert {e["output_index"] for e in calls} == {1}
    assert seen.final.output[1].arguments == '{"city": 1}'
    assert seen.events[-1]["response"]["usage"] == upstream[-1]["response"]["usage"]
    assert len(seen.events) == len(upstream) - 7  # the reasoning item: 2 deltas, 5 others


def test_ollama_summary_reasoning_is_removed_and_escaped_tags_found() -> None:
    upstream = ollama_stream(["Hmm, ", "a greeting."], ["Hi <think>aside</think>", "there"])
    seen = view(run(upstream, STRIP, ollama_sse))
    assert seen.items == [("message", "Hi there")]
    assert b"\\u003cthink\\u003e" in ollama_sse(upstream)  # Go escapes the tags


def test_nothing_to_change_goes_out_as_it_came() -> None:
    upstream = vllm_stream(text=["Hello", " world"], calls=[("f", ["{}"])])
    rewriter = responses.rewriter(STRIP, Filters(STRIP))
    for event in copy.deepcopy(upstream):
        assert rewriter.passes(vllm_sse([event])) or rewriter.event(event) is None
    assert run(upstream, STRIP) == upstream


def test_upstream_reasoning_stays_as_it_came_in_reasoning_mode() -> None:
    upstream = vllm_stream(["Let me ", "think."], ["Hi", "!"])
    assert run(upstream, REASONING) == upstream


def test_only_events_that_cannot_change_pass_unparsed() -> None:
    rewriter = responses.rewriter(STRIP, Filters(STRIP))
    upstream = vllm_stream(["a"], ["b"], [("f", ["{}"])])
    arguments = next(e for e in upstream if e["type"] == "response.function_call_arguments.delta")
    assert rewriter.passes(vllm_sse([arguments]))
    for kind in ("response.output_text.delta", "response.output_item.added", "response.completed"):
        assert not rewriter.passes(vllm_sse([next(e for e in upstream if e["type"] == kind)]))
    rewriter.event(copy.deepcopy(upstream[0]))
    assert rewriter.event(copy.deepcopy(upstream[2])) == []  # a reasoning item: dropped
    assert not rewriter.passes(vllm_sse([arguments]))  # numbers shifted: every event is parsed


@pytest.mark.parametrize("first", [0, 1, 17])
def test_sequence_numbers_count_on_from_the_first(first: int) -> None:
    upstream = renumbered(vllm_stream(["x"], THINKING), first)
    view(run(upstream, STRIP), first_seq=first)
    view(run(upstream, reasoning("both")), first_seq=first)


def test_several_think_blocks_and_tags_split_anywhere() -> None:
    text = ["A<thi", "nk>1</think> b<", "think>2</think", "> c<think>3", "</think>"]
    assert view(run(vllm_stream(text=text), STRIP)).items == [("message", "A b c")]


def test_implicit_start_holds_until_the_end_tag() -> None:
    config = ThinkConfig(implicit_start=True)
    seen = view(run(vllm_stream(text=["The user ", "greets me.</th", "ink>Hello!"]), config))
    assert seen.items == [("message", "Hello!")]
    seen = view(run(vllm_stream(text=["No ", "thinking here."]), config))
    assert seen.items == [("message", "No thinking here.")]  # released at the done event


def test_custom_tags_and_several_pairs() -> None:
    config = ThinkConfig(tags=(("[THINK]", "[/THINK]"), ("<r>", "</r>")))
    text = ["[THI", "NK]a[/THINK]B<r>c", "</r>D"]
    assert view(run(vllm_stream(text=text), config)).items == [("message", "BD")]


def test_held_text_is_released_when_the_stream_ends_without_a_terminal_event() -> None:
    upstream = vllm_stream(text=["Hello <", "thi"])[:-4]  # cut after the last delta
    out = run(upstream, STRIP)
    deltas = [e["delta"] for e in out if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == "Hello <thi"
    assert [e["sequence_number"] for e in out] == list(range(len(out)))


def test_events_of_unexpected_shapes_pass_unchanged() -> None:
    rewriter = responses.rewriter(STRIP, Filters(STRIP))
    for odd in ([1], "x", {"no": "type"}, {"type": 5}, {"type": "error", "message": "boom"}):
        assert rewriter.event(copy.deepcopy(odd)) is None
    odd_delta = {"type": "response.output_text.delta", "output_index": 0, "delta": None}
    assert rewriter.event(copy.deepcopy(odd_delta)) is None


def test_several_message_items_each_have_their_channel() -> None:
    first = vllm_stream(text=["<think>a</think>One"])
    second = [
        {**e, "output_index": 1, "item_id": "m2"} if "output_index" in e else e for e in first[2:-1]
    ]
    for e in second:
        if "item" in e:
            e["item"] = {**e["item"], "id": "m2"}
    upstream = renumbered([*first[:-1], *second, first[-1]], 0)
    upstream[-1]["response"]["output"] *= 2
    seen = view(run(upstream, reasoning("text")))
    assert seen.items == [("reasoning", "a"), ("message", "One")] * 2


# -- reasoning mode -------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_reasoning_mode_puts_a_reasoning_item_before_the_message(family: str) -> None:
    seen = view(run(vllm_stream(text=THINKING), reasoning(family)))
    assert seen.items == [("reasoning", "The user greets me."), ("message", "Hello!")]
    reasoning_item = seen.final.output[0]
    if family != "summary":
        assert reasoning_item.content[0].text == "The user greets me."
    if family != "text":
        assert reasoning_item.summary[0].text == "The user greets me."
    assert seen.final.output_text == "Hello!"


def test_reasoning_text_family_events() -> None:
    kinds = view(run(vllm_stream(text=["<think>a", "b</think>C"]), reasoning("text"))).kinds()
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_reasoning_summary_family_events() -> None:
    kinds = view(run(vllm_stream(text=["<think>a</think>C"]), reasoning("summary"))).kinds()
    assert kinds[2:7] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]


def test_think_text_after_the_answer_began_follows_the_message() -> None:
    upstream = vllm_stream(text=["<think>a</think>Hi", " there<think>b</think>", "!"])
    seen = view(run(upstream, reasoning("both")))
    assert seen.items == [("reasoning", "a"), ("message", "Hi there!"), ("reasoning", "b")]


def test_reasoning_mode_with_upstream_reasoning_and_inline_think() -> None:
    upstream = vllm_stream(["upstream"], ["<think>mine</think>Hi"], [("f", ["{}"])])
    seen = view(run(upstream, reasoning("text")))
    assert seen.items == [
        ("reasoning", "upstream"),
        ("reasoning", "mine"),
        ("message", "Hi"),
        ("function_call", ""),
    ]


def test_implicit_start_in_reasoning_mode() -> None:
    config = ThinkConfig(mode="reasoning", implicit_start=True)
    seen = view(run(vllm_stream(text=["thinking", "...</think>Done"]), config))
    assert seen.items == [("reasoning", "thinking..."), ("message", "Done")]


def test_a_message_that_is_all_think_text() -> None:
    seen = view(run(vllm_stream(text=["<think>only this"]), reasoning("text")))
    assert seen.items == [("reasoning", "only this"), ("message", "")]


# -- inline mode ----------------------------------------------------------------------------


def test_inline_mode_puts_upstream_reasoning_into_the_message() -> None:
    seen = view(run(vllm_stream(["Let me ", "think."], ["Hi"]), INLINE))
    assert seen.items == [("message", "<think>Let me think.</think>Hi")]
    seen = view(run(ollama_stream(["Hmm."], ["Hi"]), INLINE, ollama_sse))
    assert seen.items == [("message", "<think>Hmm.</think>Hi")]


def test_inline_mode_without_a_message_makes_one() -> None:
    seen = view(run(vllm_stream(["Let me ", "think."], None, [("f", ["{}"])]), INLINE))
    assert seen.items == [("message", "<think>Let me think.</think>"), ("function_call", "")]
    assert seen.final.output[1].name == "f"


def test_inline_mode_leaves_the_models_own_text() -> None:
    upstream = vllm_stream(text=THINKING)
    assert run(upstream, INLINE) == upstream


# -- any split of the answer text -----------------------------------------------------------

PIECES = st.lists(
    st.sampled_from(["<think>", "</think>", "<", "/", "think", ">", "a", " ", "\n", "é", "b c"]),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(pieces=PIECES, data=st.data())
def test_any_split_of_the_text_gives_the_same_client_view(pieces: list[str], data: Any) -> None:
    text = "".join(pieces)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    split = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if b > a] or [""]
    config = data.draw(st.sampled_from([STRIP, reasoning("text"), reasoning("summary"), INLINE]))
    whole = view(run(vllm_stream(["r"], [text]), config))
    parts = view(run(vllm_stream(["r"], split), config))
    assert parts.items == whole.items
    assert parts.final.output_text == whole.final.output_text


@settings(max_examples=150, deadline=None)
@given(pieces=PIECES, data=st.data())
def test_the_buffered_answer_matches_the_streamed_one(pieces: list[str], data: Any) -> None:
    text = "".join(pieces)
    config = data.draw(st.sampled_from([STRIP, INLINE, ThinkConfig(implicit_start=True)]))
    upstream_reasoning = data.draw(st.sampled_from([None, "r"]))
    reasoning_deltas = None if upstream_reasoning is None else [upstream_reasoning]
    streamed = view(run(vllm_stream(reasoning_deltas, [text]), config)).items
    assert texts(filtered(vllm_body(upstream_reasoning, text), config)[1]) == streamed


def test_answered_is_the_first_answer_text_or_tool_call() -> None:
    rewriter = responses.rewriter(STRIP, Filters(STRIP))
    upstream = vllm_stream(None, ["<think>a", "</think>", "B"], [("f", ["{}"])])
    answered = []
    for event in copy.deepcopy(upstream):
        rewriter.event(event)
        answered.append(rewriter.answered)
    first = next(i for i, e in enumerate(upstream) if e.get("delta") == "B")
    assert answered.index(True) == first
    rewriter = responses.rewriter(STRIP, Filters(STRIP))
    for event in copy.deepcopy(vllm_stream(["r"], None, [("f", ["{}"])]))[:-1]:
        rewriter.event(event)
        if (
            event["type"] == "response.output_item.added"
            and event["item"]["type"] == "function_call"
        ):
            assert rewriter.answered
    assert not rewriter.finished


def test_a_cut_off_implicit_block_is_think_text_at_response_incomplete() -> None:
    config = ThinkConfig(implicit_start=True)
    upstream = vllm_stream(text=["still ", "thinking"], status="incomplete")
    no_done = [e for e in upstream if not e["type"].endswith(".done")]  # cut before any done
    out = run(renumbered(no_done, 0), config)
    assert out[-1]["type"] == "response.incomplete"
    assert not any(e["type"] == "response.output_text.delta" for e in out)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert out[-1]["response"]["output"][0]["content"][0]["text"] == ""
    # with the done events, the part ended before the reason was known: answer text
    assert view(run(upstream, config)).items == [("message", "still thinking")]


# -- buffered answers -----------------------------------------------------------------------


def filtered(body: dict[str, Any], config: ThinkConfig) -> tuple[bool, dict[str, Any]]:
    body = copy.deepcopy(body)
    changed = responses.filter_body(body, config, Filters(config))
    return changed, json.loads(json.dumps(body))


def texts(body: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for item in body["output"]:
        parts = item.get("content") or item.get("summary") or []
        out.append((item["type"], "".join(p["text"] for p in parts)))
    return out


def test_body_strip() -> None:
    changed, body = filtered(vllm_body("Let me think.", "<think>more</think>\n\nHi"), STRIP)
    assert changed and texts(body) == [("message", "Hi")]
    changed, body = filtered(ollama_body("Hmm.", "Hi"), STRIP)
    assert changed and texts(body) == [("message", "Hi")]
    assert body["usage"]["total_tokens"] == 44


@pytest.mark.parametrize("family", FAMILIES)
def test_body_reasoning(family: str) -> None:
    changed, body = filtered(
        vllm_body(None, "<think>more</think>\n\nHi", [("f", "{}")]), reasoning(family)
    )
    assert changed and texts(body) == [
        ("reasoning", "more"),
        ("message", "Hi"),
        ("function_call", ""),
    ]
    item = body["output"][0]
    assert ("content" in item) == (family != "summary")
    assert bool(item["summary"]) == (family != "text")


def test_body_inline() -> None:
    changed, body = filtered(vllm_body("Let me think.", "Hi"), INLINE)
    assert changed and texts(body) == [("message", "<think>Let me think.</think>Hi")]
    changed, body = filtered(vllm_body("Let me think.", None, [("f", "{}")]), INLINE)
    assert changed and texts(body) == [
        ("message", "<think>Let me think.</think>"),
        ("function_call", ""),
    ]


def test_body_output_text_field_kept_consistent() -> None:
    body = {**vllm_body(None, "<think>x</think>Hi"), "output_text": "<think>x</think>Hi"}
    changed, body = filtered(body, STRIP)
    assert changed and body["output_text"] == "Hi"


@pytest.mark.parametrize(
    "body",
    [
        vllm_body(None, "Hi"),
        {"error": {"message": "bad", "type": "invalid_request_error"}},
        {"object": "list", "data": []},
        [1, 2],
    ],
)
def test_body_unchanged(body: Any) -> None:
    assert filtered(body, STRIP) == (False, body)


# -- through the conductor ------------------------------------------------------------------

STREAMS = {
    "vllm": vllm_sse(vllm_stream(["Let me ", "think."], THINKING, [("f", ['{"a":', " 1}"])])),
    "ollama": ollama_sse(ollama_stream(["Hmm."], ["Hi <think>x</think>", " there 👋"])),
}


def through(config: ThinkConfig, chunks: list[bytes]) -> bytes:
    stream = FilterStream(config, responses)
    out: list[bytes] = []
    for chunk in chunks:
        out += stream(chunk)
    out += stream(b"")
    assert not stream.passthrough and stream.done_sent
    return b"".join(out)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_any_split_of_the_bytes_gives_the_same_output(data: Any) -> None:
    raw = STREAMS[data.draw(st.sampled_from(sorted(STREAMS)))]
    config = data.draw(st.sampled_from([STRIP, reasoning("both"), INLINE]))
    points = sorted(set(data.draw(st.lists(st.integers(0, len(raw)), max_size=12))))
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)]) if b > a]
    assert through(config, chunks) == through(config, [raw])


def test_the_conductor_sends_what_the_client_expects() -> None:
    out = through(reasoning("text"), [STREAMS["vllm"]]).decode()
    events = [
        json.loads(line[6:])
        for block in out.split("\n\n")
        for line in block.splitlines()
        if line.startswith("data: ")
    ]
    seen = view(events)
    assert seen.items == [
        ("reasoning", "Let me think."),
        ("reasoning", "The user greets me."),
        ("message", "Hello!"),
        ("function_call", ""),
    ]
    names = [line[7:] for line in out.splitlines() if line.startswith("event: ")]
    assert names == [e["type"] for e in events]  # new events are named too
