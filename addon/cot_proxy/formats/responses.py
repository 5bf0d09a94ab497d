"""The OpenAI Responses API (`POST …/responses`) as an event format.

A streamed answer is SSE events (`event: <type>` + `data: {…}`), each with a `sequence_number`,
that add output items (`response.output_item.added`), fill them (`response.output_text.delta`
for a message's text, `response.reasoning_text.delta` or `response.reasoning_summary_text.delta`
for reasoning, …), close them (`….done`, repeating the whole text) and end with
`response.completed`, `response.incomplete` or `response.failed`, which carry the whole
`response` again. Items are numbered by `output_index`. Shapes: openai-python's
`openai/types/responses`, as vLLM (vllm/entrypoints/openai/responses/simple_streaming_events.py)
and Ollama (openai/responses.go, `ResponsesStreamConverter`) send them.

Per message item and content part (a channel), the answer text goes through a think filter:

- strip: think blocks leave the text; reasoning items leave with all their events.
- reasoning: think text becomes a reasoning item of ours (`response_items.NewReasoning`),
  placed before the message it came from: the message's `output_item.added` and
  `content_part.added` are held until its first answer text. Think text that comes after the
  first answer text goes into a reasoning item right after the message. Reasoning items the
  upstream sent stay as they came.
- inline: reasoning items leave; their text goes into the next message's first text delta as a
  think block (or, with no message next, into a message item of ours in their place).

Every `….done` event and the final `response.output` carry the text the client got in deltas.
Items are renumbered in the order the client gets them, and sequence numbers count on without
gaps from the first upstream number. Events of other shapes pass as they came (renumbered).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from cot_proxy.events import Framing
from cot_proxy.events import NewFilter
from cot_proxy.formats.response_items import INLINE_JOIN
from cot_proxy.formats.response_items import NewReasoning
from cot_proxy.formats.response_items import Replacement
from cot_proxy.formats.response_items import filter_body as filter_body
from cot_proxy.formats.response_items import is_text_part
from cot_proxy.formats.response_items import message_events
from cot_proxy.formats.response_items import message_item
from cot_proxy.formats.response_items import ordinal_key
from cot_proxy.formats.response_items import reasoning_text_of
from cot_proxy.formats.response_items import rewrite_response
from cot_proxy.inline import InlineFilter
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter

name = "responses"
framing: Framing = "sse"

LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress"})
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
ITEM_ADDED, ITEM_DONE = "response.output_item.added", "response.output_item.done"
PART_ADDED, PART_DONE = "response.content_part.added", "response.content_part.done"
TEXT_DELTA, TEXT_DONE = "response.output_text.delta", "response.output_text.done"
TEXT_PREFIX = "response.output_text"
# Items whose being sent counts as an answer for the time to first answer.
CALL_ITEMS = frozenset({"function_call", "custom_tool_call"})
# The raw events `passes` lets by unparsed must contain none of these (while nothing has been
# renumbered): every event that adds, fills or closes an item we may change, or holds the output.
_WATCHED: tuple[bytes, ...] = (
    b"output_text",
    b"output_item",
    b"content_part",
    b"reasoning",
    b"response.created",
    b"response.in_progress",
    b"response.queued",
    b"response.completed",
    b"response.incomplete",
    b"response.failed",
)


class _Channel:
    """One content part of a message: its filter and the text the client got."""

    __slots__ = ("filter", "sent", "template", "fed", "closed")

    def __init__(self, think_filter: ThinkFilter) -> None:
        self.filter = think_filter
        self.sent: list[str] = []
        self.template: dict[str, Any] | None = None  # its last delta event, to shape new ones
        self.fed = False  # some text came in a delta
        self.closed = False

    @property
    def text(self) -> str:
        return "".join(self.sent)


class _Item:
    """One upstream output item, as the stream has seen it so far."""

    __slots__ = (
        "index",
        "id",
        "kind",
        "client",
        "dropped",
        "held",
        "channels",
        "before",
        "after",
        "after_item",
        "done",
        "prefix",
        "texts",
        "keys",
    )

    def __init__(self, index: int, item_id: str, kind: str, ordinal: int) -> None:
        self.index, self.id, self.kind = index, item_id, kind
        # How the final output names it: by id, or (vLLM gives the final items new ids) as
        # the n-th item of its type (`response_items.rewrite_output`).
        self.keys = (
            (item_id, ordinal_key(kind, ordinal)) if item_id else (ordinal_key(kind, ordinal),)
        )
        self.client: int | None = None  # its output_index for the client, once sent
        self.dropped = False
        self.held: list[dict[str, Any]] | None = None  # events held until its first answer
        self.channels: dict[int, _Channel] = {}
        self.before: NewReasoning | None = None  # reasoning mode: think before its answer
        self.after: list[str] = []  # … and think after its first answer text
        self.after_item: NewReasoning | None = None  # … which went out after the message
        self.done = False
        self.prefix = ""  # inline mode: the think block its first text delta gets
        # Inline mode, a reasoning item: its text from reasoning_text deltas, summary deltas,
        # and its output_item.done (which wins).
        self.texts: dict[str, list[str]] = {"text": [], "summary": [], "done": []}

    @property
    def reasoning(self) -> str:
        for key in ("done", "text", "summary"):
            if self.texts[key]:
                return "".join(self.texts[key])
        return ""


class ResponsesRewriter:
    """One streamed Responses answer's rewriting (`cot_proxy.events.EventRewriter`)."""

    def __init__(self, config: ThinkConfig, new_filter: NewFilter) -> None:
        self.config = config
        self._new_filter = new_filter
        self._mode = config.mode
        self._family = config.responses_reasoning
        # The first characters of every tag and end marker (see `_pieces`).
        tags = [tag for pair in (*config.tags, *config.unwrap) for tag in pair]
        tags += [m for start, _ in config.tags for m in config.markers_for(start)]
        self._tag_starts = frozenset(tag[0] for tag in tags if tag)
        self._channel_numbers: Iterator[int] = itertools.count()
        self._items: dict[int, _Item] = {}  # by upstream output_index, in arrival order
        self._next_index = 0  # the client's next output_index
        self._next_seq: int | None = None  # the client's next sequence_number, once known
        self._renumbering = False  # an event was dropped, added or renumbered: parse them all
        self._touched = False  # the event being handled was modified
        self._inline: list[_Item] = []  # inline: reasoning items awaiting the next message
        # Upstream item id → what the client got in its place (for `response.output`).
        self._replaced: dict[str, Replacement] = {}
        self._ordinals: dict[str, int] = {}  # items seen so far, by type
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

    def event(self, obj: Any) -> list[Any] | None:
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
        index = obj.get("output_index")
        if type(index) is not int:
            return [obj]
        if kind == ITEM_ADDED:
            return self._item_added(index, obj)
        item = self._items.get(index) or self._unknown_item(index, kind)
        if item.dropped:
            self._collect(item, kind, obj)
            return []
        if kind == TEXT_DELTA and type(obj.get("delta")) is str:
            return self._text_delta(item, obj)
        if kind == TEXT_DONE and type(obj.get("text")) is str:
            return self._text_done(item, obj, obj, "text")
        if kind == PART_ADDED and item.held is not None:
            item.held.append(obj)
            return []
        if kind == PART_DONE and is_text_part(obj.get("part")):
            return self._text_done(item, obj, obj["part"], "text")
        if kind == ITEM_DONE:
            return self._item_done(item, obj)
        return [*self._release(item), self._renumbered(item, obj)]

    def _item_added(self, index: int, obj: dict[str, Any]) -> list[Any]:
        upstream = obj.get("item")
        kind = upstream.get("type") if type(upstream) is dict else None
        item_id = upstream.get("id") if type(upstream) is dict else None
        item = self._new_item(index, item_id if type(item_id) is str else "", str(kind))
        if kind == "reasoning" and self._mode in ("strip", "inline"):
            item.dropped = True
            if self._mode == "inline":
                self._inline.append(item)
            else:
                self._register(item, _nothing)
            return []
        out: list[Any] = []
        if self._inline:
            if kind == "message":
                item.prefix = self._inline_block()
            else:
                out += self._inline_message()
        if kind == "message":
            self._register(item, self._stands_for(item))
            if self._mode == "reasoning":
                item.held = [obj]
                return out
        self._assign(item)
        if kind in CALL_ITEMS:
            self._answered = True
        return [*out, self._renumbered(item, obj)]

    def _unknown_item(self, index: int, kind: str) -> _Item:
        """An event for an item whose `output_item.added` never came: the item starts here."""
        item = self._new_item(index, "", "message" if kind.startswith(TEXT_PREFIX) else "")
        if kind.startswith("response.reasoning") and self._mode in ("strip", "inline"):
            item.dropped = True
            if self._mode == "inline":
                self._inline.append(item)
        else:
            self._assign(item)
        return item

    # -- answer text --------------------------------------------------------------------------

    def _channel(self, item: _Item, content_index: Any) -> tuple[int, _Channel]:
        key = content_index if type(content_index) is int else 0
        channel = item.channels.get(key)
        if channel is None:
            channel = item.channels[key] = _Channel(self._new_filter(next(self._channel_numbers)))
        return key, channel

    def _text_delta(self, item: _Item, obj: dict[str, Any]) -> list[Any]:
        _, channel = self._channel(item, obj.get("content_index"))
        channel.template, channel.fed = obj, True
        delta: str = obj["delta"]
        out, answer = self._filtered(item, channel, delta)
        if not answer and (delta or item.held is not None):
            return out  # all of it was think text (or held): nothing to send
        out += self._release(item)
        if answer != delta:
            obj["delta"] = answer
            self._touched = True
        channel.sent.append(answer)
        self._answered = self._answered or bool(answer)
        out.append(self._renumbered(item, obj))
        return out

    def _close(
        self, item: _Item, key: int, channel: _Channel, whole: Any = None, reason: object = None
    ) -> list[Any]:
        """End a channel: the text its filter still holds goes out, as a delta of its own.
        `whole`: the part's whole text from a done event, filtered if no delta brought any."""
        if channel.closed:
            return []
        channel.closed = True
        text = whole if not channel.fed and type(whole) is str else ""
        out, answer = self._filtered(item, channel, text, True, reason)
        if answer:
            out.append(self._new_delta(item, key, channel, answer))
            channel.sent.append(answer)
            self._answered = True
        return out

    def _filtered(
        self, item: _Item, channel: _Channel, text: str, finish: bool = False, reason: object = None
    ) -> tuple[list[Any], str]:
        """A channel's text through its filter → (the events its think text makes, and the
        held events once answer text comes, in order; the answer text)."""
        steps = [channel.filter.feed(piece) for piece in self._pieces(item, text)]
        if finish:
            steps.append(channel.filter.finish(reason))
        out: list[Any] = []
        answers: list[str] = []
        for answer, think in steps:
            out += self._think(item, think)
            if answer:
                out += self._release(item)
                answers.append(answer)
        if item.prefix:
            answers.insert(0, item.prefix)
            item.prefix = ""
        return out, "".join(answers)

    def _pieces(self, item: _Item, text: str) -> list[str]:
        """While a message waits for its first answer text (reasoning mode), its text is fed
        with every character a tag may start with on its own: each piece then gives answer or
        think text, not both, so that think text before the answer is told from think text
        after it however the deltas were cut."""
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

    def _new_delta(self, item: _Item, key: int, channel: _Channel, text: str) -> dict[str, Any]:
        template = channel.template or {"type": TEXT_DELTA, "item_id": item.id, "logprobs": []}
        new = {**template, "output_index": item.client, "content_index": key, "delta": text}
        if "logprobs" in new:
            new["logprobs"] = []
        new["sequence_number"] = None
        return new

    def _text_done(
        self, item: _Item, obj: dict[str, Any], holder: dict[str, Any], key: str
    ) -> list[Any]:
        """`response.output_text.done` (`text`) or `response.content_part.done` (`part.text`)."""
        index, channel = self._channel(item, obj.get("content_index"))
        out = self._close(item, index, channel, holder[key])
        out += self._release(item)
        if holder[key] != channel.text:
            holder[key] = channel.text
            self._touched = True
        out.append(self._renumbered(item, obj))
        return out

    def _item_done(self, item: _Item, obj: dict[str, Any]) -> list[Any]:
        upstream = obj.get("item")
        if item.done or type(upstream) is not dict or upstream.get("type") != "message":
            return [*self._release(item), self._renumbered(item, obj)]
        out: list[Any] = []
        content = upstream.get("content")
        parts = content if isinstance(content, list) else []
        for k, part in enumerate(parts):
            if is_text_part(part):
                out += self._close(item, *self._channel(item, k), part["text"])
        out += self._finish_item(item)
        for k, part in enumerate(parts):
            if is_text_part(part) and k in item.channels and part["text"] != item.channels[k].text:
                part["text"] = item.channels[k].text
                self._touched = True
        out.append(self._renumbered(item, obj))
        out += self._after(item)
        return out

    def _finish_item(self, item: _Item, reason: object = None) -> list[Any]:
        out: list[Any] = []
        for key, channel in list(item.channels.items()):
            out += self._close(item, key, channel, None, reason)
        out += self._release(item)
        if item.prefix:  # inline: a message with no text to carry the reasoning
            self._inline_prefix_message(item, out)
        return out

    # -- reasoning mode -----------------------------------------------------------------------

    def _think(self, item: _Item, think: str) -> list[Any]:
        if not think or self._mode != "reasoning":
            return []  # strip: dropped (the filter counted it)
        if item.held is None:  # its answer began: the think text goes after the message
            item.after.append(think)
            return []
        out: list[Any] = []
        if item.before is None:
            item.before = NewReasoning(f"rs_{item.id}", self._take_index(), self._family)
            out += item.before.open()
        return out + item.before.delta(think)

    def _release(self, item: _Item) -> list[Any]:
        """The events held for a message (reasoning mode), after the reasoning item before it."""
        if item.held is None:
            return []
        out = item.before.close() if item.before else []
        self._assign(item)
        for held in item.held:
            held["output_index"] = item.client
        out += item.held
        item.held = None
        return out

    def _after(self, item: _Item) -> list[Any]:
        item.done = True
        if not item.after:
            return []
        reasoning = NewReasoning(f"rs_{item.id}_after", self._take_index(), self._family)
        item.after_item = reasoning
        return [*reasoning.open(), *reasoning.delta("".join(item.after)), *reasoning.close()]

    def _stands_for(self, item: _Item) -> Replacement:
        def replacement(upstream: dict[str, Any]) -> list[Any]:
            content = upstream.get("content")
            if isinstance(content, list):
                texts = [
                    item.channels[k].text if is_text_part(part) and k in item.channels else None
                    for k, part in enumerate(content)
                ]
                if any(t is not None and t != part["text"] for t, part in zip(texts, content)):
                    parts = [p if t is None else {**p, "text": t} for t, p in zip(texts, content)]
                    upstream = {**upstream, "content": parts}
            before = [item.before.item()] if item.before else []
            return [*before, upstream, *([item.after_item.item()] if item.after_item else [])]

        return replacement

    # -- inline mode --------------------------------------------------------------------------

    def _collect(self, item: _Item, kind: str, obj: dict[str, Any]) -> None:
        """A dropped reasoning item's event: inline mode keeps its text."""
        if self._mode != "inline":
            return
        if kind == ITEM_DONE and type(obj.get("item")) is dict:
            item.texts["done"] = [reasoning_text_of(obj["item"])]
        elif type(obj.get("delta")) is str:
            if kind == "response.reasoning_text.delta":
                item.texts["text"].append(obj["delta"])
            elif kind == "response.reasoning_summary_text.delta":
                item.texts["summary"].append(obj["delta"])

    def _inline_block(self) -> str:
        """`<think>` + the waiting reasoning items' text + `</think>`; they are then taken."""
        text = INLINE_JOIN.join(i.reasoning for i in self._inline if i.reasoning)
        for reasoning in self._inline:
            self._register(reasoning, _nothing)
        self._inline = []
        block = self._new_filter(next(self._channel_numbers))
        if not text or not isinstance(block, InlineFilter):
            return ""
        return block.open_block(text) + block.close_block()

    def _inline_message(self) -> list[Any]:
        """Reasoning items with no message after them: a message item of ours in their place."""
        first = self._inline[0]
        text = self._inline_block()
        if not text:
            return []
        item_id = f"msg_{first.id or first.index}"
        self._register(first, lambda upstream: [message_item(item_id, text)])
        self._answered = True
        return message_events(item_id, self._take_index(), text)

    def _inline_prefix_message(self, item: _Item, out: list[Any]) -> None:
        text, item.prefix = item.prefix, ""
        item_id = f"msg_{item.id}_think"
        out += message_events(item_id, self._take_index(), text)
        before = self._replaced.get(item.keys[0])
        if before is not None:
            self._register(item, lambda up: [*before(up), message_item(item_id, text)])

    # -- numbering and the end ----------------------------------------------------------------

    def _new_item(self, index: int, item_id: str, kind: str) -> _Item:
        ordinal = self._ordinals[kind] = self._ordinals.get(kind, -1) + 1
        item = self._items[index] = _Item(index, item_id, kind, ordinal)
        return item

    def _register(self, item: _Item, replacement: Replacement) -> None:
        for key in item.keys:
            self._replaced[key] = replacement

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _assign(self, item: _Item) -> None:
        if item.client is None:
            item.client = self._take_index()

    def _renumbered(self, item: _Item, obj: dict[str, Any]) -> dict[str, Any]:
        self._assign(item)
        if obj.get("output_index") != item.client:
            obj["output_index"] = item.client
            self._touched = self._renumbering = True
        return obj

    def _stamped(self, events: list[Any]) -> list[Any]:
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

    def _flush(self, reason: object = None) -> list[Any]:
        """Before the terminal event (or at the end of the stream): all text still held."""
        out: list[Any] = []
        for item in list(self._items.values()):
            if item.dropped or item.done:
                continue
            out += self._finish_item(item, reason)
            if item.kind == "message":
                out += self._after(item)
        if self._inline:
            out += self._inline_message()
        return out

    def _rewrite_response(self, obj: dict[str, Any]) -> None:
        def make_filter() -> ThinkFilter:
            return self._new_filter(next(self._channel_numbers))

        if rewrite_response(obj.get("response"), self.config, make_filter, self._replaced):
            self._touched = True


def _nothing(upstream: dict[str, Any]) -> list[Any]:
    return []


def rewriter(config: ThinkConfig, new_filter: NewFilter) -> ResponsesRewriter:
    return ResponsesRewriter(config, new_filter)
