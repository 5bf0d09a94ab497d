"""The request side of the reasoning memory: the assistant turns of a history that lack their
reasoning, and the reasoning put back in the format's own place.

A turn lacks reasoning when it carries no reasoning field (`reasoning_content`, `reasoning`,
`thinking`), no reasoning block or item, and no think block (a start tag of the request's tags)
in its text. It is known by its fingerprint (`cot_proxy.memory.keys.fingerprint`: its text and
tool-call ids), never by its position. Where the reasoning goes back:
- chat: the reasoning field (`reasoning_field`; `reasoning_content` for "both");
- Ollama /api/chat: the message's `thinking`;
- Anthropic Messages: a `thinking` block (signature "") first in the message's content (never to
  Anthropic's own API, which verifies signatures: the caller does not ask then);
- OpenAI Responses: a `reasoning` item (id `rs_…`) before the first item of the turn (a turn is
  a run of assistant `message`, `function_call` and `reasoning` items).
Completions and /api/generate send a prompt, not turns: nothing to restore.
The rule's `history` rewrite runs after this, so its forms apply to what came back.

Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

from cot_proxy.memory.keys import fingerprint
from cot_proxy.memory.recall import ollama_call_id

REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
TEXT_PARTS = ("text", "output_text", "input_text")
TURN_ITEMS = ("function_call", "custom_tool_call", "reasoning")


@dataclasses.dataclass(eq=False)
class Turn:
    """An assistant turn without reasoning: its fingerprint, and how to put reasoning back."""

    print: str
    put: Callable[[str], None]


def lacking(
    body: dict[str, Any],
    endpoint: str | None,
    starts: tuple[str, ...],
    field: str = "reasoning_content",
) -> list[Turn]:
    """The turns of `body`'s history that lack reasoning and can be known again; `starts`: the
    request's start tags; `field`: where chat keeps reasoning."""
    if endpoint == "chat":
        return _chat(body.get("messages"), starts, "" if field == "both" else field)
    if endpoint == "ollama_chat":
        return _chat(body.get("messages"), starts, "thinking")
    if endpoint == "messages":
        return _messages(body.get("messages"), starts)
    if endpoint == "responses":
        return _responses(body.get("input"), starts)
    return []


def _has_tag(text: str, starts: tuple[str, ...]) -> bool:
    return any(start in text for start in starts)


def _parts_text(content: object) -> str:
    """A content's text: a string, or the text of its text parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") in TEXT_PARTS
        and isinstance(part.get("text"), str)
    )


def _chat(messages: object, starts: tuple[str, ...], field: str) -> list[Turn]:
    if not isinstance(messages, list):
        return []
    ollama = field == "thinking"
    field = field or "reasoning_content"
    turns: list[Turn] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        if any(isinstance(message.get(k), str) and message[k] for k in REASONING_FIELDS):
            continue
        text = _parts_text(message.get("content"))
        if _has_tag(text, starts):
            continue
        calls = message.get("tool_calls")
        calls = calls if isinstance(calls, list) else []
        ids: list[object] = (
            [ollama_call_id(c) for c in calls]
            if ollama
            else [c.get("id") for c in calls if isinstance(c, dict)]
        )
        turn_print = fingerprint(text, [i for i in ids if isinstance(i, str)])
        if turn_print is not None:
            turns.append(Turn(turn_print, _field_setter(message, field)))
    return turns


def _field_setter(message: dict[str, Any], field: str) -> Callable[[str], None]:
    def put(reasoning: str) -> None:
        message[field] = reasoning

    return put


def _messages(messages: object, starts: tuple[str, ...]) -> list[Turn]:
    if not isinstance(messages, list):
        return []
    turns: list[Turn] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        if any(
            isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking")
            for b in blocks
        ):
            continue
        text = _parts_text(content)
        if _has_tag(text, starts):
            continue
        ids = [
            b.get("id")
            for b in blocks
            if isinstance(b, dict) and b.get("type") in ("tool_use", "server_tool_use")
        ]
        turn_print = fingerprint(text, [i for i in ids if isinstance(i, str)])
        if turn_print is not None:
            turns.append(Turn(turn_print, _thinking_block(message)))
    return turns


def _thinking_block(message: dict[str, Any]) -> Callable[[str], None]:
    def put(reasoning: str) -> None:
        block = {"type": "thinking", "thinking": reasoning, "signature": ""}
        content = message.get("content")
        if isinstance(content, list):
            content.insert(0, block)
        else:
            text = content if isinstance(content, str) else ""
            message["content"] = [block, *([{"type": "text", "text": text}] if text else [])]

    return put


def _is_turn_item(item: object) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("type") in TURN_ITEMS:
        return True
    return item.get("role") == "assistant" and item.get("type", "message") == "message"


def _responses(items: object, starts: tuple[str, ...]) -> list[Turn]:
    if not isinstance(items, list):
        return []
    turns: list[Turn] = []
    run: list[dict[str, Any]] = []
    for item in [*items, None]:
        if _is_turn_item(item):
            assert isinstance(item, dict)
            run.append(item)
            continue
        if run:
            turn = _responses_turn(items, run, starts)
            if turn is not None:
                turns.append(turn)
            run = []
    return turns


def _responses_turn(
    items: list[Any], run: list[dict[str, Any]], starts: tuple[str, ...]
) -> Turn | None:
    if any(item.get("type") == "reasoning" for item in run):
        return None
    text = "".join(
        _parts_text(item.get("content")) for item in run if item.get("type", "message") == "message"
    )
    if _has_tag(text, starts):
        return None
    ids = [item.get("call_id") for item in run if item.get("type") != "message"]
    turn_print = fingerprint(text, [i for i in ids if isinstance(i, str)])
    if turn_print is None:
        return None
    first = run[0]

    def put(reasoning: str) -> None:
        item_id = "rs_" + hashlib.sha256(turn_print.encode()).hexdigest()[:32]
        reasoning_item = {
            "id": item_id,
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": reasoning}],
        }
        at = next(i for i, item in enumerate(items) if item is first)
        items.insert(at, reasoning_item)

    return Turn(turn_print, put)
