"""The Responses API stream's vocabulary: its event types, the item an event belongs to, and
the client's numbers of items and events (`Numbering`, a base of
`cot_proxy.formats.responses_stream.ResponsesRewriter`).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any
from typing import TypeAlias

from cot_proxy.formats.responses_items import Replacement
from cot_proxy.formats.responses_items import StreamItem

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
WATCHED = tuple(
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


class Numbering:
    """The upstream's items by `Key`, and the numbers the client gets: output_index,
    content_index and sequence_number, counting what was dropped or inserted."""

    def __init__(self) -> None:
        # By `Key`, in arrival order; an item with both an output_index and an id under both.
        self._items: dict[Key, StreamItem] = {}
        self._ordinals: dict[str, int] = {}  # items seen so far, by type
        self._next_index = 0  # the client's next output_index
        self._next_seq: int | None = None  # the client's next sequence_number, once known
        self._renumbering = False  # an event was dropped, added or renumbered: parse them all
        self._touched = False  # the event being handled was modified
        # Item id (or `ordinal_key`) → what the client got in its place, for `response.output`.
        self._replaced: dict[str, Replacement] = {}

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
