"""The OpenAI Responses API's output list, rewritten whole: buffered answers and the final
`response.output` of a stream.

A buffered answer (`filter_body`) is a `response` object whose `output[]` holds the items
(openai-python's `openai/types/responses/response.py`; vLLM's `responses_full_generator`,
Ollama's `ToResponse`). The stream (`cot_proxy.formats.responses`) rewrites the `response` of
its lifecycle events with the same function, saying what the client already got in place of
each item it streamed (`replaced`).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from cot_proxy.filters import Numbered
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.responses_items import INLINE_JOIN
from cot_proxy.formats.responses_items import Replacement
from cot_proxy.formats.responses_items import is_text_part
from cot_proxy.formats.responses_items import message_item
from cot_proxy.formats.responses_items import ordinal_key
from cot_proxy.formats.responses_items import reasoning_item
from cot_proxy.formats.responses_items import reasoning_text_of
from cot_proxy.think import ThinkConfig


def _filter_message(
    item: dict[str, Any], make_filter: Numbered, prefix: str, finish: object
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
    make_filter: Numbered,
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
        block = make_filter.inline()
        text = INLINE_JOIN.join(text for _, text in pending)
        pending.clear()
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
            if text := reasoning_text_of(item):
                if mode == "inline":
                    pending.append((str(item_id), text))
                else:
                    make_filter().note_dropped(text)  # recorded under mitmweb
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
    make_filter: Numbered,
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
    return rewrite_response(obj, config, Numbered(new_filter, itertools.count()))
