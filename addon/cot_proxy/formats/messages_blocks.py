"""Anthropic Messages content blocks: the shapes (thinking blocks, deltas, the stop reason),
the roles a rewriter gives the upstream's blocks, and the client's blocks it opens and closes
(`ClientBlocks`, a base of `cot_proxy.formats.messages_stream.MessagesRewriter`). The buffered
path (`cot_proxy.formats.messages`) uses the same shapes.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.filters import ChannelFilter
from cot_proxy.formats.textparts import TEXT
from cot_proxy.formats.textparts import THINKING
from cot_proxy.formats.textparts import Part
from cot_proxy.inline import InlineBlock
from cot_proxy.think_config import BLOCK_SEPARATOR

THINKING_TYPES = ("thinking", "redacted_thinking")
ANSWER_BLOCKS = ("tool_use", "server_tool_use")  # a tool call counts as an answer (TTFA)
# Only these raw events may skip parsing: the text deltas, by far the most frequent.
DELTA_LINES = (b"event: content_block_delta", b"event:content_block_delta")
PING = {"type": "ping"}  # what Anthropic sends to keep a stream alive; the SDK skips it
THINKING_DELTAS = ("thinking_delta", "signature_delta")
UNPLACED_CHANNELS = 1 << 20  # the channel numbers of `_unplaced` text: after any block's


def finish_reason(stop_reason: object) -> object:
    """The filter's finish reason for a message's `stop_reason` ("length" when cut off)."""
    return "length" if stop_reason == "max_tokens" else stop_reason


def thinking_block() -> dict[str, Any]:
    # No signature can be made for reasoning we moved; llama.cpp sends "" for its own too.
    return {"type": "thinking", "thinking": "", "signature": ""}


# What the rewriter does with an upstream block.
PASS = "pass"  # shown as it came, at its client index
DROP = "drop"  # strip mode: upstream thinking, with all its events
CHANNEL = "channel"  # a text block: through its think filter
INLINE = "inline"  # inline mode: upstream thinking, shown as a text block between tags


class Block:
    """One upstream content block and the client block showing it now."""

    __slots__ = ("role", "client", "shown", "template", "filter", "inline", "stop")

    def __init__(self, role: str, template: dict[str, Any] | None = None) -> None:
        self.role = role
        self.client: int | None = None  # the client index of its (last) client block
        self.shown: str | None = None  # CHANNEL, INLINE: TEXT or THINKING while one is open
        self.template = template or {}  # the content_block a late start is made of
        self.filter: ChannelFilter | None = None  # CHANNEL; DROP: for `note_dropped` only
        self.inline: InlineBlock | None = None
        self.stop: dict[str, Any] | None = None  # CHANNEL: its stop, waiting for the reason


def delta_event(index: int | None, kind: str, text: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": f"{kind}_delta", kind: text},
    }


class ClientBlocks:
    """The client's content blocks: opened when they have something to show, numbered from 0
    in the order they start (the Anthropic SDK finds a block by position)."""

    _mode: str
    _blocks: dict[int, Block]  # the open upstream blocks, by upstream index
    _next_index: int  # the client's next block index
    answered: bool

    def _show(self, block: Block, parts: list[Part], out: list[Any]) -> None:
        for kind, text in parts:
            if block.shown != kind:
                self._open(block, kind, out)
                if kind == THINKING:  # a block of its own: no separator from the one before
                    text = text.removeprefix(BLOCK_SEPARATOR)
            out.append(delta_event(block.client, kind, text))
            if kind == TEXT:
                self.answered = True

    def _open(self, block: Block, kind: str, out: list[Any]) -> None:
        self._close(block, out)
        content = dict(block.template) if kind == TEXT else thinking_block()
        block.client = self._open_index()
        block.shown = kind
        out.append({"type": "content_block_start", "index": block.client, "content_block": content})

    def _close(self, block: Block, out: list[Any], stop: dict[str, Any] | None = None) -> None:
        if block.shown is None:
            return
        if block.shown == THINKING:  # a signature last, as Anthropic and llama.cpp send it
            out.append(delta_event(block.client, "signature", ""))
        stop = stop if stop is not None else {"type": "content_block_stop"}
        stop["index"] = block.client
        out.append(stop)
        block.shown = None

    def _open_index(self) -> int:
        self._next_index += 1
        return self._next_index - 1

    def _inline(self, block: Block, thinking: object, out: list[Any]) -> None:
        if type(thinking) is not str or not thinking or block.inline is None:
            return
        text = block.inline.open_block(thinking)
        if block.shown is None:
            self._open(block, TEXT, out)
        out.append(delta_event(block.client, TEXT, text))

    def _end_inline(self, block: Block, out: list[Any]) -> None:
        tail = block.inline.close_block() if block.inline is not None else ""
        if tail and block.shown is not None:
            out.append(delta_event(block.client, TEXT, tail))

    def _close_inline(self, index: int | None, out: list[Any]) -> None:
        """Inline mode: other content comes, so the end tag of any inline block still open."""
        if self._mode == "inline":
            for other, block in self._blocks.items():
                if other != index and block.role == INLINE:
                    self._end_inline(block, out)
