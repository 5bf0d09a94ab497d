"""The Responses API stream rewriter: strip mode, and what every mode shares.

`ResponsesRewriter` follows the upstream's items (`StreamItem`) by `output_index`, else by item id
(llama-server numbers nothing), filters each message text part (`Channel`) delta by delta,
renumbers items and sequence numbers, and makes every repetition of a text (`….done` events, the
final `response.output`) the text the client got in deltas. Strip mode is this class; reasoning
and inline mode override its hooks (`cot_proxy.formats.responses_modes`). See
`cot_proxy.formats.responses` for the whole picture.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from cot_proxy.filters import ChannelFilter
from cot_proxy.filters import Numbered
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.responses_events import CALL_ITEMS
from cot_proxy.formats.responses_events import ITEM_ADDED
from cot_proxy.formats.responses_events import ITEM_DONE
from cot_proxy.formats.responses_events import LIFECYCLE
from cot_proxy.formats.responses_events import PART_ADDED
from cot_proxy.formats.responses_events import PART_DONE
from cot_proxy.formats.responses_events import REASONING_DELTAS
from cot_proxy.formats.responses_events import TERMINAL
from cot_proxy.formats.responses_events import TEXT_DELTA
from cot_proxy.formats.responses_events import TEXT_DONE
from cot_proxy.formats.responses_events import WATCHED
from cot_proxy.formats.responses_events import Key
from cot_proxy.formats.responses_events import Numbering
from cot_proxy.formats.responses_events import nothing
from cot_proxy.formats.responses_events import place_of
from cot_proxy.formats.responses_items import Channel
from cot_proxy.formats.responses_items import Replacement
from cot_proxy.formats.responses_items import StreamItem
from cot_proxy.formats.responses_items import is_text_part
from cot_proxy.formats.responses_items import reasoning_text_of
from cot_proxy.formats.responses_output import rewrite_response
from cot_proxy.think import ThinkConfig


class ResponsesRewriter(Numbering):
    """One streamed Responses answer's rewriting (`cot_proxy.formats._api.Rewriter`)."""

    def __init__(self, config: ThinkConfig, new_filter: NewFilter) -> None:
        self.config = config
        self._new_filter = new_filter
        self._channel_numbers: Iterator[int] = itertools.count()
        super().__init__()
        self.answered = False
        self.finished = False

    def passes(self, raw: bytes) -> bool:
        if self._renumbering:
            return False
        for needle in WATCHED:
            if needle in raw:
                return False
        return True

    def heartbeat(self) -> Any | None:
        return None  # an SSE comment: openai-python's SSE decoder skips lines starting with ":"

    passes_tail = passes

    def event(self, obj: Any, source: Any = None) -> list[Any] | None:
        if type(obj) is not dict or type(obj.get("type")) is not str:
            return None
        seq = obj.get("sequence_number")
        if not self._renumbering and type(seq) is int:
            self._next_seq = seq  # everything so far went out as it came: numbers agree
        self._touched = False
        out = self._dispatch(obj["type"], obj)
        same = len(out) == 1 and out[0] is obj
        if same and not self._touched and not self._renumbering:
            if self._next_seq is not None:
                self._next_seq += 1
            return None
        if not same:
            self._renumbering = True
        return self._stamped(out)

    def end(self) -> list[Any]:
        return self._stamped(self._flush())

    # -- the hooks of the modes (strip mode here) ---------------------------------------------

    def _reasoning_added(self, item: StreamItem) -> bool:
        """An upstream reasoning item begins: True when it is dropped with all its events."""
        self._register(item, nothing)
        return True

    def _before_item(self, item: StreamItem) -> list[Any]:
        """Events due before an upstream item (not a dropped one) goes out."""
        return []

    def _holds(self, item: StreamItem) -> bool:
        """Whether an added item waits for its first answer text."""
        return False

    def _think(self, item: StreamItem, think: str) -> list[Any]:
        """Think text of a message: the events it makes (strip: none; the filter counted it)."""
        return []

    def _release(self, item: StreamItem) -> list[Any]:
        """The events an item waited with, once it goes out."""
        return []

    def _after(self, item: StreamItem) -> list[Any]:
        """A message is done: the events that follow it."""
        item.done = True
        return []

    def _collect(self, item: StreamItem, kind: str, obj: dict[str, Any]) -> None:
        """An event of a dropped item. Strip mode: its reasoning text goes to a filter of its
        own (`note_dropped`, recorded under mitmweb) as it streams, from one family
        of deltas (the first to come), else whole from its `output_item.done`."""
        family = REASONING_DELTAS.get(kind)
        if family is not None and type(obj.get("delta")) is str:
            if item.noted in ("", family):
                item.noted = family
                self._sink(item).note_dropped(obj["delta"])
        elif kind == ITEM_DONE and not item.noted and type(obj.get("item")) is dict:
            item.noted = "done"
            self._sink(item).note_dropped(reasoning_text_of(obj["item"]))

    def _sink(self, item: StreamItem) -> ChannelFilter:
        if item.sink is None:
            item.sink = self._new_filter(next(self._channel_numbers))
        return item.sink

    def _pieces(self, item: StreamItem, text: str) -> list[str]:
        """How a channel's text is fed to its filter."""
        return [text]

    def _leftover(self) -> list[Any]:
        """Before the terminal event, once every item is finished."""
        return []

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, kind: str, obj: dict[str, Any]) -> list[Any]:
        if kind in LIFECYCLE:
            self._rewrite_response(obj)
            return [obj]
        if kind in TERMINAL:
            out = self._flush("length" if kind == "response.incomplete" else None)
            self._rewrite_response(obj)
            self.finished = True
            return [*out, obj]
        key = place_of(kind, obj)
        if key is None:
            return [obj]
        if kind == ITEM_ADDED:
            return self._item_added(key, obj)
        item = self._items.get(key) or self._unknown_item(key, kind, obj.get("item_id"))
        if item.dropped:
            self._collect(item, kind, obj)
            return []
        if kind == TEXT_DELTA and type(obj.get("delta")) is str:
            return self._text_delta(item, obj)
        if kind == TEXT_DONE and type(obj.get("text")) is str:
            return self._text_done(item, obj, obj)
        if kind == PART_ADDED and is_text_part(obj.get("part")):
            self._initial_text(item, obj.get("content_index"), obj["part"])
        if kind == PART_ADDED and item.held is not None:
            item.held.append(obj)
            return []
        if kind == PART_DONE and is_text_part(obj.get("part")):
            return self._text_done(item, obj, obj["part"])
        if kind == ITEM_DONE:
            return self._item_done(item, obj)
        return [*self._release(item), self._renumbered(item, obj)]

    def _item_added(self, key: Key, obj: dict[str, Any]) -> list[Any]:
        upstream = obj.get("item")
        kind = upstream.get("type") if type(upstream) is dict else None
        item_id = upstream.get("id") if type(upstream) is dict else None
        item = self._new_item(key, item_id, str(kind))
        if kind == "reasoning" and self._reasoning_added(item):
            item.dropped = True
            return []
        out = self._before_item(item)
        if kind == "message":
            self._register(item, self._stands_for(item))
            content = upstream.get("content") if type(upstream) is dict else None
            for k, part in enumerate(content if isinstance(content, list) else []):
                if is_text_part(part):
                    self._initial_text(item, k, part)
        if self._holds(item):
            item.held = [obj]
            return out
        if kind in CALL_ITEMS:
            self.answered = True
        return [*out, self._renumbered(item, obj)]

    def _unknown_item(self, key: Key, kind: str, item_id: object) -> StreamItem:
        """An event for an item whose `output_item.added` never came: the item starts here."""
        item = self._new_item(
            key, item_id, "message" if kind.startswith("response.output_text") else ""
        )
        if kind.startswith("response.reasoning") and self._reasoning_added(item):
            item.dropped = True
        return item

    def _stands_for(self, item: StreamItem) -> Replacement:
        """A message in the final output: its text parts as the client got them."""
        return item.replacement

    # -- answer text --------------------------------------------------------------------------

    def _channel(self, item: StreamItem, content_index: Any) -> tuple[int, Channel]:
        key = content_index if type(content_index) is int else 0
        channel = item.channels.get(key)
        if channel is None:
            channel = item.channels[key] = Channel(self._new_filter(next(self._channel_numbers)))
        return key, channel

    def _initial_text(self, item: StreamItem, content_index: Any, part: dict[str, Any]) -> None:
        """Strip mode: text an added item or part already carries (empty from every server
        known) is its channel's first text, filtered like a delta's, so that none passes
        unread."""
        if self.config.mode != "strip" or not part["text"]:
            return
        _, channel = self._channel(item, content_index)
        channel.fed = True
        _, answer = self._filtered(item, channel, part["text"])
        channel.sent.append(answer)
        if answer != part["text"]:
            part["text"] = answer
            self._touched = True

    def _text_delta(self, item: StreamItem, obj: dict[str, Any]) -> list[Any]:
        key, channel = self._channel(item, obj.get("content_index"))
        self._content_indexed(obj, key)
        channel.template, channel.fed = obj, True
        delta: str = obj["delta"]
        out, answer = self._filtered(item, channel, delta)
        if not answer and (delta or item.held is not None):
            return out  # all of it was think text (or it waits): nothing to send
        out += self._release(item)
        if answer != delta:
            obj["delta"] = answer
            self._touched = True
        channel.sent.append(answer)
        self.answered = self.answered or bool(answer)
        out.append(self._renumbered(item, obj))
        return out

    def _filtered(
        self,
        item: StreamItem,
        channel: Channel,
        text: str,
        finish: bool = False,
        reason: object = None,
    ) -> tuple[list[Any], str]:
        """A channel's text through its filter → (the events its think text makes, and the
        waiting events once answer text comes, in order; the answer text)."""
        steps = [channel.filter.feed(piece) for piece in self._pieces(item, text)]
        if finish:
            steps.append(channel.filter.finish(reason))
        out: list[Any] = []
        answers = [item.prefix] if item.prefix else []  # inline mode's think block
        item.prefix = ""
        for answer, think in steps:
            out += self._think(item, think)
            if answer:
                out += self._release(item)
                answers.append(answer)
        return out, "".join(answers)

    def _close(
        self, item: StreamItem, key: int, channel: Channel, whole: Any = None, reason: object = None
    ) -> list[Any]:
        """End a channel: the text its filter still holds goes out, as a delta of its own.
        `whole`: the part's whole text from a done event, filtered if no delta brought any."""
        if channel.closed:
            return []
        channel.closed = True
        text = whole if not channel.fed and type(whole) is str else ""
        out, answer = self._filtered(item, channel, text, True, reason)
        if answer:
            template = channel.template or {"type": TEXT_DELTA, "item_id": item.id, "logprobs": []}
            new = {**template, "output_index": item.client, "content_index": key, "delta": answer}
            if "logprobs" in new:
                new["logprobs"] = []
            out.append({**new, "sequence_number": None})
            channel.sent.append(answer)
            self.answered = True
        return out

    def _text_done(
        self, item: StreamItem, obj: dict[str, Any], holder: dict[str, Any]
    ) -> list[Any]:
        """`response.output_text.done` (`text`) or `response.content_part.done` (`part.text`)."""
        key, channel = self._channel(item, obj.get("content_index"))
        if obj["type"] == TEXT_DONE:
            self._content_indexed(obj, key)
        out = self._close(item, key, channel, holder["text"])
        out += self._release(item)
        if holder["text"] != channel.text:
            holder["text"] = channel.text
            self._touched = True
        out.append(self._renumbered(item, obj))
        return out

    def _item_done(self, item: StreamItem, obj: dict[str, Any]) -> list[Any]:
        upstream = obj.get("item")
        if item.done or type(upstream) is not dict or upstream.get("type") != "message":
            return [*self._release(item), self._renumbered(item, obj)]
        content = upstream.get("content")
        parts = content if isinstance(content, list) else []
        out: list[Any] = []
        for k, part in enumerate(parts):
            if is_text_part(part):
                out += self._close(item, *self._channel(item, k), part["text"])
        out += self._finish_item(item)
        for k, part in enumerate(parts):
            if is_text_part(part) and part["text"] != item.channels[k].text:
                part["text"] = item.channels[k].text
                self._touched = True
        out.append(self._renumbered(item, obj))
        return out + self._after(item)

    def _finish_item(self, item: StreamItem, reason: object = None) -> list[Any]:
        out: list[Any] = []
        for key, channel in list(item.channels.items()):
            out += self._close(item, key, channel, None, reason)
        return out + self._release(item)

    def _flush(self, reason: object = None) -> list[Any]:
        """Before the terminal event (or at the end of the stream): all text still held."""
        out: list[Any] = []
        for item in list(dict.fromkeys(self._items.values())):  # each item once
            if not (item.dropped or item.done):
                out += self._finish_item(item, reason)
                if item.kind == "message":
                    out += self._after(item)
        return out + self._leftover()

    def _rewrite_response(self, obj: dict[str, Any]) -> None:
        make_filter = Numbered(self._new_filter, self._channel_numbers)
        if rewrite_response(obj.get("response"), self.config, make_filter, self._replaced):
            self._touched = True
