"""The Anthropic Messages stream rewriter: content block events in, the client's events out.

Streamed, `content_block_start` opens a block, `content_block_delta` events fill it and
`content_block_stop` closes it, each naming it by `index`; `message_delta` (stop reason, usage)
and `message_stop` end the message. Servers may keep several blocks open at once (llama.cpp
closes them all at the end). The Anthropic SDK appends a block at each start and finds a
delta's block by position (anthropic/lib/streaming/_messages.py, `accumulate_event`; newer
versions reject a start at any other index), so the indices the client sees count its starts
from 0, exactly, whatever is dropped or inserted: they are handed out as client blocks start.

Each upstream text block is a channel with its own think filter. Its client blocks open only
when they have something to show: a text block at its first answer text (a text block that held
only a think block is never sent), and in reasoning mode a thinking block at its first think
text, closed when answer text follows, so that the thinking comes before the text it came from.
Upstream thinking blocks are dropped (strip), kept (reasoning) or shown as a text block between
the first tag pair (inline), whose end tag goes out as soon as other content does.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.filters import ChannelFilter
from cot_proxy.formats._api import SAME
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.messages_blocks import ANSWER_BLOCKS
from cot_proxy.formats.messages_blocks import CHANNEL
from cot_proxy.formats.messages_blocks import DELTA_LINES
from cot_proxy.formats.messages_blocks import DROP
from cot_proxy.formats.messages_blocks import INLINE
from cot_proxy.formats.messages_blocks import PASS
from cot_proxy.formats.messages_blocks import PING
from cot_proxy.formats.messages_blocks import THINKING_DELTAS
from cot_proxy.formats.messages_blocks import THINKING_TYPES
from cot_proxy.formats.messages_blocks import UNPLACED_CHANNELS
from cot_proxy.formats.messages_blocks import Block
from cot_proxy.formats.messages_blocks import ClientBlocks
from cot_proxy.formats.messages_blocks import delta_event
from cot_proxy.formats.messages_blocks import finish_reason
from cot_proxy.formats.textparts import TEXT
from cot_proxy.formats.textparts import TextSplitter
from cot_proxy.jsonbytes import BACKSLASH
from cot_proxy.jsonbytes import decode_json
from cot_proxy.jsonbytes import needles_for
from cot_proxy.jsonbytes import split_escaped
from cot_proxy.sse_event import read_event
from cot_proxy.think import ThinkConfig


class MessagesRewriter(ClientBlocks):
    """One streamed Messages answer: a `cot_proxy.formats._api.Rewriter`."""

    def __init__(self, config: ThinkConfig, new_filter: NewFilter) -> None:
        self._mode = config.mode
        self._new_filter = new_filter
        self._splitter = TextSplitter(config)
        self._blocks: dict[int, Block] = {}  # the open upstream blocks, by upstream index
        self._next_index = 0  # the client's next block index
        # The stop reason comes in message_delta, after the blocks' stops; a block that
        # implicit_start holds whole waits for it ("auto": cut off by max_tokens = thinking).
        self._needs_reason = config.implicit_start and config.implicit_unclosed == "auto"
        # Inline mode leaves the model's text alone: no text delta needs parsing. Strip mode:
        # while plain, thinking is of no block of ours, to drop.
        self._needles, self._escaped = split_escaped(
            needles_for(config, (b'"thinking_delta"',) if self._mode == "strip" else ())
        )
        self._plain = True  # every open block shown as it came, at its own index
        # Strip mode: the filters of text the stream has no place for (`_unplaced`), by index.
        self._unplaced_filters: dict[object, ChannelFilter] = {}
        self._passed: bytes | None = None  # the last text delta passed raw (`_catch_up`)
        self.answered = False
        self.finished = False

    def passes(self, raw: bytes) -> bool:
        # Only a delta, while every open block is shown as it came at its own index (a text
        # block shown has answered already), with no character that may begin a tag.
        if not (self._plain and raw.startswith(DELTA_LINES)):
            return False
        for needle in self._needles:
            if needle in raw:
                return False
        if BACKSLASH in raw:  # the escaped spellings of a tag character
            for needle in self._escaped:
                if needle in raw:
                    return False
        self._passed = raw
        return True

    passes_tail = passes

    def event(self, obj: Any, source: Any = None) -> list[Any] | None:
        if type(obj) is not dict:
            return None
        kind = obj.get("type")
        if kind == "content_block_delta":
            out = self._delta(obj)
        elif kind == "content_block_start":
            out = self._start(obj)
        elif kind == "content_block_stop":
            out = self._stop(obj)
        elif kind == "message_delta":
            delta = obj.get("delta")
            reason = delta.get("stop_reason") if type(delta) is dict else None
            out = self._before(obj, self._release(finish_reason(reason)))
        elif kind in ("message_stop", "error"):
            self.finished = self.finished or kind == "message_stop"
            out = self._before(obj, self._release(None))
        else:  # ping, message_start, unknown: nothing to do
            return None
        self._plain = self._is_plain()
        return out

    def end(self) -> list[Any]:
        out = self._release(None)
        self._plain = self._is_plain()
        return out

    def heartbeat(self) -> Any | None:
        return dict(PING)

    # -- the events of one block ---------------------------------------------------------------

    def _start(self, obj: dict[str, Any]) -> list[Any] | None:
        index, content = obj.get("index"), obj.get("content_block")
        if type(content) is not dict:
            return None
        if type(index) is not int:
            return self._unplaced(obj, content)
        out: list[Any] = []
        self._close_inline(index, out)
        kind = content.get("type")
        text = content.get("text")
        if kind == "text" and type(text) is str:
            block = self._blocks[index] = Block(CHANNEL, {**content, "text": ""})
            block.filter = self._new_filter(index)
            self._show(block, self._splitter.feed(block.filter, text), out)  # usually ""
            return out  # the start itself waits for the first text to show
        if kind in THINKING_TYPES and self._mode == "strip":
            block = self._blocks[index] = Block(DROP)
            if kind == "thinking":  # redacted_thinking has no text to note
                block.filter = self._new_filter(index)
                self._note_dropped(block, content.get("thinking"))
            return out
        if kind == "thinking" and self._mode == "inline":
            block = self._blocks[index] = Block(INLINE, {"type": "text", "text": ""})
            block.inline = self._new_filter.inline(index)
            self._inline(block, content.get("thinking"), out)
            return out
        block = self._blocks[index] = Block(PASS)
        block.client = self._open_index()
        if kind in ANSWER_BLOCKS:
            self.answered = True
        obj["index"] = block.client
        out.append(obj)
        return self._result(obj, index, out)

    def _delta(self, obj: dict[str, Any]) -> list[Any] | None:
        index, delta = obj.get("index"), obj.get("delta")
        if type(delta) is not dict:
            return None
        if type(index) is not int or index not in self._blocks:
            return self._unplaced(obj, delta)
        block = self._blocks[index]
        out: list[Any] = []
        self._close_inline(index, out)
        if block.role == DROP:
            if delta.get("type") == "thinking_delta":
                self._note_dropped(block, delta.get("thinking"))
            return out
        if block.role == INLINE:
            if delta.get("type") == "thinking_delta":
                self._inline(block, delta.get("thinking"), out)
            return out  # a signature has no place in text
        text = delta.get("text")
        if block.role == PASS or delta.get("type") != "text_delta" or type(text) is not str:
            if block.role == CHANNEL and block.shown != TEXT:  # a citation: for the text
                self._open(block, TEXT, out)
            obj["index"] = block.client
            out.append(obj)
            return self._result(obj, index, out)
        assert block.filter is not None
        self._catch_up(index, block.filter, text)
        mark = len(out)
        self._show(block, self._splitter.feed(block.filter, text), out)
        for i in range(mark, len(out)):  # the event itself carries the first text part
            event = out[i]
            if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                obj["index"], delta["text"] = event["index"], event["delta"]["text"]
                out[i] = obj
                break
        return self._result(obj, index, out, text)

    def _stop(self, obj: dict[str, Any]) -> list[Any] | None:
        index = obj.get("index")
        if type(index) is not int or index not in self._blocks:
            return None
        block = self._blocks[index]
        out: list[Any] = []
        self._close_inline(index, out)
        if block.role == CHANNEL and self._needs_reason and block.filter and not block.filter.idle:
            block.stop = obj  # goes out with the held text, at message_delta
            return out
        del self._blocks[index]
        if block.role == PASS:
            obj["index"] = block.client
            out.append(obj)
        elif block.role == INLINE:
            self._end_inline(block, out)
            self._close(block, out, obj)
        elif block.role == CHANNEL:
            assert block.filter is not None
            self._show(block, self._splitter.finish(block.filter, None, []), out)
            self._close(block, out, obj)
        return self._result(obj, index, out)

    def _release(self, reason: object) -> list[Any]:
        """Before the message's end: all held text, and the stops that waited for it."""
        out: list[Any] = []
        self._close_inline(None, out)
        for slot, think_filter in self._unplaced_filters.items():
            answer, _ = think_filter.finish(reason)
            if answer:
                out.append(delta_event(slot if type(slot) is int else None, TEXT, answer))
        self._unplaced_filters.clear()
        for index, block in list(self._blocks.items()):
            if block.role != CHANNEL or block.filter is None:
                continue
            if block.stop is None and block.filter.idle:
                continue
            self._show(block, self._splitter.finish(block.filter, reason, []), out)
            if block.stop is not None:
                self._close(block, out, block.stop)
                del self._blocks[index]
        return out

    def _unplaced(self, obj: dict[str, Any], holder: dict[str, Any]) -> list[Any] | None:
        """An event the model of the stream has no place for (a delta of a block that never
        started or has stopped, an index that is no int): `holder` is its content block or
        delta. Other modes pass it as it came: they hide nothing. Strip mode drops thinking,
        and still filters text, with a filter per upstream index (released at the message's
        end), so that no think text passes: the event goes out with the answer text left
        (a delta with none is dropped), its index as it came."""
        if self._mode != "strip":
            return None
        kind = holder.get("type")
        if kind in THINKING_TYPES or kind in THINKING_DELTAS:
            return []
        text = holder.get("text")
        if type(text) is not str:
            return None
        answer, _ = self._unplaced_filter(obj.get("index")).feed(text)
        if answer == text:
            return None
        if not answer and obj.get("type") == "content_block_delta":
            return []
        holder["text"] = answer
        return [obj]

    def _unplaced_filter(self, index: object) -> ChannelFilter:
        slot = index if type(index) in (int, str) else None
        think_filter = self._unplaced_filters.get(slot)
        if think_filter is None:
            think_filter = self._new_filter(UNPLACED_CHANNELS + len(self._unplaced_filters))
            self._unplaced_filters[slot] = think_filter
        return think_filter

    @staticmethod
    def _note_dropped(block: Block, thinking: object) -> None:
        """Strip mode: the upstream's thinking text, for the block's filter to record."""
        if block.filter is not None and type(thinking) is str and thinking:
            block.filter.note_dropped(thinking)

    # -- bookkeeping ---------------------------------------------------------------------------

    @staticmethod
    def _before(obj: dict[str, Any], out: list[Any]) -> list[Any] | None:
        return [*out, SAME] if out else None

    @staticmethod
    def _result(
        obj: dict[str, Any], index: int, out: list[Any], text: str | None = None
    ) -> list[Any] | None:
        """`out`, with the event's own bytes where it went out unchanged (None: only them)."""
        for i, event in enumerate(out):
            if event is obj:
                delta = obj.get("delta")
                if obj.get("index") == index and (
                    text is None or (type(delta) is dict and delta.get("text") == text)
                ):
                    out[i] = SAME
                break
        return None if out == [SAME] else out

    def _catch_up(self, index: int, think_filter: ChannelFilter, text: str) -> None:
        """Before text that may hold a tag, tell the filter how the answer it did not see (text
        deltas passed raw) ends: the whitespace rule after a block depends on it."""
        passed, self._passed = self._passed, None
        if passed is None or not any(char in text for char in self._splitter.first_chars):
            return
        payload, _ = read_event(passed)
        try:
            obj = decode_json(payload) if payload else None
        except (ValueError, RecursionError):
            return
        delta = obj.get("delta") if type(obj) is dict and obj.get("index") == index else None
        if type(delta) is dict and type(delta.get("text")) is str:
            think_filter.note_answer(delta["text"])

    def _is_plain(self) -> bool:
        for think_filter in self._unplaced_filters.values():
            if not think_filter.idle:
                return False
        for index, block in self._blocks.items():
            if block.client != index or block.stop is not None:
                return False
            if block.role == CHANNEL:
                if block.shown != TEXT or block.filter is None or not block.filter.idle:
                    return False
            elif block.role != PASS:
                return False
        return True
