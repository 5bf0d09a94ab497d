"""Anthropic Messages, the request side: the suffix, the history and the error shape.

- Suffix: the last of `messages` when it is the user's (its string content, or its last text
  block); otherwise a new user message (`cot_proxy.suffix`).
- History: `to_field` puts think blocks written in an assistant text into a `thinking` content
  block (signature "") before the text block it came from; strip also removes the `thinking`
  and `redacted_thinking` blocks; `to_inline` puts the `thinking` blocks' text into the first
  text block as a think block. A turn calls tools when it has a `tool_use` block.
- Errors: Anthropic's `{"type": "error", "error": {"type", "message"}}`, which its client shows.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy import history
from cot_proxy.formats.messages_blocks import THINKING_TYPES
from cot_proxy.suffix import append_to_messages

# Blocks of an assistant turn that call a tool (the server's own tools too).
TOOL_USE_TYPES = ("tool_use", "server_tool_use")


def append_suffix(body: dict[str, Any], suffix: str) -> str | None:
    return append_to_messages(body.get("messages"), suffix, text_type="text")


def rewrite_history(body: dict[str, Any], treatment: history.History) -> list[str]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    last = history.last_of(messages) if treatment.turns == "last" else -1
    counts = {"strip": 0, "to_field": 0, "to_inline": 0}
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        calls = isinstance(content, list) and any(
            history.block_type(b) in TOOL_USE_TYPES for b in content
        )
        form = treatment.form_of(calls, index == last)
        if form != "keep" and _message(message, treatment, form):
            counts[form] += 1
    return history.summaries(counts, "thinking blocks")


def error_body(message: str, type: str, code: str) -> bytes:
    """Anthropic's error shape; the code rides along."""
    error = {"type": type, "message": message, "code": code}
    return json.dumps({"type": "error", "error": error}).encode()


def _message(message: dict[str, Any], treatment: history.History, form: str) -> bool:
    """One assistant message in `form`; whether it changed."""
    splitter = treatment.splitter
    content = message.get("content")
    if isinstance(content, str):
        # to_inline: a string holds no thinking block, and its think block is in the form.
        found = history.split(content, splitter) if form != "to_inline" else None
        if found is None:
            return False
        answer, thought = found
        if form == "to_field" and thought:
            # A block needs a list of blocks: the string becomes its text block.
            text_block = {"type": "text", "text": answer}
            message["content"] = [_thinking_block(thought), text_block]
        else:
            message["content"] = answer
        return True
    if not isinstance(content, list):
        return False
    if form == "to_inline":
        return _inline(content, treatment)
    blocks: list[Any] = []
    touched = False
    for block in content:
        if form == "strip" and history.block_type(block) in THINKING_TYPES:
            touched = True
            continue
        if history.is_text(block, ("text",)) and (found := history.split(block["text"], splitter)):
            block["text"], thought = found
            touched = True
            if form == "to_field" and thought:
                blocks.append(_thinking_block(thought))
        blocks.append(block)
    if touched:
        content[:] = blocks
    return touched


def _inline(content: list[Any], treatment: history.History) -> bool:
    """The thinking blocks' text into the first text block, as a think block before its text
    (a text block of its own in the first thinking block's place when there is none); a text
    that holds a think block already is in the form, and the blocks just go. redacted_thinking
    blocks hold no text to move: they go too."""
    if not any(history.block_type(b) in THINKING_TYPES for b in content):
        return False
    thoughts: list[str] = []
    place = -1
    kept: list[Any] = []
    for block in content:
        kind = history.block_type(block)
        if kind in THINKING_TYPES:
            thinking = block.get("thinking") if kind == "thinking" else None
            if isinstance(thinking, str) and thinking:
                thoughts.append(thinking)
            place = len(kept) if place < 0 else place
            continue
        kept.append(block)
    texts = [b for b in kept if history.is_text(b, ("text",))]
    if thoughts and not any(history.split(b["text"], treatment.splitter) for b in texts):
        inline = treatment.block(thoughts)
        if texts:
            texts[0]["text"] = history.before_text(inline, texts[0]["text"])
        else:
            kept.insert(place, {"type": "text", "text": inline})
    content[:] = kept
    return True


def _thinking_block(thought: str) -> dict[str, Any]:
    # The signature is Anthropic's proof that it wrote the text; there is none to give, and
    # the servers that read these blocks back (vLLM, llama.cpp) do not check it.
    return {"type": "thinking", "thinking": thought, "signature": ""}
