"""How a budget is held per server and mode (cot_proxy.budget.plan and .native)."""

from __future__ import annotations

import pytest

from cot_proxy.budget.native import ROWS
from cot_proxy.budget.native import native_row
from cot_proxy.budget.plan import plan_budget
from cot_proxy.budget.settings import Budget

HI = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("server", "endpoint", "fields"),
    [
        ("llamacpp", "chat", {"thinking_budget_tokens": 100}),
        ("llamacpp", "messages", {"thinking": {"type": "enabled", "budget_tokens": 100}}),
        ("vllm", "chat", {"thinking_token_budget": 100}),
        ("vllm", "completions", {"thinking_token_budget": 100}),
        ("sglang", "chat", {"custom_params": {"thinking_budget": 100}}),
        ("anthropic", "messages", {"thinking": {"type": "enabled", "budget_tokens": 100}}),
    ],
)
def test_native_rows_write_the_servers_knob_and_remove_the_others(server, endpoint, fields):
    body = {"messages": HI, "thinking_token_budget": 5, "custom_params": {"thinking_budget": 6}}
    plan = plan_budget(body, Budget(100, "header"), server, endpoint)
    assert plan.how == "native"
    assert body == {"messages": HI, **fields}
    assert plan.note.startswith("think budget 100 → ")


def test_every_row_names_its_source():
    assert all(row.source for row in ROWS)
    assert native_row("ollama", "chat") is None and native_row(None, "chat") is None


@pytest.mark.parametrize(
    ("server", "endpoint", "mode", "how"),
    [
        ("ollama", "chat", "auto", "proxy"),
        ("ollama", "ollama_chat", "auto", "proxy"),
        ("vllm", "chat", "proxy", "proxy"),
        ("llamacpp", "chat", "proxy", "proxy"),
        ("sglang", "chat", "proxy", "proxy"),
        ("ollama", "chat", "native", "none"),
        ("lmstudio", "chat", "auto", "none"),
        (None, "chat", "auto", "none"),
        ("vllm", "responses", "proxy", "proxy"),
        ("ollama", "responses", "auto", "proxy"),
        ("llamacpp", "responses", "proxy", "none"),
        ("sglang", "responses", "proxy", "none"),
        ("vllm", "completions", "proxy", "proxy"),
        ("llamacpp", "completions", "auto", "proxy"),
        ("sglang", "completions", "auto", "proxy"),
        ("ollama", "completions", "auto", "none"),
        ("vllm", "ollama_chat", "proxy", "none"),
    ],
)
def test_who_holds_it(server, endpoint, mode, how):
    body: dict[str, object] = {"messages": HI, "thinking_budget_tokens": 9}
    if endpoint == "responses":
        body = {"input": "Hi", "thinking_budget_tokens": 9}
    if endpoint == "completions":
        body = {"prompt": "Hi", "thinking_budget_tokens": 9}
    plan = plan_budget(body, Budget(9, "rule", mode), server, endpoint)
    assert plan.how == how
    # a budget that is not held leaves the client's field; the proxy's removes it
    assert ("thinking_budget_tokens" in body) == (how == "none")


def test_n_above_one_is_not_relayed():
    plan = plan_budget({"messages": HI, "n": 2}, Budget(9, "rule"), "ollama", "chat")
    assert plan.how == "none" and "n > 1" in plan.note


def test_the_note_says_where_it_came_from():
    body = {"messages": HI, "thinking": {"type": "enabled", "budget_tokens": 64}}
    plan = plan_budget(body, Budget(64, "anthropic thinking.budget_tokens"), "ollama", "chat")
    assert plan.note == (
        "think budget 64 (from anthropic thinking.budget_tokens) → held by the proxy, "
        "removed thinking.budget_tokens"
    )


def test_a_responses_request_without_input_or_in_the_background_is_not_relayed():
    plan = plan_budget({"input": []}, Budget(9, "rule", "proxy"), "vllm", "responses")
    assert plan.how == "none" and "no input" in plan.note
    body = {"input": "Hi", "background": True}
    plan = plan_budget(body, Budget(9, "rule", "proxy"), "vllm", "responses")
    assert plan.how == "none" and "background" in plan.note
    plan = plan_budget({"input": "Hi"}, Budget(9, "rule", "proxy"), "llamacpp", "responses")
    assert "no way known to continue a Responses answer on llamacpp" in plan.note


@pytest.mark.parametrize(
    ("fields", "why"),
    [({"prompt": ["a", "b"]}, "not one string"), ({"prompt": "Hi", "n": 2}, "n > 1"),
     ({"prompt": "Hi", "best_of": 3}, "best_of > 1"), ({"prompt": "Hi", "echo": True}, "echo")],
)  # fmt: skip
def test_completions_the_relay_cannot_continue_are_not_relayed(fields, why):
    plan = plan_budget(fields, Budget(9, "rule", "proxy"), "vllm", "completions")
    assert plan.how == "none" and why in plan.note
