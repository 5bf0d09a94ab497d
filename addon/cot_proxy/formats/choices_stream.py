"""The chat and completions stream rewriter: each choice's text through its filter, in place.

Only answer text changes (the shape says where it is: `cot_proxy.formats.choices`). Every other
field passes through unchanged; events left unmodified keep their original bytes. Held text at
the end of a channel (a cut-off tag, an open block, implicit-start text): when the event that
finishes the channel arrives, the filter is finished and the released text merged into that
same event (answer text appended, think text in the reasoning field), so it reaches the client
before the finish. Channels never finished are released at the done event (`[DONE]`) or the end
of the stream, in a new event built from the channel's last event (`event:` lines kept, `id:`
not). A modified event left with no text and nothing else worth sending is dropped; when a sign
of life is due, it goes out with its empty text instead (`heartbeat`).

Two fast paths keep the usual mid-answer chunk cheap: `chunk` lets a whole chunk out
unframed when nothing is held and no byte of it can change state; `passes` does the same per
event. Events that passed unparsed never reached the filters: before text that may open a block,
a filter is told how the answer sent so far ends (`_catch_up`), for the whitespace rule.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any
from typing import Protocol

from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.filters import ChannelFilter
from cot_proxy.filters import Filters
from cot_proxy.formats._api import SAME
from cot_proxy.formats._api import Framer
from cot_proxy.jsonbytes import BACKSLASH
from cot_proxy.jsonbytes import decode_json
from cot_proxy.jsonbytes import encode_json
from cot_proxy.jsonbytes import needles_for
from cot_proxy.jsonbytes import split_escaped
from cot_proxy.sse import DEFAULT_MAX_EVENT_BYTES
from cot_proxy.sse import SSEFramer
from cot_proxy.sse_event import EventSource
from cot_proxy.sse_event import read_event
from cot_proxy.tags import TagMatcher
from cot_proxy.think_config import ThinkConfig

# (channel, text container or None, finish_reason) per choice: see WireFormat.event_channels.
Channels = list[tuple[int, dict[str, Any] | None, Any]]

_NO_CHANGE = Change.NONE  # a plain name: compared by identity once or more per event


class WireFormat(Protocol):
    """What the choices rewriter and the body path need to know about one choice shape."""

    @property
    def name(self) -> str:
        """The endpoint it belongs to, for logs: "chat", "completions"."""
        ...

    @property
    def text_key(self) -> str:
        """The key of the answer text in a text container."""
        ...

    @property
    def upstream_reasoning_fields(self) -> tuple[str, ...]:
        """Container keys where servers already put reasoning they split off (strip mode deletes
        them, with the configured reasoning field; reasoning mode appends to the latter)."""
        ...

    @property
    def done_payload(self) -> bytes | None:
        """The (non-JSON) event data that ends a stream: all held text is released before it."""
        ...

    def event_channels(self, obj: Any) -> Channels | None: ...

    def body_containers(self, obj: Any) -> list[tuple[dict[str, Any], Any]] | None: ...

    def carries_nothing(self, obj: dict[str, Any]) -> bool: ...

    def released_event(
        self, last: dict[str, Any], channel: int, answer: str, think: str, reasoning_field: str
    ) -> dict[str, Any]: ...

    def failure(self, message: str) -> bytes: ...

    def channels_known(self, raw: bytes, known: Container[int]) -> bool: ...


class ChoicesRewriter:
    """One streamed chat or completions answer (`cot_proxy.formats._api.Rewriter`)."""

    finished = False  # the conductor watches the bytes for the done event

    def __init__(self, shape: WireFormat, config: ThinkConfig, filters: Filters) -> None:
        self._shape = shape
        self.config = config
        self._make = filters
        self._step = ChannelStep(config, shape)
        # What may open a block or an answer wrapper (whitespace after it may be dropped).
        self._starts = TagMatcher(start for start, _ in (*config.tags, *config.unwrap))
        self._implicit = config.implicit_start and config.mode != "inline"
        self._inline = config.mode == "inline"
        self._filters: dict[int, ChannelFilter] = {}  # by channel
        # The last event of each channel, parsed: the template for events released for it.
        self._last: dict[int, tuple[dict[str, Any], EventSource]] = {}
        # The escaped spellings of tag characters apart: searched only where a backslash is.
        self._needles, self._escaped = split_escaped(self._fast_path_needles())
        self._idle = True  # every channel filter idle: the fast paths are open
        # What the previous call sent and what this call sends (the conductor's list): answer
        # text the filters did not see (fast paths) is looked up there when a block starts.
        self._recent: list[bytes] = []
        self._out: list[bytes] = []
        self._max_event_bytes = DEFAULT_MAX_EVENT_BYTES  # the framer's, for `_last_text`
        # This call's chunk: when nothing was held before it, every event lies inside it, and
        # one scan of it answers `passes` for all of them.
        self._chunk = b""  # b"" also when the framer held bytes before it
        self._chunk_clean: bool | None = None
        self._dropped: tuple[dict[str, Any], EventSource] | None = None  # for `heartbeat`
        self.answered = False  # answer text (or a tool call) went out, after any think block

    def _fast_path_needles(self) -> tuple[bytes | int, ...]:
        step = self._step
        # An opening quote and the key: '"reasoning' then covers "reasoning_content" too.
        needles = [b'"' + key.encode("utf-8") for key in step.drop_keys]
        needles += [b'"' + key.encode("utf-8") for key in step.inline_keys]
        # Reasoning mode: another field to rename (exact key: '"reasoning"' must not catch
        # '"reasoning_content"'), or with "both" any reasoning, to copy.
        needles += [b'"' + key.encode("utf-8") + b'"' for key in step.rename_keys]
        # Reasoning mode: the upstream's own reasoning, which a later block of ours is set apart
        # from (`ThinkFilter.note_reasoning`).
        needles += [b'"' + key.encode("utf-8") + b'"' for key in step.upstream_keys]
        if len(step.think_keys) > 1:
            needles += [b'"' + key.encode("utf-8") for key in step.think_keys]
        return needles_for(self.config, tuple(needles))

    # -- what the conductor asks -----------------------------------------------------------------

    def chunk(self, data: bytes, out: list[bytes], framer: Framer) -> bool:
        """A chunk arrives (b"": the end). True: it can go out as it came, not even framed, as
        `out` (the usual chunk mid-answer): nothing is held (filters idle, the framer at an event
        start), it ends on an event boundary and no byte of it can change state (no needle);
        never with implicit_start, where any event may open a new channel, nor before the first
        answer text (it is noted). Else the conductor frames it, and `out` is what this call
        sends, filled as it goes (`_catch_up` looks there)."""
        if self._out:
            self._recent = self._out
        self._out = out
        if (
            self._idle
            and self.answered
            and not self._implicit
            and framer.at_event_start
            and data.endswith(b"\n\n")
        ):
            for needle in self._needles:
                if needle in data:
                    break
            else:
                if BACKSLASH not in data:
                    return True
                for needle in self._escaped:
                    if needle in data:
                        break
                else:
                    return True
        self._max_event_bytes = framer.max_event_bytes
        self._chunk = b"" if framer.buffered_bytes else data
        self._chunk_clean = None
        return False

    def passes(self, raw: bytes) -> bool:
        # Idle fast path: an event in which nothing can change goes out unparsed.
        if not (self._idle and self.answered):
            return False
        if self._chunk:
            clean = self._chunk_clean
            if clean is None:
                clean = self._chunk_clean = self.passes_tail(self._chunk)
            clean = clean or self.passes_tail(raw)
        else:
            clean = self.passes_tail(raw)
        return clean and (not self._implicit or self._shape.channels_known(raw, self._filters))

    def passes_tail(self, raw: bytes) -> bool:
        """True when `raw` holds no tag start character (in any JSON spelling) and, in strip
        mode, no reasoning key: such bytes cannot change while the filters are idle."""
        for needle in self._needles:
            if needle in raw:
                return False
        if BACKSLASH in raw:
            for needle in self._escaped:
                if needle in raw:
                    return False
        return True

    def event(self, obj: Any, source: Any = None) -> list[Any] | None:
        """One event through the filters of its channels: sent as it came, rebuilt, or dropped
        (events released for channels that finish without a container go out before it)."""
        channels = self._shape.event_channels(obj)
        if channels is None:
            return None
        released: list[Any] = []
        changes = _NO_CHANGE
        transcript = self._make.transcript
        last = (obj, source)
        for channel, container, finish in channels:
            think_filter = self._filters.get(channel)
            if think_filter is None:
                think_filter = self._filters[channel] = self._make(channel)
            # Its own filter idle, whatever the others do: this channel's events may have
            # passed unparsed while all were idle, before another one began to hold text.
            if container is not None and think_filter.idle:
                self._catch_up(channel, think_filter, container, released)
            self._last[channel] = last
            if container is not None:
                if transcript is not None:
                    transcript.add_dropped(channel, container, self._step.drop_keys)
                change = self._step.apply(think_filter, container, finish)
                if change is not _NO_CHANGE:  # a Flag's "|" runs Python code: not for one channel
                    changes = change if changes is _NO_CHANGE else changes | change
                if not self.answered and (not self._inline or think_filter.idle):
                    self._answered(container)  # inline: not while the text is reasoning
            elif finish is not None:
                # Nowhere to merge held text into: send it in its own event just before.
                self._release(channel, think_filter, released, finish)
        self._idle = self._all_idle()
        if changes is _NO_CHANGE:
            return [*released, SAME] if released else None
        if Change.GAVE_TEXT in changes or not self._shape.carries_nothing(obj):
            released.append(obj)
        elif not released:
            self._dropped = last  # nothing left to say: a heartbeat, if one is due
        return released

    def heartbeat(self) -> Any | None:
        """The event just dropped, with its empty text: a sign of life every client reads."""
        assert self._dropped is not None
        obj, source = self._dropped
        return source.with_data(encode_json(obj))

    def end(self) -> list[Any]:
        """Release what every channel still holds (at the done event or end of stream)."""
        released: list[Any] = []
        for channel in sorted(self._filters):
            self._release(channel, self._filters[channel], released)
        self._idle = self._all_idle()
        return released

    # -- per channel ----------------------------------------------------------------------------

    def _answered(self, container: dict[str, Any]) -> None:
        """Note the first answer text (or tool call) this stream sends."""
        text = container.get(self._step.text_key)
        if (
            (type(text) is str and text)
            or container.get("tool_calls")
            or container.get("function_call")
        ):
            self.answered = True

    def _catch_up(
        self,
        channel: int,
        think_filter: ChannelFilter,
        container: dict[str, Any],
        released: list[Any],
    ) -> None:
        """Before text that may open a block, tell the filter how the answer sent so far ends:
        events passed unparsed (fast paths) never reached it."""
        text = container.get(self._step.text_key)
        if type(text) is not str or self._starts.absent_from(text):
            return
        # This call's events, then the previous call's.
        for raw in reversed(self._recent + self._out + released):
            last = self._last_text(raw, channel)
            if last:
                think_filter.note_answer(last)
                return

    def _last_text(self, raw: bytes, channel: int) -> str | None:
        """The last non-empty text of `channel` in `raw` (one event or a chunk of whole ones)."""
        found = None
        done = self._shape.done_payload
        # Flushed: an event ending in a lone CR is held by a framer waiting for a possible LF.
        framer = SSEFramer(self._max_event_bytes)
        for event in [*framer.feed(raw), *framer.flush()]:
            payload, _ = read_event(event) if type(event) is bytes else (None, None)
            try:
                obj = decode_json(payload) if payload and payload != done else None
            except (ValueError, RecursionError):
                continue
            for index, container, _ in self._shape.event_channels(obj) or ():
                text = container.get(self._step.text_key) if container is not None else None
                if index == channel and type(text) is str and text:
                    found = text
        return found

    def _all_idle(self) -> bool:
        for think_filter in self._filters.values():
            if not think_filter.idle:
                return False
        return True

    def _release(
        self,
        channel: int,
        think_filter: ChannelFilter,
        released: list[Any],
        finish: object = None,
    ) -> None:
        answer, think = think_filter.finish(finish)
        if answer:
            self.answered = True
        if answer or think:
            last, source = self._last[channel]
            event = self._shape.released_event(
                last, channel, answer, think, self.config.reasoning_field
            )
            released.append(source.derive(encode_json(event)))
