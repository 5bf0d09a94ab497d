"""The response side of the reasoning memory: what one answer's turns were, from the filters'
observers and the upstream's own events, streamed and buffered, in every format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.body import filter_body_counted
from cot_proxy.formats import format_of
from cot_proxy.memory.keys import fingerprint
from cot_proxy.memory.recall import Recall
from cot_proxy.memory.recall import ollama_call_id
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript

THOUGHT = "I should call the tool."


def chat_chunk(**delta) -> bytes:
    obj = {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }
    return f"data: {json.dumps(obj)}\n\n".encode()


def run_stream(endpoint: str, mode: Any, events: list[bytes], transcript=None) -> Recall:
    config = ThinkConfig(mode=mode)
    recall = Recall(endpoint, mode)
    fmt = format_of(endpoint)
    assert fmt is not None
    stream = FilterStream(config, fmt, recall=recall, transcript=transcript)
    for event in events:
        for i in range(0, len(event), 7):  # cut anywhere
            stream(event[i : i + 7])
    stream(b"")
    return recall


CALL = {
    "index": 0,
    "id": "call_1",
    "type": "function",
    "function": {"name": "f", "arguments": "{}"},
}


@pytest.mark.parametrize("mode", ["strip", "reasoning", "inline"])
def test_chat_stream_tags_and_tool_call(mode):
    events = [
        chat_chunk(role="assistant", content=""),
        chat_chunk(content=f"<think>{THOUGHT}</think>\n\nOk."),
        chat_chunk(tool_calls=[CALL]),
        b"data: [DONE]\n\n",
    ]
    turns = run_stream("chat", mode, events)
    if mode == "inline":  # inline leaves the model's text (and its tags) as it is: no reasoning
        assert turns.turns() == []
    else:
        assert turns.turns() == [(fingerprint("Ok.", ["call_1"]), THOUGHT)]


@pytest.mark.parametrize("mode", ["strip", "reasoning", "inline"])
def test_chat_stream_reasoning_field(mode):
    events = [
        chat_chunk(role="assistant", content=""),
        chat_chunk(reasoning_content=THOUGHT[:5]),
        chat_chunk(reasoning_content=THOUGHT[5:]),
        chat_chunk(content="Ok."),
        chat_chunk(tool_calls=[CALL]),
        b"data: [DONE]\n\n",
    ]
    recall = run_stream("chat", mode, events)
    assert recall.turns() == [(fingerprint("Ok.", ["call_1"]), THOUGHT)]


def test_the_transcript_and_the_recall_both_observe():
    transcript = Transcript("strip", "reasoning_content")
    events = [chat_chunk(content=f"<think>{THOUGHT}</think>Ok."), b"data: [DONE]\n\n"]
    recall = run_stream("chat", "strip", events, transcript)
    assert recall.turns() == [(fingerprint("Ok.", []), THOUGHT)]
    assert transcript.summary()["channels"][0] == {"channel": 0, "answer": "Ok.", "think": THOUGHT}


def test_chat_choices_are_turns_of_their_own():
    body = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": f"<think>a</think>One"}},
            {
                "index": 1,
                "message": {"role": "assistant", "content": "Two", "reasoning_content": "b"},
            },
        ]
    }
    recall = Recall("chat", "strip")
    fmt = format_of("chat")
    assert fmt is not None
    new, _ = filter_body_counted(json.dumps(body).encode(), ThinkConfig(), fmt, None, recall)
    assert new is not None and b"<think>" not in new
    assert recall.turns() == [(fingerprint("One", []), "a"), (fingerprint("Two", []), "b")]


def test_responses_buffered_reasoning_item_and_call():
    body = {
        "object": "response",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": THOUGHT}],
            },
            {
                "type": "message",
                "id": "m",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Ok.", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc",
                "call_id": "call_9",
                "name": "f",
                "arguments": "{}",
            },
        ],
    }
    recall = Recall("responses", "strip")
    fmt = format_of("responses")
    assert fmt is not None
    filter_body_counted(json.dumps(body).encode(), ThinkConfig(), fmt, None, recall)
    assert recall.turns() == [(fingerprint("Ok.", ["call_9"]), THOUGHT)]


def test_messages_buffered_thinking_and_tool_use():
    body = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": THOUGHT, "signature": "s"},
            {"type": "text", "text": "Ok."},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        ],
    }
    recall = Recall("messages", "strip")
    fmt = format_of("messages")
    assert fmt is not None
    filter_body_counted(json.dumps(body).encode(), ThinkConfig(), fmt, None, recall)
    assert recall.turns() == [(fingerprint("Ok.", ["toolu_1"]), THOUGHT)]


def test_ollama_stream_thinking_and_call_without_id():
    call = {"function": {"name": "f", "arguments": {"b": 2, "a": 1}}}
    lines = [
        {"message": {"role": "assistant", "content": "", "thinking": THOUGHT}, "done": False},
        {"message": {"role": "assistant", "content": "Ok.", "tool_calls": [call]}, "done": False},
        {"message": {"role": "assistant", "content": ""}, "done": True},
    ]
    events = [json.dumps(line).encode() + b"\n" for line in lines]
    recall = run_stream("ollama_chat", "strip", events)
    assert recall.turns() == [(fingerprint("Ok.", ['ollama:f:{"a":1,"b":2}']), THOUGHT)]
    # the client may send the arguments back as a JSON string
    as_text = {"function": {"name": "f", "arguments": '{"a": 1, "b": 2}'}}
    assert ollama_call_id(as_text) == ollama_call_id(call)


def test_an_answer_past_the_limit_is_not_stored():
    recall = Recall("chat", "strip")
    recall.room = 10
    recall.add_answer(0, "x" * 5)
    recall.add_think(0, "y" * 20)
    assert recall.overflow and recall.turns() == []


def test_completions_have_no_turns():
    recall = Recall("completions", "strip")
    recall.scan({"choices": [{"text": "x", "reasoning_content": "y"}]})
    assert recall.turns() == []


def sse_events(events: list[dict[str, Any]]) -> list[bytes]:
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


@pytest.mark.parametrize("mode", ["strip", "reasoning", "inline"])
def test_responses_stream_of_vllm(mode):
    from tests.e2e.fixtures_responses import vllm_stream

    events = vllm_stream(
        reasoning=[THOUGHT[:6], THOUGHT[6:]], text=["Ok", "."], calls=[("f", ["{", "}"])]
    )
    recall = run_stream("responses", mode, sse_events(events))
    [(turn, reasoning)] = recall.turns()
    assert reasoning == THOUGHT
    # the ids of the final response, which the client keeps (vLLM gives new ones there)
    [completed] = [e for e in events if e["type"] == "response.completed"]
    call_ids = [
        i["call_id"] for i in completed["response"]["output"] if i["type"] == "function_call"
    ]
    assert call_ids and call_ids[0].startswith("call_fc_f")
    assert turn == fingerprint("Ok.", call_ids)


def test_responses_stream_of_ollama():
    from tests.e2e.fixtures_responses import ollama_stream

    events = ollama_stream(thinking=[THOUGHT[:6], THOUGHT[6:]], text=["Ok."])
    recall = run_stream("responses", "strip", sse_events(events))
    assert recall.turns() == [(fingerprint("Ok.", []), THOUGHT)]


def test_responses_reasoning_deltas_without_a_whole_item():
    recall = Recall("responses", "strip")
    for piece in (THOUGHT[:4], THOUGHT[4:]):
        recall.scan({"type": "response.reasoning_text.delta", "item_id": "rs_1", "delta": piece})
    recall.add_answer(0, "Ok.")
    assert recall.turns() == [(fingerprint("Ok.", []), THOUGHT)]
    recall.scan(
        {
            "type": "response.output_item.done",
            "item": {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": THOUGHT}],
            },
        }
    )
    assert recall.turns() == [(fingerprint("Ok.", []), THOUGHT)]  # not twice


@pytest.mark.parametrize("mode", ["strip", "reasoning", "inline", "keep"])
def test_messages_stream_of_vllm(mode):
    from tests.e2e.messages_upstream import sse as messages_sse
    from tests.e2e.messages_upstream import vllm_thinking_tool

    events = vllm_thinking_tool([THOUGHT[:6], THOUGHT[6:]], ["Ok", "."], ['{"a":', "1}"])
    if mode == "keep":  # keep mode: the memory reads a copy (cot_proxy.memory.tap)
        from cot_proxy.memory.tap import RecallTap

        recall = Recall("messages", mode)
        fmt = format_of("messages")
        assert fmt is not None
        raw = messages_sse(events)
        tap = RecallTap(
            FilterStream(ThinkConfig(mode="keep"), fmt), ThinkConfig(mode="keep"), fmt, recall
        )
        assert b"".join(tap(raw) + tap(b"")) == raw  # the client gets every byte as it came
    else:
        recall = run_stream("messages", mode, [messages_sse(events)])
    assert recall.turns() == [(fingerprint("Ok.", ["chatcmpl-tool-1f2e"]), THOUGHT)]


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(["strip", "reasoning", "keep"]),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12),
)
def test_a_stream_split_anywhere_recalls_the_same_turn(mode, cuts):
    events = [
        chat_chunk(role="assistant", content=""),
        chat_chunk(content="Sure, <think>" + THOUGHT[:9]),
        chat_chunk(content=THOUGHT[9:] + "</think> the answer é."),
        chat_chunk(reasoning_content="more"),
        chat_chunk(tool_calls=[CALL]),
        b"data: [DONE]\n\n",
    ]
    data = b"".join(events)
    config = ThinkConfig(mode=mode)
    recall = Recall("chat", mode)
    fmt = format_of("chat")
    assert fmt is not None
    if mode == "keep":
        from cot_proxy.memory.tap import RecallTap

        stream: Any = RecallTap(FilterStream(config, fmt), config, fmt, recall)
    else:
        stream = FilterStream(config, fmt, recall=recall)
    at = 0
    for cut in sorted(set(cuts)):
        stream(data[at:cut])
        at = max(at, cut)
    stream(data[at:])
    stream(b"")
    [(turn, reasoning)] = recall.turns()
    assert turn == fingerprint("Sure, the answer é.", ["call_1"])
    assert reasoning.startswith(THOUGHT) and reasoning.endswith("more")
