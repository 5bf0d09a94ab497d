"""The budget's merge of two Anthropic Messages streams (cot_proxy.budget.messages): any split of
either stream gives the same answer; the thinking block is closed at the cut; the continuation's
blocks follow under the next indices. Streams built with tests/e2e/messages_upstream.py (vLLM's
field set; Ollama's anthropic/anthropic.go StreamConverter sends the same event sequence)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.budget.count import cost
from cot_proxy.budget.messages import MessagesSession
from tests.e2e.messages_upstream import sse
from tests.e2e.messages_upstream import vllm_block_start
from tests.e2e.messages_upstream import vllm_delta
from tests.e2e.messages_upstream import vllm_end
from tests.e2e.messages_upstream import vllm_start
from tests.e2e.messages_upstream import vllm_stop
from tests.e2e.messages_upstream import vllm_thinking_tool
from tests.unit.budget.test_chat import run
from tests.unit.budget.test_chat import splits

THINKING = ["Let", " me", " see", " what", " the", " user", " wants"]
FIRST = sse(vllm_thinking_tool(THINKING, ["late"], ['{"a"', ": 1}"]))
SECOND = sse(vllm_thinking_tool(["Hmm"], ["Four", "."], ['{"city"', ': "Oslo"}']))
MISFILED = sse(
    [vllm_start(), vllm_block_start(0, {"type": "thinking", "thinking": ""}),
     vllm_delta(0, {"type": "thinking_delta", "thinking": "Four"}),
     vllm_delta(0, {"type": "thinking_delta", "thinking": "."}), vllm_stop(0), *vllm_end()]
)  # fmt: skip


def decoded(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in out.decode().split("\n") if line.startswith("data: ")]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.integers(0, 6000), max_size=12),
    st.lists(st.integers(0, 4000), max_size=8),
    st.sampled_from([True, False]),
    st.integers(1, 10),
)
def test_any_split_of_either_stream_gives_the_same_answer(a, b, streamed, budget):
    whole = run(MessagesSession(budget, streamed=streamed), [FIRST], [SECOND])
    split = run(MessagesSession(budget, streamed=streamed), splits(FIRST, a), splits(SECOND, b))
    assert split == whole


def test_the_cut_closes_the_thinking_block_and_the_continuation_follows():
    session = MessagesSession(3, streamed=True)
    events = decoded(run(session, [FIRST], [SECOND]))
    assert [e["type"] for e in events][:6] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_delta", "content_block_stop",
    ]  # fmt: skip
    thinking = [
        e["delta"]["thinking"] for e in events if e.get("delta", {}).get("type") == "thinking_delta"
    ]
    assert thinking == ["Let", " me", " see", "Hmm"]  # the continuation's thought: the slack
    assert sum(cost(t) for t in thinking[:3]) <= 3
    assert [e["type"] for e in events].count("message_start") == 1
    starts = [
        (e["index"], e["content_block"]["type"])
        for e in events
        if e["type"] == "content_block_start"
    ]
    assert starts == [(0, "thinking"), (1, "thinking"), (2, "text"), (3, "tool_use")]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "Four."
    assert not any(e.get("delta", {}).get("type") == "signature_delta" for e in events[6:])
    end = [e for e in events if e["type"] == "message_delta"]
    assert end == [{"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                    "usage": {"input_tokens": 12, "output_tokens": 30 + 3}}]  # fmt: skip
    assert events[-1] == {"type": "message_stop"}


def test_the_buffered_answer_is_one_message():
    session = MessagesSession(3, streamed=False)
    answer = json.loads(run(session, [FIRST], [SECOND]))
    assert answer["type"] == "message" and answer["id"] == "chatcmpl-8f1c2e"
    assert answer["content"] == [
        {"type": "thinking", "thinking": "Let me see"},
        {"type": "thinking", "thinking": "Hmm"},
        {"type": "text", "text": "Four."},
        {"type": "tool_use", "id": "chatcmpl-tool-1f2e", "name": "get_weather",
         "input": {"city": "Oslo"}},
    ]  # fmt: skip
    assert answer["stop_reason"] == "tool_use"
    assert answer["usage"] == {"input_tokens": 12, "output_tokens": 33}


def test_within_the_budget_the_stream_passes_as_it_came():
    session = MessagesSession(100, streamed=True)
    assert run(session, [FIRST], [SECOND]) == FIRST and not session.forced


def test_a_continuation_that_is_all_thinking_and_stops_is_the_answer():
    answer = json.loads(run(MessagesSession(3, streamed=False), [FIRST], [MISFILED]))
    assert answer["content"] == [
        {"type": "thinking", "thinking": "Let me see"}, {"type": "text", "text": "Four."}
    ]  # fmt: skip
    assert answer["stop_reason"] == "end_turn"
