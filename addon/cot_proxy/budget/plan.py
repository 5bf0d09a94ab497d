"""How one request's budget is held: the server's own knob, the proxy's relay, or not at all.

Pure logic, no mitmproxy import. `plan_budget` edits the body in place (the clients' budget
fields out, the server's knob in where it holds the budget) and says what it did.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Literal

from cot_proxy.budget.native import native_row
from cot_proxy.budget.settings import Budget
from cot_proxy.budget.settings import remove_client_fields

How = Literal["native", "proxy", "none"]
# How each server continues a partial assistant turn (REASONING-CONTROL-FACTS.md 1.3):
# vLLM PR #8942 and SGLang PR #4226 `continue_final_message`; llama.cpp prefills a trailing
# assistant message (README `--prefill-assistant`, its reasoning in `reasoning_content`, PR
# #22727); Ollama continues a trailing assistant message (ollama/ollama#6778), its `thinking`
# rendered closed by the template.
CONTINUES = frozenset({"vllm", "sglang", "llamacpp", "ollama"})
# The endpoints the relay speaks.
RELAYED = frozenset({"chat", "ollama_chat", "messages", "responses", "completions"})
# Prompt completion continues any text (vLLM, SGLang, llama.cpp); Ollama's /v1/completions
# applies the chat template to the prompt, so a continued prompt would be a user turn.
COMPLETIONS = frozenset({"vllm", "sglang", "llamacpp"})
# Servers known to continue a partial assistant turn on the Responses API (vLLM PR #32100;
# Ollama maps it onto its chat, openai/responses.go). llama.cpp's converter drops a reasoning
# item that no tool call follows (server_chat_convert_responses_to_chatcmpl) and SGLang has no
# known way: their thought cannot be handed back closed.
RESPONSES = frozenset({"vllm", "ollama"})


@dataclasses.dataclass(frozen=True)
class Plan:
    """The budget of one request and how it is held; for the relay, also the server kind."""

    tokens: int
    how: How
    server: str | None
    message: str
    note: str

    @property
    def relayed(self) -> bool:
        return self.how == "proxy"


def plan_budget(
    body: dict[str, Any], budget: Budget, server: str | None, endpoint: str | None
) -> Plan:
    """Write `budget` into `body` for `server` (in place); the plan, whose note is the change.
    A budget that is not held leaves the body as it is (the client's field may be the one the
    server reads)."""
    asked = "" if budget.source in ("header", "rule") else f" (from {budget.source})"
    head = f"think budget {budget.tokens}{asked}"
    row = native_row(server, endpoint)
    if row is not None and budget.mode != "proxy":
        remove_client_fields(body)
        written = row.write(body, budget.tokens)
        return Plan(budget.tokens, "native", server, budget.message, f"{head} → {written}")
    why = _why_not_relayed(body, server, endpoint)
    if why is None and budget.mode != "native":
        removed = remove_client_fields(body)
        gone = f", removed {', '.join(removed)}" if removed else ""
        note = f"{head} → held by the proxy{gone}"
        return Plan(budget.tokens, "proxy", server, budget.message, note)
    if budget.mode == "native":
        why = f"no native budget known for {server or 'an unknown server'} on {endpoint}"
    return Plan(budget.tokens, "none", server, budget.message, f"{head}: not held ({why})")


def _why_not_relayed(body: dict[str, Any], server: str | None, endpoint: str | None) -> str | None:
    if endpoint not in RELAYED:
        return (
            "the proxy holds budgets on chat, completions, responses, messages and "
            "Ollama /api/chat, "
            f"not {endpoint}"
        )
    if server not in CONTINUES:
        return f"no way known to continue a partial answer on {server or 'an unknown server'}"
    if endpoint == "ollama_chat" and server != "ollama":
        return "Ollama's API on another server"
    if endpoint == "messages" and server != "ollama":
        return f"no way known to continue a Messages answer on {server}"
    if endpoint == "responses":
        if server not in RESPONSES:
            return f"no way known to continue a Responses answer on {server}"
        if body.get("background") is True:
            return "a background response"
        return None if body.get("input") else "no input"
    if endpoint == "completions":
        return _why_not_completions(body, server)
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return "n > 1"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no messages"
    return None


def _why_not_completions(body: dict[str, Any], server: str | None) -> str | None:
    if server not in COMPLETIONS:
        return f"no way known to continue a completion on {server}"
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return "a prompt that is not one string"
    for many in ("n", "best_of"):
        if isinstance(body.get(many), int) and body[many] > 1:
            return f"{many} > 1"
    if body.get("echo") is True:
        return "echo"
    return None
