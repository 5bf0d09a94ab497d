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
from typing import TypeAlias

from cot_proxy.filters import ChannelFilter
from cot_proxy.filters import Numbered
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.responses_items import Channel
from cot_proxy.formats.responses_items import Replacement
from cot_proxy.formats.responses_items import StreamItem
from cot_proxy.formats.responses_items import is_text_part
from cot_proxy.formats.responses_items import reasoning_text_of
from cot_proxy.formats.responses_output import rewrite_response
from cot_proxy.think import ThinkConfig

LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress"})
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
ITEM_ADDED, ITEM_DONE = "response.output_item.added", "response.output_item.done"
PART_ADDED, PART_DONE = "response.content_part.added", "response.content_part.done"
TEXT_DELTA, TEXT_DONE = "response.output_text.delta", "response.output_text.done"
# The delta events of a reasoning item's text, by family.
REASONING_DELTAS = {
    "response.reasoning_text.delta": "text",
    "response.reasoning_summary_text.delta": "summary",
}
# Items whose being sent counts as an answer for the time to first answer.
CALL_ITEMS = frozenset({"function_call", "custom_tool_call"})
# While nothing is renumbered, a raw event containing none of these cannot change and passes
# unparsed: every event that adds, fills or closes an item we may change, or holds the output.
_WATCHED = tuple(
    b"output_text output_item content_part reasoning response.created response.in_progress "
    b"response.queued response.completed response.incomplete response.failed".split()
)


# Where an upstream item is kept: its output_index; else ("id", its item id); else, for a server
# that names neither, ("type", "message" or "reasoning"): one item (and channel) per type.
Key: TypeAlias = int | tuple[str, str]


def place_of(kind: str, obj: dict[str, Any]) -> Key | None:
    """The item an event belongs to. None: an event that names no item and carries no answer
    text (a tool call's arguments with neither index nor id, an unknown type)."""
    index = obj.get("output_index")
    if type(index) is int:
        return index
    upstream = obj.get("item") if kind in (ITEM_ADDED, ITEM_DONE) else None
    item_id = upstream.get("id") if type(upstream) is dict else obj.get("item_id")
    if type(item_id) is str and item_id:
        return ("id", item_id)
    if type(upstream) is dict:
        family = upstream.get("type")
        return ("type", family) if type(family) is str else None
    if kind.startswith("response.reasoning"):
        return ("type", "reasoning")
    if kind.startswith("response.content_part"):
        part = obj.get("part")
        part_type = part.get("type") if type(part) is dict else None
        return (
            "type",
            "reasoning" if part_type in ("reasoning_text", "summary_text") else "message",
        )
    if kind.startswith(("response.output_text", "response.refusal")):
        return ("type", "message")
    return None


def nothing(upstream: dict[str, Any]) -> list[Any]:
    """The replacement of an item the client did not get."""
    return []


class ResponsesRewriter:
    """One streamed Responses answer's rewriting (`cot_proxy.formats._api.Rewriter`)."""

    def __init__(self, config: ThinkConfig, new_filter: NewFilter) -> None:
        self.config = config
        self._new_filter = new_filter
        self._channel_numbers: Iterator[int] = itertools.count()
        # By `Key`, in arrival order; an item with both an output_index and an id under both.
        self._items: dict[Key, StreamItem] = {}
        self._ordinals: dict[str, int] = {}  # items seen so far, by type
        self._next_index = 0  # the client's next output_index
        self._next_seq: int | None = None  # the client's next sequence_number, once known
        self._renumbering = False  # an event was dropped, added or renumbered: parse them all
        self._touched = False  # the event being handled was modified
        # Item id (or `ordinal_key`) → what the client got in its place, for `response.output`.
        self._replaced: dict[str, Replacement] = {}
        self._answered = False
        self._finished = False

    @property
    def answered(self) -> bool:
        return self._answered

    @property
    def finished(self) -> bool:
        return self._finished

    def passes(self, raw: bytes) -> bool:
        if self._renumbering:
            return False
        for needle in _WATCHED:
            if needle in raw:
                return False
        return True

    def heartbeat(self) -> Any | None:
        return None  # an SSE comment: openai-python's SSE decoder skips lines starting with ":"

    def passes_tail(self, raw: bytes) -> bool:
        return self.passes(raw)

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
            self._finished = True
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
            self._answered = True
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

        def replacement(upstream: dict[str, Any]) -> list[Any]:
            content = upstream.get("content")
            if not isinstance(content, list):
                return [upstream]
            texts = [
                item.channels[k].text if is_text_part(part) and k in item.channels else None
                for k, part in enumerate(content)
            ]
            if all(t is None or t == part["text"] for t, part in zip(texts, content)):
                return [upstream]
            parts = [p if t is None else {**p, "text": t} for t, p in zip(texts, content)]
            return [{**upstream, "content": parts}]

        return replacement

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
        self._answered = self._answered or bool(answer)
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
            self._answered = True
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

    # -- numbering ----------------------------------------------------------------------------

    def _new_item(self, key: Key, item_id: object, kind: str) -> StreamItem:
        ordinal = self._ordinals[kind] = self._ordinals.get(kind, -1) + 1
        name = item_id if type(item_id) is str else ""
        index = key if type(key) is int else len(self._items)
        item = self._items[key] = StreamItem(index, name, kind, ordinal)
        if name:  # events that name it only by id find it too
            self._items[("id", name)] = item
        return item

    def _register(self, item: StreamItem, replacement: Replacement) -> None:
        for key in item.keys:
            self._replaced[key] = replacement

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _renumbered(self, item: StreamItem, obj: dict[str, Any]) -> dict[str, Any]:
        """An event of `item` with the item's client output_index (given now if it has none).
        Also where the upstream sent none (llama-server): the SDK's stream helper needs it."""
        if item.client is None:
            item.client = self._take_index()
        if obj.get("output_index") != item.client:
            obj["output_index"] = item.client
            self._touched = self._renumbering = True
        return obj

    def _content_indexed(self, obj: dict[str, Any], key: int) -> None:
        """A text event of a server that numbers no content part (llama-server) gets the part's
        number, as it gets an output_index (`_renumbered`): openai-python's `responses.stream()`
        finds a delta's text part by both (`ResponseStreamState`: without them it fails with a
        TypeError), so the client gets them. Nothing else is invented: no sequence_number
        (`_stamped`), no content_index on part events, which no client reads it from."""
        if type(obj.get("content_index")) is not int:
            obj["content_index"] = key
            self._touched = self._renumbering = True

    def _stamped(self, events: list[Any]) -> list[Any]:
        """Sequence numbers, counting on (new events carry `"sequence_number": None`)."""
        for new in events:
            if type(new) is not dict or "sequence_number" not in new:
                continue
            if self._next_seq is None:
                if new["sequence_number"] is None:
                    del new["sequence_number"]  # the upstream numbers nothing: neither do we
                continue
            new["sequence_number"] = self._next_seq
            self._next_seq += 1
        return events
