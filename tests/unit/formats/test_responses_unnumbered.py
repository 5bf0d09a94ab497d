"""Responses streams whose events carry no output_index, content_index or sequence_number
(llama-server, `tests/e2e/fixtures_llama.py`): placed by item id, else as one channel per item
type, and filtered exactly like the numbered streams of vLLM and Ollama."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.formats import responses
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from tests.e2e.fixtures_llama import LLAMA_MSG
from tests.e2e.fixtures_llama import llama_sse
from tests.e2e.fixtures_llama import llama_stream
from tests.unit.formats.responses_check import run
from tests.unit.formats.responses_check import view

STRIP = ThinkConfig()
REASONING = ThinkConfig(mode="reasoning", responses_reasoning="text")
INLINE = ThinkConfig(mode="inline")
# The reproduction: grammar `root ::= "<think>hidden</think>" " visible"`, as the
# sampler may cut it.
HIDDEN = ["<think>", "hid", "den", "</think>", " visible"]
TEXT_DELTA = "response.output_text.delta"


def deltas(events: list[dict[str, Any]], kind: str = TEXT_DELTA) -> str:
    return "".join(e["delta"] for e in events if e["type"] == kind)


def anonymous(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same stream with no item ids on its events either: nothing names an item."""
    events = copy.deepcopy(events)
    for e in events:
        e.pop("item_id", None)
        if e["type"] in ("response.output_item.added", "response.output_item.done"):
            e["item"].pop("id")
    return events


def test_the_fixture_has_llama_servers_shape() -> None:
    for e in llama_stream(["r"], HIDDEN):
        assert not {"output_index", "content_index", "sequence_number"} & e.keys()
    assert deltas(run(llama_stream(None, HIDDEN), ThinkConfig(mode="keep"), llama_sse)) == (
        "<think>hidden</think> visible"
    )


@pytest.mark.parametrize("shape", [llama_stream, lambda r, t: anonymous(llama_stream(r, t))])
def test_strip_filters_the_streamed_text(shape: Any) -> None:
    seen = view(run(shape(None, HIDDEN), STRIP, llama_sse), first_seq=None)
    assert seen.items == [("message", "visible")]
    assert deltas(seen.events) == "visible"
    assert "hid" not in str(seen.events)
    assert seen.final.output_text == "visible"  # the SDK's accumulator agrees with the deltas


def test_strip_drops_the_servers_own_reasoning_item() -> None:
    seen = view(run(llama_stream(["Hmm."], ["Hi ", "there"]), STRIP, llama_sse), first_seq=None)
    assert seen.items == [("message", "Hi there")]
    assert not any("reasoning" in kind for kind in seen.kinds())
    assert [i["type"] for i in seen.events[-1]["response"]["output"]] == ["message"]


def test_reasoning_mode_sends_a_reasoning_item() -> None:
    seen = view(run(llama_stream(None, HIDDEN), REASONING, llama_sse), first_seq=None)
    assert seen.items == [("reasoning", "hidden"), ("message", "visible")]
    assert deltas(seen.events, "response.reasoning_text.delta") == "hidden"
    assert seen.final.output_text == "visible"
    assert [i.type for i in seen.final.output] == ["reasoning", "message"]


def test_inline_mode_moves_the_servers_reasoning_into_the_text() -> None:
    seen = view(run(llama_stream(["Hmm."], ["Hi"]), INLINE, llama_sse), first_seq=None)
    assert seen.items == [("message", "<think>Hmm.</think>Hi")]
    assert deltas(seen.events) == "<think>Hmm.</think>Hi"
    assert seen.final.output_text == "<think>Hmm.</think>Hi"


def test_the_client_gets_the_numbers_the_sdk_needs_and_no_other() -> None:
    out = run(llama_stream(None, ["Hi"]), STRIP, llama_sse)
    for e in out:
        assert "sequence_number" not in e
        if e["type"] == TEXT_DELTA or e["type"] == "response.output_text.done":
            assert (e["output_index"], e["content_index"], e["item_id"]) == (0, 0, LLAMA_MSG)
        elif e["type"] == "response.content_part.added":
            assert "content_index" not in e and e["output_index"] == 0
    assert {e["type"] for e in out if "timings" in e} == {TEXT_DELTA, "response.completed"}


PIECES = st.lists(
    st.sampled_from(["<think>", "</think>", "<", "/", "think", ">", "a", " ", "é"]), max_size=10
)


@settings(max_examples=150, deadline=None)
@given(pieces=PIECES, data=st.data())
def test_any_split_gives_the_same_client_view(pieces: list[str], data: Any) -> None:
    text = "".join(pieces) or "x"
    cuts = sorted(
        data.draw(st.sets(st.integers(1, len(text) - 1), max_size=5)) if len(text) > 1 else []
    )
    split = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    config = data.draw(st.sampled_from([STRIP, REASONING, INLINE]))
    reasoning = data.draw(st.sampled_from([None, ["r"]]))
    whole = view(run(llama_stream(reasoning, [text]), config, llama_sse), first_seq=None)
    parts = view(run(llama_stream(reasoning, split), config, llama_sse), first_seq=None)
    assert parts.items == whole.items
    assert parts.final.output_text == whole.final.output_text == parts.answer
    if config is STRIP:
        assert "<think>" not in parts.answer


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_split_of_the_bytes_through_the_conductor(data: Any) -> None:
    raw = llama_sse(llama_stream(["r"], HIDDEN))
    config = data.draw(st.sampled_from([STRIP, REASONING, INLINE]))
    points = sorted(set(data.draw(st.lists(st.integers(0, len(raw)), max_size=10))))
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)]) if b > a]

    def through(pieces: list[bytes]) -> bytes:
        stream = FilterStream(config, responses)
        out = [b for piece in [*pieces, b""] for b in stream(piece)]
        assert not stream.passthrough and stream.done_sent
        return b"".join(out)

    whole = through([raw])
    assert through(chunks) == whole
    if config is STRIP:
        assert b"hidden" not in whole and b"<think>" not in whole


def test_strip_filters_text_an_added_part_or_item_already_carries() -> None:
    events = llama_stream(None, ["C"])
    part_added = next(e for e in events if e["type"] == "response.content_part.added")
    part_added["part"]["text"] = "<think>a</think>B"
    out = run(events, STRIP, llama_sse)
    assert "<think>" not in str(out)
    assert next(e for e in out if e["type"] == "response.content_part.added")["part"]["text"] == "B"
    assert out[-1]["response"]["output"][0]["content"][0]["text"] == "BC"
    events = llama_stream(None, ["C"])
    item_added = next(e for e in events if e["type"] == "response.output_item.added")
    item_added["item"]["content"] = [{"type": "output_text", "text": "<think>x</think>"}]
    out = run(events, STRIP, llama_sse)
    assert (
        "<think>" not in str(out) and out[-1]["response"]["output"][0]["content"][0]["text"] == "C"
    )
