"""RequestRules: the history as the rule says, else as the model family's preset says."""

from __future__ import annotations

from typing import Any

from mitmproxy.test import taddons

from cot_proxy.flow import notes
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.think_removal import ThinkRemoval
from tests.addon.flows import chat_flow

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def conversation(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "A"},
            {"role": "tool", "tool_call_id": "c1", "content": "4"},
            {"role": "assistant", "content": "It is 4.", "reasoning_content": "B"},
            {"role": "user", "content": "thanks"},
        ],
    }


def sent(
    model: str, llm_params: str = "", think_family: str = ""
) -> tuple[dict[str, Any], list[str]]:
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think) as tctx:
        tctx.configure(think, think_family=think_family)
        tctx.configure(rules, llm_params=llm_params)
        flow = chat_flow(conversation(model))
        rules.request(flow)
        return flow.request.json(), notes(flow).changes


def assistants(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "assistant"]


def test_the_rules_family_preset_applies_without_a_history_key():
    body, changes = sent("m", llm_params="model=m,think_family=minimax")
    assert [m["content"] for m in assistants(body)] == [
        "<think>A</think>",
        "<think>B</think>\n\nIt is 4.",
    ]
    assert "history: think moved inline in 2 assistant message(s)" in changes


def test_think_family_sets_the_preset_for_requests_no_rule_names():
    body, _ = sent("any", think_family="gemma4")
    first, second = assistants(body)
    assert first["reasoning_content"] == "A" and "reasoning_content" not in second


def test_a_model_name_finds_its_preset_without_any_setting():
    body, changes = sent("deepseek-v4-flash")
    first, second = assistants(body)
    assert first["reasoning_content"] == "A" and "reasoning_content" not in second
    assert changes == ["history: think removed from 1 assistant message(s)"]


def test_explicit_keys_win_over_the_preset():
    body, changes = sent("m", llm_params="model=m,think_family=minimax,history=keep")
    assert assistants(body) == assistants(conversation("m"))
    assert changes == []


def test_no_family_and_no_rule_leave_the_body_bytes_alone():
    body, changes = sent("qwen3")
    assert body == conversation("qwen3") and changes == []
