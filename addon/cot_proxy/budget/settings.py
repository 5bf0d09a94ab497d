"""The budget setting: its values, the clients' budget fields, and the plan for one request.

Pure logic, no mitmproxy import.

Precedence: the `X-Think-Budget` header, then the rule's `think_budget`, then the client's own
field (`CLIENT_FIELDS`, in that order). The clients' fields are always removed from the body:
the plan says how the budget reaches the server (`native`), or that the proxy holds it.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Literal

Mode = Literal["auto", "native", "proxy"]
MODES: tuple[Mode, ...] = ("auto", "native", "proxy")
# Qwen's early-stopping prompt (vllm-project/vllm PR #18127, quoting Qwen-Chat), shortened.
DEFAULT_MESSAGE = (
    "Considering the limited time, I have to give the answer based on the thinking directly now."
)
# Where the clients write a budget: (path in the body, whose field it is).
CLIENT_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("thinking", "budget_tokens"), "anthropic thinking.budget_tokens"),
    (("thinking_token_budget",), "vllm thinking_token_budget"),
    (("thinking_budget_tokens",), "llamacpp thinking_budget_tokens"),
    (("custom_params", "thinking_budget"), "sglang custom_params.thinking_budget"),
)


def parse_budget(value: object) -> int | None:
    """A budget as a user writes it (rule, header): an integer ≥ 1, or its digits; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            return None
        value = int(text)
    if isinstance(value, int) and value >= 1:
        return value
    return None


def _get(body: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def client_budget(body: dict[str, Any]) -> tuple[int, str] | None:
    """The budget the client's own field says, and whose field: the first of CLIENT_FIELDS."""
    for path, name in CLIENT_FIELDS:
        found = _get(body, path)
        if isinstance(found, int) and not isinstance(found, bool) and found >= 1:
            return found, name
    return None


def remove_client_fields(body: dict[str, Any]) -> list[str]:
    """Delete every client budget field (an emptied `custom_params` goes too); their names."""
    removed = []
    for path, name in CLIENT_FIELDS:
        parent = _get(body, path[:-1]) if len(path) > 1 else body
        if isinstance(parent, dict) and path[-1] in parent:
            del parent[path[-1]]
            removed.append(name.split(" ", 1)[1])
            if len(path) > 1 and not parent and path[0] == "custom_params":
                del body[path[0]]
    return removed


@dataclasses.dataclass(frozen=True)
class Budget:
    """The budget wanted for one request: tokens, who asked ("header", "rule" or a client's
    field), how it is held, and the wrap-up sentence of a forced end."""

    tokens: int
    source: str
    mode: Mode = "auto"
    message: str = DEFAULT_MESSAGE


def choose_budget(
    header: int | None,
    rule: int | None,
    body: dict[str, Any],
    mode: Mode | None = None,
    message: str | None = None,
) -> Budget | None:
    """The request's budget: header, then rule, then the client's field."""
    if header is not None:
        tokens, source = header, "header"
    elif rule is not None:
        tokens, source = rule, "rule"
    elif (found := client_budget(body)) is not None:
        tokens, source = found
    else:
        return None
    return Budget(tokens, source, mode or "auto", message or DEFAULT_MESSAGE)
