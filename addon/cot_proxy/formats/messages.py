"""Anthropic Messages (`POST …/messages`): think blocks out of its text blocks, streamed and buffered.

An answer is a list of content blocks (`text`, `thinking`, `redacted_thinking`, `tool_use`, …).
Each text block is a channel with its own think filter: strip mode removes think blocks from
it and drops the upstream's thinking and redacted_thinking blocks; reasoning mode puts its think
text in a thinking block (signature "") before the text it came from and keeps the upstream's;
inline mode shows the upstream's thinking blocks as text blocks between the first tag pair. A
text block left empty is removed. Streams: `cot_proxy.formats.messages_stream`.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from cot_proxy.formats._api import Framing
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.messages_blocks import THINKING_TYPES
from cot_proxy.formats.messages_blocks import finish_reason
from cot_proxy.formats.messages_blocks import thinking_block
from cot_proxy.formats.messages_request import append_suffix as append_suffix
from cot_proxy.formats.messages_request import error_body as error_body
from cot_proxy.formats.messages_request import rewrite_history as rewrite_history
from cot_proxy.formats.messages_stream import MessagesRewriter
from cot_proxy.formats.textparts import TEXT
from cot_proxy.formats.textparts import TextSplitter
from cot_proxy.think import ThinkConfig

if TYPE_CHECKING:
    from cot_proxy.rules import ModelRule
from cot_proxy.think_config import BLOCK_SEPARATOR

name = "messages"
framing: Framing = "sse"
done_payload: bytes | None = None  # message_stop: the rewriter finds it


def failure(message: str) -> dict[str, Any]:
    """Anthropic's mid-stream `error` event; the anthropic SDK raises on `event: error`."""
    return {"type": "error", "error": {"type": "api_error", "message": message}}


def rewriter(config: ThinkConfig, new_filter: NewFilter) -> MessagesRewriter:
    return MessagesRewriter(config, new_filter)


def filter_body(obj: Any, config: ThinkConfig, new_filter: NewFilter) -> bool:
    """A buffered message: the same rules on its `content` blocks; True when it changed."""
    if type(obj) is not dict or obj.get("type") != "message":
        return False
    content = obj.get("content")
    if type(content) is not list:
        return False
    splitter = TextSplitter(config)
    reason = finish_reason(obj.get("stop_reason"))
    blocks: list[Any] = []
    changed = False
    for channel, block in enumerate(content):
        replaced = _body_block(block, channel, config, new_filter, splitter, reason)
        if replaced is None:
            blocks.append(block)
        else:
            blocks.extend(replaced)
            changed = True
    if changed:
        content[:] = blocks
    return changed


def _body_block(
    block: Any,
    channel: int,
    config: ThinkConfig,
    new_filter: NewFilter,
    splitter: TextSplitter,
    reason: object,
) -> list[Any] | None:
    """What replaces one buffered content block (none: removed); None: it stays as it is."""
    if type(block) is not dict:
        return None
    kind, text = block.get("type"), block.get("text")
    if kind == "text" and type(text) is str and text:
        think_filter = new_filter(channel)
        parts = splitter.finish(think_filter, reason, splitter.feed(think_filter, text))
        if parts == [(TEXT, text)]:
            return None
        return [
            {**block, "text": t}
            if k == TEXT
            else {**thinking_block(), "thinking": t.removeprefix(BLOCK_SEPARATOR)}
            for k, t in parts
        ]
    thinking = block.get("thinking")
    if kind in THINKING_TYPES and config.mode == "strip":
        if kind == "thinking" and type(thinking) is str and thinking:
            new_filter(channel).note_dropped(thinking)
        return []
    if kind == "thinking" and config.mode == "inline" and type(thinking) is str:
        block = new_filter.inline(channel)
        if not thinking:
            return []  # nothing to show
        return [{"type": "text", "text": block.open_block(thinking) + block.close_block()}]
    return None


def rule_for(
    model: str, rule: ModelRule | None, match: Callable[[str], ModelRule | None]
) -> ModelRule | None:
    return rule
