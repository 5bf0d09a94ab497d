"""The continuation request: the client's request with an assistant turn that holds the
reasoning so far, the wrap-up sentence and the end of the thought, in the form each server
continues a partial assistant turn (REASONING-CONTROL-FACTS.md 1.3).

Pure logic, no mitmproxy import.

- vLLM (PR #8942) and SGLang (PR #4226): `continue_final_message: true` with
  `add_generation_prompt: false` ("cannot be used at the same time"); the turn's content is the
  raw text, so it carries the family's tags itself: start, reasoning, wrap-up, end.
- llama.cpp: a trailing assistant message is prefilled (`--prefill-assistant`, on by default,
  tools/server/README.md); since PR #22727 it carries `reasoning_content`, which the template
  renders closed (`<think>…</think>`), so the answer follows.
- Ollama: a trailing assistant message is continued (ollama/ollama#6778); its `thinking`
  (native), `reasoning` (/v1) or thinking block (/v1/messages, anthropic/anthropic.go
  FromMessagesRequest) is rendered closed by the template (`<think>{{ .Thinking }}</think>`).
- Legacy completions (`/v1/completions`, vLLM, SGLang, llama.cpp): prompt completion continues
  any text, so the prompt becomes the prompt, the text so far (`reasoning` is all of it here),
  the wrap-up and the end tag.
- Responses (`/v1/responses`): vLLM continues a last assistant input item whose `status` is
  `in_progress` (PR #32100), its text the raw turn with the tags as above; Ollama turns a
  reasoning item's `encrypted_content` into the next assistant message's thinking and
  continues that trailing message (openai/responses.go FromResponsesRequest, #6778).
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_TAGS = ("<think>", "</think>")


def wrapped(reasoning: str, message: str) -> str:
    """The reasoning so far and the wrap-up sentence, as the rest of the thought."""
    return f"{reasoning.rstrip()}\n\n{message}" if reasoning.strip() else message


def continuation_body(
    body: dict[str, Any],
    server: str | None,
    endpoint: str | None,
    reasoning: str,
    message: str,
    tags: tuple[str, str] | None,
) -> dict[str, Any]:
    """The request that continues `body` (the request as sent upstream) after its reasoning
    was cut; `body` is not changed."""
    out = copy.deepcopy(body)
    if endpoint == "completions":
        _, end = tags or DEFAULT_TAGS
        out["prompt"] = f"{out.get('prompt') or ''}{wrapped(reasoning, message)}\n{end}\n\n"
        out["stream"] = True
        return out
    if endpoint == "responses":
        return _responses(out, server, wrapped(reasoning, message), tags)
    messages = list(out.get("messages") or [])
    thought = wrapped(reasoning, message)
    if endpoint == "ollama_chat":
        turn: dict[str, Any] = {"role": "assistant", "content": "", "thinking": thought}
    elif endpoint == "messages":  # Ollama's /v1/messages: the block becomes the turn's thinking
        turn = {"role": "assistant", "content": [{"type": "thinking", "thinking": thought}]}
    elif server == "ollama":
        turn = {"role": "assistant", "content": "", "reasoning": thought}
    elif server == "llamacpp":
        turn = {"role": "assistant", "content": "", "reasoning_content": thought}
    else:  # vllm, sglang
        start, end = tags or DEFAULT_TAGS
        turn = {"role": "assistant", "content": f"{start}\n{thought}\n{end}\n\n"}
        out["continue_final_message"] = True
        out["add_generation_prompt"] = False
    out["messages"] = [*messages, turn]
    out["stream"] = True
    return out


def _responses(
    out: dict[str, Any], server: str | None, thought: str, tags: tuple[str, str] | None
) -> dict[str, Any]:
    given = out.get("input")
    items: list[Any] = (
        list(given) if isinstance(given, list) else [{"role": "user", "content": given or ""}]
    )
    if server == "ollama":
        items.append({"type": "reasoning", "summary": [], "encrypted_content": thought})
        text = ""
        status: dict[str, str] = {}
    else:  # vllm
        start, end = tags or DEFAULT_TAGS
        text = f"{start}\n{thought}\n{end}\n\n"
        status = {"status": "in_progress"}
    items.append({"type": "message", "role": "assistant", **status,
                  "content": [{"type": "output_text", "text": text}]})  # fmt: skip
    out["input"] = items
    out["stream"] = True
    return out
