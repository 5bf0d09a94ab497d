"""The rule key `history`: the reasoning in the assistant messages a client sends back, per format.

`strip` removes it, `to_field` moves think blocks written in the answer text to where the format
keeps reasoning (`keep` never gets here). Where that is, by endpoint:
- chat: the reasoning field (`reasoning_field`; reasoning_content with "both");
- Ollama chat: the message's `thinking` field, Ollama's own;
- Anthropic Messages: a `thinking` content block (signature "") before the text block it came
  from; strip also removes the `thinking` and `redacted_thinking` blocks;
- OpenAI Responses: a `reasoning` input item before the assistant message item it came from;
  strip also removes the `reasoning` items.
Only assistant messages are touched, and nothing else in them: other fields, other parts and
the order of everything stay. Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cot_proxy.suffix import is_input_message
from cot_proxy.think import ThinkConfig
from cot_proxy.think_config import BLOCK_SEPARATOR
from cot_proxy.wholetext import split_blocks

# Where clients send reasoning back in assistant messages (vLLM, DeepSeek, Ollama/Anthropic-style).
HISTORY_REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning", "thinking")

# Text parts of an assistant message item of the Responses API (input_text: lenient clients).
RESPONSES_TEXT_TYPES = ("output_text", "input_text")

# Anthropic's reasoning blocks; only strip removes them.
MESSAGES_THINKING_TYPES = ("thinking", "redacted_thinking")


def rewrite_history(
    body: dict[str, Any], think: ThinkConfig, endpoint: str | None, *, to_field: bool
) -> list[str]:
    """Strip (or move, `to_field`) the reasoning in `body`'s history; what changed, for the log."""
    # Split the blocks off in reasoning mode, so their text can move; end markers stay put.
    splitter = dataclasses.replace(think, mode="reasoning")
    if endpoint == "responses":
        return _responses(body.get("input"), splitter, to_field)
    if endpoint == "messages":
        count = _messages(body.get("messages"), splitter, to_field)
        return [_summary(count, to_field, "thinking blocks")] if count else []
    if endpoint == "ollama_chat":
        field = "thinking"
    else:
        field = "reasoning_content" if think.reasoning_field == "both" else think.reasoning_field
    count = _chat(body.get("messages"), splitter, field, to_field)
    return [_summary(count, to_field, "the reasoning field")] if count else []


def _summary(count: int, to_field: bool, where: str) -> str:
    done = f"moved to {where} in" if to_field else "removed from"
    return f"history: think {done} {count} assistant message(s)"


def _split(text: str, splitter: ThinkConfig) -> tuple[str, str] | None:
    """(answer, think text) of `text`, or None when it holds no think block."""
    answer, thought = split_blocks(text, splitter)
    return None if answer == text else (answer, thought)


def _chat(messages: object, splitter: ThinkConfig, field: str, to_field: bool) -> int:
    """Chat and Ollama chat: think blocks and reasoning fields of assistant messages removed, or
    (`to_field`) all moved into `field`; returns how many messages changed."""
    if not isinstance(messages, list):
        return 0
    keys = tuple(dict.fromkeys((field, *HISTORY_REASONING_FIELDS)))
    changed = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        before = {key: message[key] for key in keys if key in message}
        moved: list[str] = []  # reasoning of this message, in order, for to_field
        for key in keys:
            value = message.pop(key, None)
            if isinstance(value, str) and value and value not in moved:
                moved.append(value)
        content_changed = False
        content = message.get("content")
        texts: list[dict[str, Any]] = []  # the text parts, or the message for string content
        text_key = "content"
        if isinstance(content, str):
            texts.append(message)
        elif isinstance(content, list):
            text_key = "text"
            texts = [p for p in content if _is_text(p, ("text",))]
        for container in texts:
            if split := _split(container[text_key], splitter):
                container[text_key], thought = split
                moved.append(thought)
                content_changed = True
        if to_field and (reasoning := BLOCK_SEPARATOR.join(m for m in moved if m)):
            message[field] = reasoning
        after = {key: message[key] for key in keys if key in message}
        changed += content_changed or before != after
    return changed


def _messages(messages: object, splitter: ThinkConfig, to_field: bool) -> int:
    """Anthropic Messages: returns how many assistant messages changed."""
    if not isinstance(messages, list):
        return 0
    changed = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            if split := _split(content, splitter):
                answer, thought = split
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
                if not to_field and _block_type(block) in MESSAGES_THINKING_TYPES:
                    touched = True
                    continue
                if _is_text(block, ("text",)) and (split := _split(block["text"], splitter)):
                    block["text"], thought = split
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


def _responses(items: object, splitter: ThinkConfig, to_field: bool) -> list[str]:
    """OpenAI Responses `input` items."""
    if not isinstance(items, list):
        return []  # a string input is the user's
    kept: list[Any] = []
    changed = removed = 0
    for index, item in enumerate(items):
        if not to_field and _block_type(item) == "reasoning":
            removed += 1
            continue
        if is_input_message(item, "assistant"):
            thought = _strip_item(item, splitter)
            if thought is not None:
                changed += 1
                if to_field and thought:
                    kept.append(_reasoning_item(index, thought))
        kept.append(item)
    if changed or removed:
        items[:] = kept
    changes = [_summary(changed, to_field, "reasoning items")] if changed else []
    if removed:
        changes.append(f"history: {removed} reasoning item(s) removed")
    return changes


def _strip_item(item: dict[str, Any], splitter: ThinkConfig) -> str | None:
    """Think blocks removed from an assistant message item; their text, None if it had none."""
    content = item.get("content")
    if isinstance(content, str):
        if split := _split(content, splitter):
            item["content"], thought = split
            return thought
        return None
    if not isinstance(content, list):
        return None
    thoughts: list[str] = []
    for part in content:
        if _is_text(part, RESPONSES_TEXT_TYPES) and (split := _split(part["text"], splitter)):
            part["text"], thought = split
            thoughts.append(thought)
    return BLOCK_SEPARATOR.join(t for t in thoughts if t) if thoughts else None


def _reasoning_item(index: int, thought: str) -> dict[str, Any]:
    # `id` and `summary` are required by the input item's schema (openai's
    # ResponseReasoningItemParam); servers that read the item back (vLLM) take its text from
    # `content`. The id is derived from the message's place, so a resent history is the same.
    return {
        "type": "reasoning",
        "id": f"rs_cot_proxy_{index}",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": thought}],
    }


def _block_type(block: object) -> object:
    return block.get("type") if isinstance(block, dict) else None


def _is_text(part: object, types: tuple[str, ...]) -> bool:
    return (
        isinstance(part, dict) and part.get("type") in types and isinstance(part.get("text"), str)
    )
