"""OpenAI Responses, the request side: the suffix, the history and the error shape.

- Suffix: `input` as a string, or the last input item when it is a user message (its string
  content or its last `input_text` part); otherwise a new user message item.
- History: `to_field` puts think blocks written in an assistant message item into a `reasoning`
  input item before it; strip also removes the `reasoning` items; `to_inline` merges the
  reasoning items' text into the following assistant message item's first `output_text`.
- Errors: OpenAI's shape (`cot_proxy.apierror.error_body`).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import TypeGuard

from cot_proxy import history
from cot_proxy.apierror import error_body as error_body
from cot_proxy.formats.responses_items import reasoning_text_of
from cot_proxy.suffix import append_to_content
from cot_proxy.think_config import BLOCK_SEPARATOR
from cot_proxy.think_config import ThinkConfig

logger = logging.getLogger(__name__)

# Text parts of an assistant message item of the Responses API (input_text: lenient clients).
RESPONSES_TEXT_TYPES = ("output_text", "input_text")


def is_input_message(item: object, role: str) -> TypeGuard[dict[str, Any]]:
    """Whether a Responses input item is a message of `role` ("type" may be left out)."""
    return (
        isinstance(item, dict)
        and item.get("role") == role
        and item.get("type", "message") == "message"
    )


def append_suffix(body: dict[str, Any], suffix: str) -> str | None:
    """`input` is a string (one user message) or a list of input items."""
    items = body.get("input")
    if isinstance(items, str):
        if items.endswith(suffix):
            return None
        body["input"] = items + suffix
        return "appended suffix to input"
    if not isinstance(items, list):
        # No input at all (previous_response_id alone, say): nothing of the user's to extend.
        logger.debug("suffix not appended: input is %s", type(items).__name__)
        return None
    last = items[-1] if items else None
    if is_input_message(last, "user"):
        return append_to_content(last, suffix, "input_text")
    if not suffix.strip():
        return None
    # After a function_call_output, an assistant message, ...: a user message of its own.
    items.append({"type": "message", "role": "user", "content": suffix.lstrip()})
    return "appended suffix as a new user message"


def rewrite_history(body: dict[str, Any], treatment: history.History) -> list[str]:
    """The `input` items (a string input is the user's). An assistant turn is a run of the
    items an answer is made of (reasoning, assistant messages, tool calls); it calls tools
    when one of them is a `…_call`."""
    items = body.get("input")
    if not isinstance(items, list):
        return []
    runs = _runs(items)
    if not runs:
        return []
    last = runs[-1][0]
    kept: list[Any] = []
    counts = {"strip": 0, "to_field": 0, "to_inline": 0}
    removed = 0
    position = 0
    for start, end, calls in runs:
        kept.extend(items[position:start])
        form = treatment.form_of(calls, start == last)
        if form == "keep":
            kept.extend(items[start:end])
        elif form == "to_inline":
            removed += _inline_run(items, start, end, treatment, kept, counts)
        else:
            removed += _run(items, start, end, treatment, form, kept, counts)
        position = end
    kept.extend(items[position:])
    if len(kept) != len(items) or any(counts.values()):
        items[:] = kept
    changes = history.summaries(counts, "reasoning items")
    if removed:
        changes.append(f"history: {removed} reasoning item(s) removed")
    return changes


def _runs(items: list[Any]) -> list[tuple[int, int, bool]]:
    """(start, end, calls tools) of each run of assistant items in `items`."""
    runs: list[tuple[int, int, bool]] = []
    start = -1
    calls = False
    for index, item in enumerate([*items, None]):
        kind = history.block_type(item)
        if kind == "reasoning" or _is_call(kind) or is_input_message(item, "assistant"):
            if start < 0:
                start, calls = index, False
            calls = calls or _is_call(kind)
        elif start >= 0:
            runs.append((start, index, calls))
            start = -1
    return runs


def _is_call(kind: object) -> bool:
    # function_call, custom_tool_call, web_search_call, ...; not their outputs
    return isinstance(kind, str) and kind.endswith("_call")


def _run(
    items: list[Any],
    start: int,
    end: int,
    treatment: history.History,
    form: str,
    kept: list[Any],
    counts: dict[str, int],
) -> int:
    """One turn in strip or to_field form, onto `kept`; how many reasoning items it removed."""
    removed = 0
    for index in range(start, end):
        item = items[index]
        if form == "strip" and history.block_type(item) == "reasoning":
            removed += 1
            continue
        if is_input_message(item, "assistant"):
            thought = _strip_item(item, treatment.splitter)
            if thought is not None:
                counts[form] += 1
                if form == "to_field" and thought:
                    kept.append(_reasoning_item(index, thought))
        kept.append(item)
    return removed


def _inline_run(
    items: list[Any],
    start: int,
    end: int,
    treatment: history.History,
    kept: list[Any],
    counts: dict[str, int],
) -> int:
    """One turn in to_inline form, onto `kept`: the text of its reasoning items goes into the
    next assistant message's first text as a think block, or into a message item of ours in
    their place when a tool call or the end of the turn comes next. How many reasoning items
    it removed that had no text to move (encrypted only)."""
    removed = 0
    pending: list[str] = []
    for index in range(start, end + 1):
        item = items[index] if index < end else None
        if isinstance(item, dict) and item.get("type") == "reasoning":
            text = reasoning_text_of(item)
            if text:
                pending.append(text)
            else:
                removed += 1
            continue
        if pending:
            block = treatment.block(pending)
            pending = []
            counts["to_inline"] += 1
            if is_input_message(item, "assistant"):
                _inline_item(item, block, treatment)
            else:
                kept.append({"type": "message", "role": "assistant", "content": block})
        if item is not None:
            kept.append(item)
    return removed


def _inline_item(item: dict[str, Any], block: str, treatment: history.History) -> None:
    """`block` before the text of an assistant message item (a string, or its first text
    part; a new part when it has none), unless its text holds a think block already."""
    content = item.get("content")
    if isinstance(content, str) or content is None:
        text = content or ""
        if not history.split(text, treatment.splitter):
            item["content"] = history.before_text(block, text)
        return
    if not isinstance(content, list):
        return
    texts = [p for p in content if history.is_text(p, RESPONSES_TEXT_TYPES)]
    if any(history.split(p["text"], treatment.splitter) for p in texts):
        return
    if texts:
        texts[0]["text"] = history.before_text(block, texts[0]["text"])
    else:
        content.insert(0, {"type": "output_text", "text": block, "annotations": []})


def _strip_item(item: dict[str, Any], splitter: ThinkConfig) -> str | None:
    """Think blocks removed from an assistant message item; their text, None if it had none."""
    content = item.get("content")
    if isinstance(content, str):
        if found := history.split(content, splitter):
            item["content"], thought = found
            return thought
        return None
    if not isinstance(content, list):
        return None
    thoughts: list[str] = []
    for part in content:
        if history.is_text(part, RESPONSES_TEXT_TYPES) and (
            found := history.split(part["text"], splitter)
        ):
            part["text"], thought = found
            thoughts.append(thought)
    return BLOCK_SEPARATOR.join(t for t in thoughts if t) if thoughts else None


def _reasoning_item(index: int, thought: str) -> dict[str, Any]:
    # `id` and `summary` are required by the input item's schema (openai's
    # ResponseReasoningItemParam); servers that read the item back (vLLM) take its text from
    # `content`. The id is derived from the message's place, so a resent history is the same.
    return {
        "type": "reasoning",
        "id": f"rs_cot_proxy_{index}",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": thought}],
    }
