"""The budget setting: values, the clients' fields, precedence (cot_proxy.budget.settings)."""

from __future__ import annotations

import pytest

from cot_proxy.budget.settings import DEFAULT_MESSAGE
from cot_proxy.budget.settings import Budget
from cot_proxy.budget.settings import choose_budget
from cot_proxy.budget.settings import client_budget
from cot_proxy.budget.settings import parse_budget
from cot_proxy.budget.settings import remove_client_fields


@pytest.mark.parametrize(("value", "tokens"), [(1, 1), (512, 512), (" 64 ", 64), ("8", 8)])
def test_a_budget_is_a_whole_number_of_tokens(value, tokens):
    assert parse_budget(value) == tokens


@pytest.mark.parametrize("value", [0, -1, "0", "-5", "1.5", 1.5, "", "ten", True, None, "٣"])
def test_anything_else_is_no_budget(value):
    assert parse_budget(value) is None


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, (2048, "anthropic thinking.budget_tokens")),
        ({"thinking_token_budget": 100}, (100, "vllm thinking_token_budget")),
        ({"thinking_budget_tokens": 50}, (50, "llamacpp thinking_budget_tokens")),
        ({"custom_params": {"thinking_budget": 30}}, (30, "sglang custom_params.thinking_budget")),
        ({"thinking_token_budget": 0}, None),
        ({"thinking_token_budget": True}, None),
        ({"custom_params": "x"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_the_clients_fields(body, found):
    assert client_budget(body) == found


def test_the_clients_fields_are_removed():
    body = {
        "thinking": {"type": "enabled", "budget_tokens": 9},
        "thinking_token_budget": 1,
        "thinking_budget_tokens": 2,
        "custom_params": {"thinking_budget": 3},
        "model": "m",
    }
    assert remove_client_fields(body) == [
        "thinking.budget_tokens", "thinking_token_budget", "thinking_budget_tokens",
        "custom_params.thinking_budget",
    ]  # fmt: skip
    assert body == {"thinking": {"type": "enabled"}, "model": "m"}


def test_header_then_rule_then_client():
    body = {"thinking_token_budget": 7}
    assert choose_budget(5, 6, body) == Budget(5, "header")
    assert choose_budget(None, 6, body, "proxy", "Go.") == Budget(6, "rule", "proxy", "Go.")
    assert choose_budget(None, None, body) == Budget(7, "vllm thinking_token_budget")
    assert choose_budget(None, None, {}) is None
    assert Budget(1, "rule").message == DEFAULT_MESSAGE
