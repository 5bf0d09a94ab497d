"""The rule keys `history` and `history_turns`: the shared walking of the assistant turns a
client sends back.

The form (`history`): `keep` leaves reasoning as it came, `strip` removes it, `to_field` moves
think blocks written in the answer text to where the format keeps reasoning, `to_inline` moves
reasoning kept apart (fields, blocks, items) into the answer text as a think block of the
model's first tag pair. The turns (`history_turns`): `all`, `tool_calls` (only assistant turns
that call tools keep reasoning) or `last` (only the last assistant turn); the other turns lose
it, whatever the form (`History.form_of`). Where reasoning is kept depends on the format, and
each format family says it in its request side (`RequestSide.rewrite_history`):
- chat: the reasoning field (`reasoning_field`; reasoning_content with "both")
  (`formats.choices_request`, with the walking of this module);
- Ollama chat: the message's `thinking` field, Ollama's own (`formats.ollama_request`);
- Anthropic Messages: a `thinking` content block (`formats.messages_request`);
- OpenAI Responses: a `reasoning` input item (`formats.responses_request`).
Only assistant turns are touched, and nothing else in them: other fields, other parts and
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

# What each form does to a turn, in the log line's words.
_DONE = {
    "strip": "removed from",
    "to_field": "moved to {where} in",
    "to_inline": "moved inline in",
}


@dataclasses.dataclass(frozen=True)
class History:
    """The history treatment of one request: its form, the turns that keep reasoning, and the
    config that says what a think block is (`splitter`, reasoning mode)."""

    form: str
    splitter: ThinkConfig
    turns: str = "all"

    @classmethod
    def of(cls, think: ThinkConfig, form: str, turns: str = "all") -> History:
        # Split the blocks off in reasoning mode, so their text can move; end markers stay put.
        return cls(form, dataclasses.replace(think, mode="reasoning"), turns)

    @property
    def touches(self) -> bool:
        """Whether anything can change: keep on all turns is the history as sent."""
        return self.form != "keep" or self.turns != "all"

    @property
    def every_turn(self) -> str:
        """The form of every assistant turn when the turns do not matter; "" when they do."""
        return self.form if self.form == "strip" or self.turns == "all" else ""

    def form_of(self, calls_tools: bool, last: bool) -> str:
        """The form of one assistant turn: the rule's on the turns that keep reasoning, strip
        on the others."""
        if every := self.every_turn:
            return every
        keeps = calls_tools if self.turns == "tool_calls" else last
        return self.form if keeps else "strip"

    def block(self, reasoning: list[str]) -> str:
        """`reasoning` as one think block of the model's first tag pair."""
        start, end = self.splitter.tags[0]
        return start + BLOCK_SEPARATOR.join(reasoning) + end


def before_text(block: str, text: str) -> str:
    """An answer text with an inline think block before it."""
    return block + BLOCK_SEPARATOR + text if text else block


def summary(count: int, form: str, where: str) -> str:
    return f"history: think {_DONE[form].format(where=where)} {count} assistant message(s)"


def summaries(counts: dict[str, int], where: str) -> list[str]:
    """The log line's words for how many turns each form changed."""
    return [summary(n, form, where) for form, n in counts.items() if n]


def split(text: str, splitter: ThinkConfig) -> tuple[str, str] | None:
    """(answer, think text) of `text`, or None when it holds no think block."""
    answer, thought = split_blocks(text, splitter)
    return None if answer == text else (answer, thought)


def last_of(items: list[Any], role: str = "assistant") -> int:
    """The index of the last message of `role` in `items`; -1 if none."""
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if isinstance(item, dict) and item.get("role") == role:
            return index
    return -1


def chat_history(messages: object, history: History, field: str) -> list[str]:
    """Chat-shaped `messages` (chat, Ollama chat): the reasoning fields and think blocks of
    each assistant message in its turn's form, `field` the reasoning field of `to_field`."""
    if not isinstance(messages, list):
        return []
    keys = tuple(dict.fromkeys((field, *HISTORY_REASONING_FIELDS)))
    cut = splitter_for(history.splitter)
    last = last_of(messages) if history.turns == "last" else -1
    counts = {"strip": 0, "to_field": 0, "to_inline": 0}
    every = history.every_turn
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        form = every or history.form_of(bool(message.get("tool_calls")), index == last)
        if form == "keep":
            continue
        content = message.get("content")
        if type(content) is str and (len(message) == 2 or message.keys().isdisjoint(keys)):
            # The usual turn (text, no reasoning field; with two keys, role and content are
            # all it has): only its think blocks can change, and to_inline finds it in its
            # form. What `_chat_message` does for it, without its bookkeeping (an agent sends
            # hundreds).
            if form != "to_inline":
                answer, thought = cut(content)
                if answer != content:
                    message["content"] = answer
                    if form == "to_field" and thought:
                        message[field] = thought
                    counts[form] += 1
            continue
        if _chat_message(message, history, form, keys, field):
            counts[form] += 1
    return summaries(counts, "the reasoning field")


def _chat_message(
    message: dict[str, Any], history: History, form: str, keys: tuple[str, ...], field: str
) -> bool:
    """One assistant message in `form`; whether it changed."""
    before = {key: message[key] for key in keys if key in message}
    moved: list[str] = []  # reasoning of this message, in order
    for key in before:
        value = message.pop(key)
        if isinstance(value, str) and value and value not in moved:
            moved.append(value)
    content = message.get("content")
    texts: list[dict[str, Any]] = []  # the text parts, or the message for string content
    text_key = "content"
    if isinstance(content, str):
        texts.append(message)
    elif isinstance(content, list):
        text_key = "text"
        texts = [p for p in content if is_text(p, ("text",))]
    content_changed = False
    if form == "to_inline":
        # A text that already holds a think block is in the form: its fields only go.
        if moved and not any(split(c[text_key], history.splitter) for c in texts):
            _inline_first(message, history.block(moved))
            content_changed = True
        return content_changed or bool(before)
    for container in texts:
        if found := split(container[text_key], history.splitter):
            container[text_key], thought = found
            moved.append(thought)
            content_changed = True
    if form == "to_field" and (reasoning := BLOCK_SEPARATOR.join(m for m in moved if m)):
        message[field] = reasoning
    after = {key: message[key] for key in keys if key in message}
    return content_changed or before != after


def _inline_first(message: dict[str, Any], block: str) -> None:
    """`block` before the text of the message's content: a string, or its first text part (a
    new one first when it has none)."""
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if is_text(part, ("text",)):
                part["text"] = before_text(block, part["text"])
                return
        content.insert(0, {"type": "text", "text": block})
        return
    text = content if isinstance(content, str) else ""
    message["content"] = before_text(block, text)


def block_type(block: object) -> object:
    return block.get("type") if isinstance(block, dict) else None


def is_text(part: object, types: tuple[str, ...]) -> bool:
    return (
        isinstance(part, dict) and part.get("type") in types and isinstance(part.get("text"), str)
    )
