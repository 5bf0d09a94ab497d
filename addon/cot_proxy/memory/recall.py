"""The response side of the reasoning memory: what one answer's turns were, as the client got them.

A `Recall` is built per answer when the request's rule has `history_restore: true`. Two things
feed it, streamed and buffered alike:
- the channel filters, through the observer `cot_proxy.filters.Filters` gives each of them
  (`RecallChannel`, composed with mitmweb's `cot_proxy.transcript.ChannelRecord`): the answer
  text the client got and the think text taken out of it (strip, reasoning mode);
- `scan`, given every decoded upstream event (or the buffered body) before the format rewrites
  it: the reasoning the upstream sent in its own place (`reasoning_content`/`reasoning`,
  Responses `reasoning` items, Messages `thinking` blocks, Ollama `thinking`) and the tool-call
  ids (chat `tool_calls[].id`, Responses `call_id`, Messages `tool_use.id`, Ollama's calls by
  name and arguments: they have no id).
Chat answers have one turn per choice; the other formats one turn per answer. Completions and
Ollama's /api/generate have no turns (a prompt, no history): nothing is recalled for them.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy.formats.responses_items import reasoning_text_of
from cot_proxy.memory.keys import fingerprint

TEXT_LIMIT = 4 << 20  # characters of one answer kept; past it nothing of the answer is stored
ENDPOINTS = frozenset({"chat", "responses", "messages", "ollama_chat"})
UPSTREAM_FIELDS = ("reasoning_content", "reasoning")


def ollama_call_id(call: object) -> str:
    """An Ollama tool call's stand-in id: its name and arguments (Ollama gives calls no id)."""
    if not isinstance(call, dict):
        return ""
    function = call.get("function")
    if not isinstance(function, dict):
        return ""
    args = function.get("arguments")
    if isinstance(args, str):  # some clients send the arguments back as a JSON string
        try:
            args = json.loads(args)
        except ValueError:
            pass
    try:
        shown = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        shown = str(args)
    return f"ollama:{function.get('name')}:{shown}"


