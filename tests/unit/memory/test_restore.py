"""The request side of the reasoning memory: which turns lack reasoning, and where it goes back."""

from __future__ import annotations

import copy
from typing import Any

from cot_proxy.memory.keys import fingerprint
from cot_proxy.memory.recall import ollama_call_id
from cot_proxy.memory.restore import lacking

STARTS = ("<think>",)
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def restore(body, endpoint, known, field="reasoning_content"):
    """Put back what `known` (fingerprint -> reasoning) has; the fingerprints asked for."""
    asked = []
    for turn in lacking(body, endpoint, STARTS, field):
        asked.append(turn.print)
        if turn.print in known:
            turn.put(known[turn.print])
    return asked


def test_chat_turns_without_reasoning_get_the_field():
    body: Any = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "Ok.", "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "r"},
            {"role": "assistant", "content": [{"type": "text", "text": "Done"}]},
            {"role": "assistant", "content": "has", "reasoning_content": "own"},
            {"role": "assistant", "content": "<think>inline</think>has"},
            {"role": "assistant", "content": None},
        ]
    }
    first, second = fingerprint("Ok.", ["call_1"]), fingerprint("Done", [])
    asked = restore(body, "chat", {first: "T1"}, field="reasoning")
    assert asked == [first, second]
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "Ok.",
        "tool_calls": [CALL],
        "reasoning": "T1",
    }
    assert "reasoning" not in body["messages"][3]
    assert body["messages"][4] == {
        "role": "assistant",
        "content": "has",
        "reasoning_content": "own",
    }


def test_chat_both_fields_restores_reasoning_content():
    body = {"messages": [{"role": "assistant", "content": "Ok."}]}
    restore(body, "chat", {fingerprint("Ok.", []): "T"}, field="both")
    assert body["messages"][0]["reasoning_content"] == "T"


def test_ollama_gets_thinking_and_knows_calls_by_name_and_arguments():
    call = {"function": {"name": "f", "arguments": {"a": 1}}}
    body = {
        "messages": [
            {"role": "assistant", "content": "Ok.", "tool_calls": [call]},
            {"role": "assistant", "content": "x", "thinking": "own"},
        ]
    }
    known = {fingerprint("Ok.", [ollama_call_id(call)]): "T"}
    assert restore(body, "ollama_chat", known) == list(known)
    assert body["messages"][0]["thinking"] == "T"


def test_messages_gets_a_thinking_block_first():
    tool = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    body = {
        "messages": [
            {"role": "assistant", "content": [{"type": "text", "text": "Ok."}, tool]},
            {"role": "assistant", "content": "plain"},
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "x"},
                    {"type": "text", "text": "signed"},
                ],
            },
        ]
    }
    known = {fingerprint("Ok.", ["toolu_1"]): "T1", fingerprint("plain", []): "T2"}
    assert len(restore(body, "messages", known)) == 2
    thinking = {"type": "thinking", "thinking": "T1", "signature": ""}
    assert body["messages"][0]["content"] == [thinking, {"type": "text", "text": "Ok."}, tool]
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "T2", "signature": ""},
        {"type": "text", "text": "plain"},
    ]


def test_responses_gets_a_reasoning_item_before_each_turn():
    user = {"role": "user", "content": "q"}
    call = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
    out = {"type": "function_call_output", "call_id": "call_1", "output": "r"}
    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Done"}],
    }
    owned = {"type": "reasoning", "id": "rs_own", "summary": []}
    body: Any = {
        "input": [
            user,
            call,
            out,
            message,
            user,
            copy.deepcopy(owned),
            {"role": "assistant", "content": [{"type": "output_text", "text": "x"}]},
        ]
    }
    known = {fingerprint("", ["call_1"]): "T1", fingerprint("Done", []): "T2"}
    assert len(restore(body, "responses", known)) == 2
    items = body["input"]
    kinds = [item.get("type", item.get("role")) for item in items]
    assert kinds == [
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
        "message",
        "user",
        "reasoning",
        "assistant",
    ]
    assert items[1]["content"] == [{"type": "reasoning_text", "text": "T1"}]
    assert items[1]["id"].startswith("rs_") and items[1]["id"] != items[4]["id"]
    assert items[7] == owned


def test_a_turn_with_text_and_calls_is_one_responses_turn():
    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Let me see."}],
    }
    call = {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"}
    body = {"input": [{"role": "user", "content": "q"}, message, call]}
    turn = fingerprint("Let me see.", ["c2"])
    assert restore(body, "responses", {turn: "T"}) == [turn]
    assert body["input"][1]["type"] == "reasoning" and body["input"][2] is message


def test_prompts_have_no_turns():
    assert lacking({"prompt": "x"}, "completions", STARTS) == []
    assert lacking({"prompt": "x"}, "ollama_generate", STARTS) == []
    assert lacking({"messages": "not a list"}, "chat", STARTS) == []
