"""The Responses API stream in reasoning and inline mode: the hooks of `ResponsesRewriter`.

Reasoning mode (`ReasoningRewriter`): a message's think text becomes a reasoning item of ours
before it; the message's `output_item.added` and `content_part.added` wait for its first answer
text while that reasoning streams. Think text after the first answer text goes into a reasoning
item right after the message. Upstream reasoning items stay as they came.

Inline mode (`InlineRewriter`): upstream reasoning items are dropped and their text is carried
into the next message's first text delta as a think block; with no message next (a tool call,
the end), into a message item of ours in their place.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.responses_events import ITEM_DONE
from cot_proxy.formats.responses_events import REASONING_DELTAS
from cot_proxy.formats.responses_events import nothing
from cot_proxy.formats.responses_items import INLINE_JOIN
from cot_proxy.formats.responses_items import NewReasoning
from cot_proxy.formats.responses_items import Replacement
from cot_proxy.formats.responses_items import StreamItem
from cot_proxy.formats.responses_items import message_events
from cot_proxy.formats.responses_items import message_item
from cot_proxy.formats.responses_items import reasoning_text_of
from cot_proxy.formats.responses_stream import ResponsesRewriter
from cot_proxy.think import ThinkConfig
from cot_proxy.think_config import BLOCK_SEPARATOR


class ReasoningRewriter(ResponsesRewriter):
    def __init__(self, config: ThinkConfig, new_filter: NewFilter) -> None:
        super().__init__(config, new_filter)
        # The first characters of every tag and end marker (see `_pieces`).
        self._tag_starts = config.split_first_chars

    def _reasoning_added(self, item: StreamItem) -> bool:
        return False  # the upstream's own reasoning: as it came

    def _holds(self, item: StreamItem) -> bool:
        return item.kind == "message"

    def _think(self, item: StreamItem, think: str) -> list[Any]:
        if not think:
            return []
        if item.held is None:  # its answer began: the think text goes after the message
            # in a reasoning item of its own: no separator from the reasoning before
            item.after.append(think if item.after else think.removeprefix(BLOCK_SEPARATOR))
            return []
        out: list[Any] = []
        if item.before is None:
            family = self.config.responses_reasoning
            item.before = NewReasoning(f"rs_{item.id}", self._take_index(), family)
            out += item.before.open()
        return out + item.before.delta(think)

    def _release(self, item: StreamItem) -> list[Any]:
        """A waiting message goes out, after the reasoning item before it (closed now)."""
        if item.held is None:
            return []
        out = item.before.close() if item.before else []
        item.client = self._take_index()
        for held in item.held:
            held["output_index"] = item.client
        out += item.held
        item.held = None
        return out

    def _after(self, item: StreamItem) -> list[Any]:
        item.done = True
        if not item.after:
            return []
        family = self.config.responses_reasoning
        reasoning = NewReasoning(f"rs_{item.id}_after", self._take_index(), family)
        item.after_item = reasoning
        return [*reasoning.open(), *reasoning.delta("".join(item.after)), *reasoning.close()]

    def _stands_for(self, item: StreamItem) -> Replacement:
        message = super()._stands_for(item)

        def replacement(upstream: dict[str, Any]) -> list[Any]:
            before = [item.before.item()] if item.before else []
            after = [item.after_item.item()] if item.after_item else []
            return [*before, *message(upstream), *after]

        return replacement

    def _pieces(self, item: StreamItem, text: str) -> list[str]:
        """While a message waits for its first answer text, its text is fed with every
        character a tag may start with on its own: each piece then gives answer or think text,
        not both, so that think text before the answer is told from think text after it however
        the deltas were cut."""
        if item.held is None or len(text) < 2:
            return [text]
        pieces: list[str] = []
        start = 0
        for i, char in enumerate(text):
            if char in self._tag_starts:
                pieces += (text[start:i], char) if i > start else (char,)
                start = i + 1
        if start < len(text):
            pieces.append(text[start:])
        return pieces


class InlineRewriter(ResponsesRewriter):
    def __init__(self, config: ThinkConfig, new_filter: NewFilter) -> None:
        super().__init__(config, new_filter)
        self._waiting: list[StreamItem] = []  # reasoning items awaiting the next message

    def _reasoning_added(self, item: StreamItem) -> bool:
        self._waiting.append(item)
        return True

    def _collect(self, item: StreamItem, kind: str, obj: dict[str, Any]) -> None:
        if kind == ITEM_DONE and type(obj.get("item")) is dict:
            item.texts["done"] = [reasoning_text_of(obj["item"])]
        elif type(obj.get("delta")) is str and kind in REASONING_DELTAS:
            item.texts[REASONING_DELTAS[kind]].append(obj["delta"])

    def _before_item(self, item: StreamItem) -> list[Any]:
        if not self._waiting:
            return []
        if item.kind == "message":
            item.prefix = self._block()
            return []
        return self._own_message()

    def _finish_item(self, item: StreamItem, reason: object = None) -> list[Any]:
        out = super()._finish_item(item, reason)
        if item.prefix:  # a message with no text part to carry the reasoning: one of ours
            text, item.prefix = item.prefix, ""
            item_id = f"msg_{item.id}_think"
            out += message_events(item_id, self._take_index(), text)
            message = self._replaced.get(item.keys[0], nothing)
            self._register(item, lambda up: [*message(up), message_item(item_id, text)])
        return out

    def _leftover(self) -> list[Any]:
        return self._own_message() if self._waiting else []

    def _block(self) -> str:
        """`<think>` + the waiting reasoning items' text + `</think>`; they are then taken."""
        text = INLINE_JOIN.join(i.reasoning for i in self._waiting if i.reasoning)
        for reasoning in self._waiting:
            self._register(reasoning, nothing)
        self._waiting = []
        block = self._new_filter.inline(next(self._channel_numbers))  # counts the moved text
        if not text:
            return ""
        return block.open_block(text) + block.close_block()

    def _own_message(self) -> list[Any]:
        """Reasoning items with no message after them: a message item of ours in their place."""
        first = self._waiting[0]
        text = self._block()
        if not text:
            return []
        item_id = f"msg_{first.id or first.index}"
        self._register(first, lambda upstream: [message_item(item_id, text)])
        self.answered = True
        return message_events(item_id, self._take_index(), text)