class Recall:
    """One answer's turns: per turn the answer text, the reasoning and the tool-call ids."""

    def __init__(self, endpoint: str, mode: str) -> None:
        self.endpoint = endpoint
        self.per_choice = endpoint == "chat"
        # Inline mode: the filter's think text is the upstream's reasoning, which `scan` keeps.
        self.tag_think = mode != "inline"
        self.answer: dict[int, list[str]] = {}
        self.think: dict[int, list[str]] = {}
        self.tool_ids: dict[int, list[str]] = {}
        self.room = TEXT_LIMIT
        self.overflow = False
        # Responses: each reasoning item's text, by item id (deltas, then the whole item).
        self._items: dict[str, str] = {}
        self._items_done: set[str] = set()

    def _turn(self, channel: int) -> int:
        return channel if self.per_choice else 0

    def _room(self, text: str) -> bool:
        """Whether `text` fits in what one answer may keep (past it, nothing is stored)."""
        if self.overflow:
            return False
        self.room -= len(text)
        if self.room < 0:
            self.overflow = True
        return not self.overflow

    def _keep(self, into: dict[int, list[str]], turn: int, text: str) -> None:
        if text and self._room(text):
            into.setdefault(turn, []).append(text)

    def add_answer(self, channel: int, text: str) -> None:
        self._keep(self.answer, self._turn(channel), text)

    def add_think(self, channel: int, text: str) -> None:
        if self.tag_think:
            self._keep(self.think, self._turn(channel), text)

    def observer(self, channel: int) -> RecallChannel:
        return RecallChannel(self, channel)

    def _reasoning(self, turn: int, text: object) -> None:
        if isinstance(text, str):
            self._keep(self.think, turn, text)

    def _tool(self, turn: int, call_id: object) -> None:
        if isinstance(call_id, str) and call_id:
            self.tool_ids.setdefault(turn, []).append(call_id)

    # -- the upstream's own reasoning and tool calls ---------------------------------------------

    def scan(self, obj: Any) -> None:
        """One decoded upstream event, or a whole buffered answer, before it is rewritten."""
        if type(obj) is not dict:
            return
        endpoint = self.endpoint
        if endpoint == "chat":
            self._chat(obj)
        elif endpoint == "responses":
            self._responses(obj)
        elif endpoint == "messages":
            self._messages(obj)
        elif endpoint == "ollama_chat":
            self._ollama(obj)

    def _chat(self, obj: dict[str, Any]) -> None:
        choices = obj.get("choices")
        if not isinstance(choices, list):
            return
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", position)
            turn = index if isinstance(index, int) else position
            container = choice.get("delta") or choice.get("message")
            if not isinstance(container, dict):
                continue
            for key in UPSTREAM_FIELDS:  # the first one set: with both, they carry one text
                value = container.get(key)
                if isinstance(value, str) and value:
                    self._reasoning(turn, value)
                    break
            calls = container.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool(turn, call.get("id"))

    def _responses(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "response.output_item.done":
            self._responses_item(obj.get("item"))
        elif kind in ("response.reasoning_text.delta", "response.reasoning_summary_text.delta"):
            # Streamed reasoning, in case no whole item follows it (the item's text replaces it).
            delta, item_id = obj.get("delta"), obj.get("item_id")
            if isinstance(delta, str) and isinstance(item_id, str) and self._room(delta):
                if item_id not in self._items_done:
                    self._items[item_id] = self._items.get(item_id, "") + delta
        elif "output" in obj and kind in (None, "response"):  # a buffered answer
            self._responses_output(obj.get("output"))
        elif kind in ("response.completed", "response.incomplete"):
            # What the client keeps (the SDKs' final response): its items are the truth, and
            # vLLM gives them new ids there (`responses_full_generator`).
            response = obj.get("response")
            output = response.get("output") if isinstance(response, dict) else None
            if isinstance(output, list) and output:
                reasoning = dict(self._items)
                self._items.clear()
                self._items_done.clear()
                self.tool_ids.pop(0, None)
                self._responses_output(output)
                if not any(self._items.values()):  # no text in its items: the streamed one
                    self._items = reasoning

    def _responses_output(self, output: object) -> None:
        if isinstance(output, list):
            for position, item in enumerate(output):
                self._responses_item(item, f"#{position}")

    def _responses_item(self, item: object, fallback_id: str = "") -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "reasoning":
            item_id = item.get("id")
            key = item_id if isinstance(item_id, str) and item_id else fallback_id
            text = reasoning_text_of(item)
            if self._room(text):
                self._items[key] = text
                self._items_done.add(key)
        elif kind in ("function_call", "custom_tool_call"):
            self._tool(0, item.get("call_id"))

    def _messages(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, dict):
                self._messages_block(block)
        elif kind == "content_block_delta":
            delta = obj.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "thinking_delta":
                self._reasoning(0, delta.get("thinking"))
        elif kind == "message" or "content" in obj and kind is None:  # a buffered answer
            content = obj.get("content")
            if isinstance(content, list):
                for block in content:
                    if isinstance(block, dict):
                        self._messages_block(block)

    def _messages_block(self, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if kind == "thinking":
            self._reasoning(0, block.get("thinking"))
        elif kind in ("tool_use", "server_tool_use"):
            self._tool(0, block.get("id"))

    def _ollama(self, obj: dict[str, Any]) -> None:
        message = obj.get("message")
        if not isinstance(message, dict):
            return
        self._reasoning(0, message.get("thinking"))
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                self._tool(0, ollama_call_id(call))

    # -- what is stored ---------------------------------------------------------------------------

    def turns(self) -> list[tuple[str, str]]:
        """(fingerprint, reasoning) of each turn that had reasoning and can be known again."""
        if self.overflow:
            return []
        think = self.think
        if self._items:  # Responses: its reasoning items come before the turn's other text
            think = {**think, 0: ["".join(self._items.values()), *think.get(0, ())]}
        found: list[tuple[str, str]] = []
        for turn, parts in sorted(think.items()):
            reasoning = "".join(parts).strip()
            if not reasoning:
                continue
            turn_print = fingerprint(
                "".join(self.answer.get(turn, ())), self.tool_ids.get(turn, ())
            )
            if turn_print is not None:
                found.append((turn_print, reasoning))
        return found


class RecallChannel:
    """The observer of one channel's filter (`cot_proxy.filters.FilterObserver`) for a `Recall`."""

    __slots__ = ("_recall", "_channel")

    def __init__(self, recall: Recall, channel: int) -> None:
        self._recall = recall
        self._channel = channel

    def on_answer(self, text: str) -> None:
        self._recall.add_answer(self._channel, text)

    def on_think(self, text: str) -> None:
        self._recall.add_think(self._channel, text)

    def on_dropped(self, text: str) -> None:
        """The upstream's own reasoning, deleted in strip mode: `Recall.scan` has it already."""
