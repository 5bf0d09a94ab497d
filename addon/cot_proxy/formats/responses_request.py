"""OpenAI Responses, the request side: the suffix, the history and the error shape.

- Suffix: `input` as a string, or the last input item when it is a user message (its string
  content or its last `input_text` part); otherwise a new user message item.
- History: `to_field` puts think blocks written in an assistant message item into a `reasoning`
  input item before it; strip also removes the `reasoning` items.
- Errors: OpenAI's shape (`cot_proxy.apierror.error_body`).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import TypeGuard

from cot_proxy import history
from cot_proxy.apierror import error_body as error_body
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


def rewrite_history(body: dict[str, Any], splitter: ThinkConfig, to_field: bool) -> list[str]:
    """The `input` items (a string input is the user's)."""
    items = body.get("input")
    if not isinstance(items, list):
        return []
    kept: list[Any] = []
    changed = removed = 0
    for index, item in enumerate(items):
        if not to_field and history.block_type(item) == "reasoning":
            removed += 1
            continue
        if is_input_message(item, "assistant"):
            thought = _strip_item(item, splitter)
            if thought is not None:
                changed += 1
                if to_field and thought:
                    kept.append(_reasoning_item(index, thought))
        kept.append(item)
    if changed or removed:
        items[:] = kept
    changes = [history.summary(changed, to_field, "reasoning items")] if changed else []
    if removed:
        changes.append(f"history: {removed} reasoning item(s) removed")
    return changes


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
