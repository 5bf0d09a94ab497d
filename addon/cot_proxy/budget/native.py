"""Servers that hold a thinking budget themselves: one row per server, each with its source.

Pure logic, no mitmproxy import. `write` sets the server's own knob in the body (the clients'
budget fields are removed before, `cot_proxy.budget.settings.remove_client_fields`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def _top(field: str) -> Callable[[dict[str, Any], int], str]:
    def write(body: dict[str, Any], tokens: int) -> str:
        body[field] = tokens
        return f"{field}={tokens}"

    return write


def _sglang(body: dict[str, Any], tokens: int) -> str:
    params = body.get("custom_params")
    if not isinstance(params, dict):
        params = body["custom_params"] = {}
    params["thinking_budget"] = tokens
    return f"custom_params.thinking_budget={tokens}"


def _anthropic(body: dict[str, Any], tokens: int) -> str:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "disabled":
        return "thinking.type=disabled (no budget)"
    body["thinking"] = {"type": "enabled", "budget_tokens": tokens}
    return f"thinking.budget_tokens={tokens}"


@dataclasses.dataclass(frozen=True)
class NativeRow:
    server: str
    endpoints: frozenset[str]
    write: Callable[[dict[str, Any], int], str]
    source: str


ROWS: tuple[NativeRow, ...] = (
    NativeRow(
        "llamacpp",
        frozenset({"messages"}),
        _anthropic,
        "llama.cpp /v1/messages enforces thinking.budget_tokens (antonellof/ferrox PR #205 "
        "citing tools/server/server-chat.cpp)",
    ),
    NativeRow(
        "llamacpp",
        frozenset({"chat"}),
        _top("thinking_budget_tokens"),
        "llama.cpp tools/server/README.md (--reasoning-budget; per request "
        "thinking_budget_tokens, PR #23434, issue #28182)",
    ),
    NativeRow(
        "vllm",
        frozenset({"chat", "completions"}),
        _top("thinking_token_budget"),
        "vLLM PR #20859 (thinking_token_budget; needs --reasoning-config, else every request "
        "is refused: NVIDIA-NeMo/RL PR #4220)",
    ),
    NativeRow(
        "sglang",
        frozenset({"chat"}),
        _sglang,
        "docs.sglang.io advanced_features/thinking_budget (custom_params.thinking_budget; "
        "--enable-strict-thinking or --enable-custom-logit-processor)",
    ),
    NativeRow(
        "anthropic",
        frozenset({"messages"}),
        _anthropic,
        "Anthropic extended-thinking docs (thinking.type=enabled + budget_tokens; refused by "
        "Claude 4.7+, which take adaptive)",
    ),
)


def native_row(server: str | None, endpoint: str | None) -> NativeRow | None:
    """The row of the server that holds a budget on `endpoint`; None: the proxy must."""
    return next((r for r in ROWS if r.server == server and endpoint in r.endpoints), None)
