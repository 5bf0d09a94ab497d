"""The OpenAI Responses API's output items: read, built, and filtered whole.

A Responses answer is a list of output items (`response.output[]`): `message` items whose
`content[]` parts of type `output_text` hold the answer text, `reasoning` items, `function_call`
items and others. This module knows their shapes (those of openai-python's
`openai/types/responses`, as vLLM and Ollama send them) and rewrites a whole list of them: the
buffered answer (`filter_body`) and the `response` object of the stream's lifecycle events, where
the stream (`cot_proxy.formats.responses`) says what the client already got in place of each item.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cot_proxy.filters import ChannelFilter

# What stands in the client's output in place of one upstream item (by its id): a function of
# the item as the upstream sent it in the final response, giving the items the client gets.
Replacement = Callable[[dict[str, Any]], list[Any]]
# Inline mode: the text of several reasoning items before one message is joined by this.
INLINE_JOIN = "\n"


def ordinal_key(kind: str, ordinal: int) -> str:
    """The name of the n-th output item of a type, for items whose ids changed."""
    return f"#{ordinal} {kind}"


def is_text_part(part: Any) -> bool:
    return (
        type(part) is dict and part.get("type") == "output_text" and type(part.get("text")) is str
    )


def reasoning_text_of(item: dict[str, Any]) -> str:
    """A reasoning item's text: its `content` of reasoning_text, else its `summary`."""
    for key, kind in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            text = "".join(
                p["text"]
                for p in parts
                if type(p) is dict and p.get("type") == kind and type(p.get("text")) is str
            )
            if text:
                return text
    return ""


def reasoning_item(
    item_id: str, text: str, family: str, status: str = "completed"
) -> dict[str, Any]:
    """A reasoning item of ours, in the family (`ThinkConfig.responses_reasoning`) asked for."""
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if family != "text":
        item["summary"] = [{"type": "summary_text", "text": text}]
    if family != "summary":
        item["content"] = [{"type": "reasoning_text", "text": text}]
    item["status"] = status
    return item


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant message of ours (inline mode's reasoning with no message after it)."""
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [part] if text or status == "completed" else [],
    }


def event(kind: str, index: int, **fields: Any) -> dict[str, Any]:
    """A new stream event; `sequence_number` is stamped by the rewriter (None: none known)."""
    return {"type": kind, "output_index": index, **fields, "sequence_number": None}


class NewReasoning:
    """A reasoning item of ours streamed to the client: its events, in the family asked for.

    `text`: `content[]` of reasoning_text, `response.reasoning_text.*` events (vLLM's shape,
    vllm/entrypoints/openai/responses/simple_streaming_events.py); `summary`: `summary[]` of
    summary_text, `response.reasoning_summary_*` events (OpenAI's, which Codex shows); `both`.
    """

    __slots__ = ("id", "index", "family", "pieces", "closed")

    def __init__(self, item_id: str, index: int, family: str) -> None:
        self.id, self.index, self.family = item_id, index, family
        self.pieces: list[str] = []
        self.closed = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def _on(self, kind: str, **fields: Any) -> dict[str, Any]:
        return event(kind, self.index, item_id=self.id, **fields)

    def open(self) -> list[dict[str, Any]]:
        item = {"id": self.id, "type": "reasoning", "summary": [], "status": "in_progress"}
        events = [event("response.output_item.added", self.index, item=item)]
        if self.family != "summary":
            part = {"type": "reasoning_text", "text": ""}
            events.append(self._on("response.content_part.added", content_index=0, part=part))
        if self.family != "text":
            part = {"type": "summary_text", "text": ""}
            events.append(
                self._on("response.reasoning_summary_part.added", summary_index=0, part=part)
            )
        return events

    def delta(self, text: str) -> list[dict[str, Any]]:
        self.pieces.append(text)
        events = []
        if self.family != "summary":
            events.append(self._on("response.reasoning_text.delta", content_index=0, delta=text))
        if self.family != "text":
            events.append(
                self._on("response.reasoning_summary_text.delta", summary_index=0, delta=text)
            )
        return events

    def close(self) -> list[dict[str, Any]]:
        if self.closed:
            return []
        self.closed = True
        text = self.text
        events = []
        if self.family != "summary":
            part = {"type": "reasoning_text", "text": text}
            events.append(self._on("response.reasoning_text.done", content_index=0, text=text))
            events.append(self._on("response.content_part.done", content_index=0, part=part))
        if self.family != "text":
            part = {"type": "summary_text", "text": text}
            events.append(
                self._on("response.reasoning_summary_text.done", summary_index=0, text=text)
            )
            events.append(
                self._on("response.reasoning_summary_part.done", summary_index=0, part=part)
            )
        item = reasoning_item(self.id, text, self.family)
        events.append(event("response.output_item.done", self.index, item=item))
        return events

    def item(self) -> dict[str, Any]:
        return reasoning_item(self.id, self.text, self.family)


