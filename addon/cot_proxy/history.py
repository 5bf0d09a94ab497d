"""The rule key `history`: the shared walking of the assistant turns a client sends back.

`strip` removes their reasoning, `to_field` moves think blocks written in the answer text to
where the format keeps reasoning (`keep` never gets here). Where that is depends on the format,
and each format family says it in its request side (`Format.rewrite_history`):
- chat: the reasoning field (`reasoning_field`; reasoning_content with "both")
  (`formats.choices_request`, with the walking of this module);
- Ollama chat: the message's `thinking` field, Ollama's own (`formats.ollama_request`);
- Anthropic Messages: a `thinking` content block (`formats.messages_request`);
- OpenAI Responses: a `reasoning` input item (`formats.responses_request`).
Only assistant messages are touched, and nothing else in them: other fields, other parts and
the order of everything stay. Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cot_proxy.think_config import BLOCK_SEPARATOR
from cot_proxy.think_config import ThinkConfig
from cot_proxy.wholetext import split_blocks
from cot_proxy.wholetext import splitter_for

# Where clients send reasoning back in assistant messages (vLLM, DeepSeek, Ollama/Anthropic-style).
HISTORY_REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning", "thinking")


def splitter_of(think: ThinkConfig) -> ThinkConfig:
    """The config that splits think blocks off a history's texts: reasoning mode, so their text
    can move; end markers stay put."""
    return dataclasses.replace(think, mode="reasoning")


def summary(count: int, to_field: bool, where: str) -> str:
    done = f"moved to {where} in" if to_field else "removed from"
    return f"history: think {done} {count} assistant message(s)"


def split(text: str, splitter: ThinkConfig) -> tuple[str, str] | None:
    """(answer, think text) of `text`, or None when it holds no think block."""
    answer, thought = split_blocks(text, splitter)
    return None if answer == text else (answer, thought)


def chat_history(messages: object, splitter: ThinkConfig, field: str, to_field: bool) -> list[str]:
    """Chat-shaped `messages` (chat, Ollama chat): think blocks and reasoning fields of
    assistant messages removed, or (`to_field`) all moved into `field`."""
    count = _chat(messages, splitter, field, to_field)
    return [summary(count, to_field, "the reasoning field")] if count else []


def _chat(messages: object, splitter: ThinkConfig, field: str, to_field: bool) -> int:
    """How many messages changed."""
    if not isinstance(messages, list):
        return 0
    keys = tuple(dict.fromkeys((field, *HISTORY_REASONING_FIELDS)))
    cut = splitter_for(splitter)
    changed = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if type(content) is str and message.keys().isdisjoint(keys):
            # The usual turn (text, no reasoning field): only its think blocks can change. What
            # the walk below does for it, without its bookkeeping (an agent sends hundreds).
            answer, thought = cut(content)
            if answer != content:
                message["content"] = answer
                if to_field and thought:
                    message[field] = thought
                changed += 1
            continue
        before = {key: message[key] for key in keys if key in message}
        moved: list[str] = []  # reasoning of this message, in order, for to_field
        for key in keys:
            value = message.pop(key, None)
            if isinstance(value, str) and value and value not in moved:
                moved.append(value)
        content_changed = False
        texts: list[dict[str, Any]] = []  # the text parts, or the message for string content
        text_key = "content"
        if isinstance(content, str):
            texts.append(message)
        elif isinstance(content, list):
            text_key = "text"
            texts = [p for p in content if is_text(p, ("text",))]
        for container in texts:
            if found := split(container[text_key], splitter):
                container[text_key], thought = found
                moved.append(thought)
                content_changed = True
        if to_field and (reasoning := BLOCK_SEPARATOR.join(m for m in moved if m)):
            message[field] = reasoning
        after = {key: message[key] for key in keys if key in message}
        changed += content_changed or before != after
    return changed


def block_type(block: object) -> object:
    return block.get("type") if isinstance(block, dict) else None


def is_text(part: object, types: tuple[str, ...]) -> bool:
    return (
        isinstance(part, dict) and part.get("type") in types and isinstance(part.get("text"), str)
    )
