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
from collections.abc import Mapping
from typing import Any

from cot_proxy.events import NewFilter
from cot_proxy.inline import InlineFilter
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter

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


def _filter_message(
    item: dict[str, Any], make_filter: Callable[[], ThinkFilter], prefix: str, finish: object
) -> tuple[dict[str, Any], str]:
    """A message item with its text filtered (and `prefix` before its first text) → (item,
    think text). The item is a copy when anything changed."""
    content = item.get("content")
    if not isinstance(content, list):
        return item, ""
    parts, thinks = list(content), []
    for k, part in enumerate(parts):
        if not is_text_part(part):
            continue
        think_filter = make_filter()
        answer, think = think_filter.feed(part["text"])
        tail_answer, tail_think = think_filter.finish(finish)
        answer, think = prefix + answer + tail_answer, think + tail_think
        prefix = ""
        thinks.append(think)
        if answer != part["text"]:
            parts[k] = {**part, "text": answer}
    if prefix:  # no text part to carry it
        parts.append({"type": "output_text", "text": prefix, "annotations": []})
    if parts == content:
        return item, "".join(thinks)
    return {**item, "content": parts}, "".join(thinks)


def rewrite_output(
    output: list[Any],
    config: ThinkConfig,
    make_filter: Callable[[], ThinkFilter],
    replaced: Mapping[str, Replacement] | None = None,
    finish: object = None,
) -> list[Any] | None:
    """The client's version of an output list; None when it is the same.

    Items named in `replaced` (by id, else by `ordinal_key`) become what the stream sent in
    their place. The others:
    strip drops reasoning items and think blocks; reasoning mode puts a message's think text in
    a reasoning item before it; inline mode puts the text of reasoning items into the next
    message's first text as a think block (or, with no message next, into a message of its own
    in their place). Other items stay as they are. `finish`: "length" when the answer was cut
    short (status incomplete), for think text left unclosed by an implicit start.
    """
    mode, family = config.mode, config.responses_reasoning
    result: list[Any] = []
    ordinals: dict[str, int] = {}
    pending: list[tuple[str, str]] = []  # inline: (reasoning item id, text) awaiting a message

    def inline_block() -> str:
        block = make_filter()
        text = INLINE_JOIN.join(text for _, text in pending)
        pending.clear()
        if not isinstance(block, InlineFilter):
            return ""
        return block.open_block(text) + block.close_block()

    for item in output:
        if type(item) is not dict:
            result.append(item)
            continue
        item_id, kind = item.get("id"), item.get("type")
        ordinal = ordinals[str(kind)] = ordinals.get(str(kind), -1) + 1
        replace = None
        if replaced:
            replace = replaced.get(item_id) if type(item_id) is str else None
            replace = replace or replaced.get(ordinal_key(str(kind), ordinal))
        if replace is not None:
            result.extend(replace(item))
            continue
        if kind == "reasoning" and mode in ("strip", "inline"):
            if mode == "inline" and (text := reasoning_text_of(item)):
                pending.append((str(item_id), text))
            continue
        if kind == "message":
            prefix = inline_block() if pending else ""
            filtered, think = _filter_message(item, make_filter, prefix, finish)
            if think and mode == "reasoning":
                result.append(reasoning_item(f"rs_{item_id}", think, family))
            result.append(filtered)
            continue
        if pending:
            first_id = pending[0][0]
            result.append(message_item(f"msg_{first_id}", inline_block()))
        result.append(item)
    if pending:
        first_id = pending[0][0]
        result.append(message_item(f"msg_{first_id}", inline_block()))
    if len(result) == len(output) and all(a is b for a, b in zip(result, output)):
        return None
    return result


def output_text(output: list[Any]) -> str:
    """The `output_text` convenience field: every message's output_text, joined (as
    openai-python's `Response.output_text` computes it)."""
    texts: list[str] = []
    for item in output:
        content = (
            item.get("content") if type(item) is dict and item.get("type") == "message" else None
        )
        if isinstance(content, list):
            texts += (part["text"] for part in content if is_text_part(part))
    return "".join(texts)


def rewrite_response(
    response: Any,
    config: ThinkConfig,
    make_filter: Callable[[], ThinkFilter],
    replaced: Mapping[str, Replacement] | None = None,
) -> bool:
    """Rewrite a `response` object's output (and `output_text`) in place; True when changed."""
    if type(response) is not dict or not isinstance(response.get("output"), list):
        return False
    finish = "length" if response.get("status") == "incomplete" else None
    output = rewrite_output(response["output"], config, make_filter, replaced, finish)
    if output is None:
        return False
    response["output"] = output
    if type(response.get("output_text")) is str:
        response["output_text"] = output_text(output)
    return True


def filter_body(obj: Any, config: ThinkConfig, new_filter: NewFilter) -> bool:
    """A buffered Responses answer (a `response` object), rewritten in place."""
    if type(obj) is not dict or obj.get("object", "response") != "response":
        return False
    channels = iter(range(1 << 30))
    return rewrite_response(obj, config, lambda: new_filter(next(channels)))