def message_events(item_id: str, index: int, text: str) -> list[dict[str, Any]]:
    """The whole stream of one message item of ours holding `text` (inline mode)."""
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    on = {"item_id": item_id, "content_index": 0}
    return [
        event("response.output_item.added", index, item=message_item(item_id, "", "in_progress")),
        event("response.content_part.added", index, **on, part=part),
        event("response.output_text.delta", index, **on, delta=text, logprobs=[]),
        event("response.output_text.done", index, **on, text=text, logprobs=[]),
        event("response.content_part.done", index, **on, part={**part, "text": text}),
        event("response.output_item.done", index, item=message_item(item_id, text)),
    ]


# -- what a stream knows of its items ------------------------------------------------------


class Channel:
    """One content part of a message: its filter and the text the client got."""

    __slots__ = ("filter", "sent", "template", "fed", "closed")

    def __init__(self, think_filter: ChannelFilter) -> None:
        self.filter = think_filter
        self.sent: list[str] = []
        self.template: dict[str, Any] | None = None  # its last delta event, to shape new ones
        self.fed = False  # some text came in a delta
        self.closed = False

    @property
    def text(self) -> str:
        return "".join(self.sent)


class StreamItem:
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
        "sink",
        "noted",
    )

    def __init__(self, index: int, item_id: str, kind: str, ordinal: int) -> None:
        self.index, self.id, self.kind = index, item_id, kind
        # How the final output names it: by id, or (vLLM gives the final items new ids) as
        # the n-th item of its type (`responses_output.rewrite_output`).
        self.keys = (
            (item_id, ordinal_key(kind, ordinal)) if item_id else (ordinal_key(kind, ordinal),)
        )
        self.client: int | None = None  # its output_index for the client, once sent
        self.dropped = False
        self.held: list[dict[str, Any]] | None = None  # events held until its first answer
        self.channels: dict[int, Channel] = {}
        self.before: NewReasoning | None = None  # reasoning mode: think before its answer
        self.after: list[str] = []  # … and think after its first answer text
        self.after_item: NewReasoning | None = None  # … which went out after the message
        self.done = False
        self.prefix = ""  # inline mode: the think block its first text delta gets
        # Inline mode, a reasoning item: its text from reasoning_text deltas, summary deltas,
        # and its output_item.done (which wins).
        self.texts: dict[str, list[str]] = {"text": [], "summary": [], "done": []}
        # Strip mode, a reasoning item: the filter its text is noted to (`note_dropped`), and
        # where that text came from ("text", "summary", "done"; "": none yet).
        self.sink: ChannelFilter | None = None
        self.noted = ""

    @property
    def reasoning(self) -> str:
        for key in ("done", "text", "summary"):
            if self.texts[key]:
                return "".join(self.texts[key])
        return ""

    def replacement(self, upstream: dict[str, Any]) -> list[Any]:
        """What stands for this message in the final output: its text parts as the client got
        them (`Replacement`)."""
        content = upstream.get("content")
        if not isinstance(content, list):
            return [upstream]
        texts = [
            self.channels[k].text if is_text_part(part) and k in self.channels else None
            for k, part in enumerate(content)
        ]
        if all(t is None or t == part["text"] for t, part in zip(texts, content)):
            return [upstream]
        parts = [p if t is None else {**p, "text": t} for t, p in zip(texts, content)]
        return [{**upstream, "content": parts}]
