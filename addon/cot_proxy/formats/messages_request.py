"""Anthropic Messages, the request side: the suffix, the history and the error shape.

- Suffix: the last of `messages` when it is the user's (its string content, or its last text
  block); otherwise a new user message (`cot_proxy.suffix`).
- History: `to_field` puts think blocks written in an assistant text into a `thinking` content
  block (signature "") before the text block it came from; strip also removes the `thinking`
  and `redacted_thinking` blocks.
- Errors: Anthropic's `{"type": "error", "error": {"type", "message"}}`, which its client shows.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy import history
from cot_proxy.formats.messages_blocks import THINKING_TYPES
from cot_proxy.suffix import append_to_messages
from cot_proxy.think_config import ThinkConfig


def append_suffix(body: dict[str, Any], suffix: str) -> str | None:
    return append_to_messages(body.get("messages"), suffix, text_type="text")


def rewrite_history(body: dict[str, Any], splitter: ThinkConfig, to_field: bool) -> list[str]:
    count = _messages(body.get("messages"), splitter, to_field)
    return [history.summary(count, to_field, "thinking blocks")] if count else []


def error_body(message: str, type: str, code: str) -> bytes:
    """Anthropic's error shape; the code rides along."""
    error = {"type": type, "message": message, "code": code}
    return json.dumps({"type": "error", "error": error}).encode()


def _messages(messages: object, splitter: ThinkConfig, to_field: bool) -> int:
    """How many assistant messages changed."""
    if not isinstance(messages, list):
        return 0
    changed = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            if found := history.split(content, splitter):
                answer, thought = found
                if to_field and thought:
                    # A block needs a list of blocks: the string becomes its text block.
                    text_block = {"type": "text", "text": answer}
                    message["content"] = [_thinking_block(thought), text_block]
                else:
                    message["content"] = answer
                changed += 1
        elif isinstance(content, list):
            blocks: list[Any] = []
            touched = False
            for block in content:
                if not to_field and history.block_type(block) in THINKING_TYPES:
                    touched = True
                    continue
                if history.is_text(block, ("text",)) and (
                    found := history.split(block["text"], splitter)
                ):
                    block["text"], thought = found
                    touched = True
                    if to_field and thought:
                        blocks.append(_thinking_block(thought))
                blocks.append(block)
            if touched:
                content[:] = blocks
                changed += 1
    return changed


def _thinking_block(thought: str) -> dict[str, Any]:
    # The signature is Anthropic's proof that it wrote the text; there is none to give, and
    # the servers that read these blocks back (vLLM, llama.cpp) do not check it.
    return {"type": "thinking", "thinking": thought, "signature": ""}
