"""Think-block removal on a Server-Sent Events answer: the per-flow mitmproxy stream callable.

Only answer text changes (its wire format says where it is: `cot_proxy.formats`). Every other
field, line and event passes through unchanged and in order; events left unmodified keep their
original bytes. Buffered JSON answers go through `cot_proxy.body` instead.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.events import failure_message
from cot_proxy.filters import ChannelFilter
from cot_proxy.filters import Filters
from cot_proxy.formats import WireFormat
from cot_proxy.jsonbytes import decode_json
from cot_proxy.jsonbytes import encode_json
from cot_proxy.jsonbytes import needles_for
from cot_proxy.sse import DEFAULT_MAX_EVENT_BYTES
from cot_proxy.sse import EventSource
from cot_proxy.sse import OversizedChunk
from cot_proxy.sse import SSEFramer
from cot_proxy.sse import read_event
from cot_proxy.tags import TagMatcher
from cot_proxy.think import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript

logger = logging.getLogger(__name__)

_NO_CHANGE = Change.NONE  # a plain name: compared by identity once or more per event
_DONE_LOOKBACK = 64  # bytes at a chunk's end searched for the done event


class ThinkStream:
    """Per-flow stream callable (`flow.response.stream`): frames SSE, runs each event's channels
    through their think filters, re-emits the events.

    The contract, set by mitmproxy (`Message.stream` in mitmproxy/http.py; the example
    examples/addons/http-stream-modify.py): the callable gets every body chunk as it arrives, cut
    anywhere (inside an event, a tag, a UTF-8 character), then once b"" at the end of the body,
    to flush. It returns a list of chunks, never b"" and never a list containing b"": on HTTP/1
    an empty chunk goes out as the chunked terminator, and the client stops reading there. It
    never raises. After an unexpected error, or an event bigger than `max_event_bytes`, the
    stream cannot be filtered any more: strip mode fails closed (`cut`: the text the filters
    hold, which is filtered, best effort; then the format's error event, `data: {"error": …}`;
    then nothing, the rest of the upstream's body is dropped); the other modes hide nothing and
    switch to raw pass-through (held text flushed first, best effort).

    Held text at the end of a channel (a cut-off tag, an open block, implicit-start text): when
    the event that finishes the channel arrives, the filter is finished and the released text
    merged into that same event (answer text appended, think text in the reasoning field), so it
    reaches the client before the finish. Channels never finished are released when the stream's
    done event (`[DONE]`) arrives, or at end of stream (before any unterminated tail, which strip
    mode drops unless no byte of it can change: not a whole event, it cannot be filtered), in a new
    event built by the format from the channel's last event (`event:` lines kept, `id:` not).

    A modified event left with no text and nothing else worth sending is dropped, unless nothing
    was emitted for `heartbeat_seconds`; then it goes out with its empty text as a sign of life.

    For the log line and the metrics it records, at little cost: `first_answer_at`, when the
    first answer text (or tool call) went out, after any think block (until then the fast paths
    stay shut, so those few events are parsed; in keep mode and pass-through, the first byte);
    and `done_sent`, whether the format's done event went out (one look at the end of each
    returned chunk), after which the client has the whole answer.
    """

    def __init__(
        self,
        config: ThinkConfig,
        fmt: WireFormat,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_seconds: float = 5.0,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
        transcript: Transcript | None = None,
    ) -> None:
        self.config = config
        self.format = fmt
        self._clock = clock
        self._heartbeat_seconds = heartbeat_seconds
        self._framer = SSEFramer(max_event_bytes)
        self._step = ChannelStep(config, fmt)
        # What may open a block or an answer wrapper (whitespace after it may be dropped).
        self._starts = TagMatcher(start for start, _ in (*config.tags, *config.unwrap))
        self._implicit = config.implicit_start and config.mode != "inline"
        self._inline = config.mode == "inline"
        self._done = fmt.done_payload
        self._filters: dict[int, ChannelFilter] = {}  # by channel
        self._made = Filters(config, transcript, max_held_chars)
        # The last event of each channel, parsed: the template for events released for it.
        self._last: dict[int, tuple[dict[str, Any], EventSource]] = {}
        self._needles = self._fast_path_needles()
        self._idle = True  # every channel filter idle: the fast paths are open
        # What the previous call sent: answer text the filters did not see (fast paths) is
        # looked up there when a block starts, for the whitespace rule (`_catch_up`).
        self._recent: list[bytes] = []
        self._last_output_at = clock()
        # Bytes pass as they come: keep mode changes nothing; then also after a fall-back.
        self._raw = config.mode == "keep"
        self.passthrough = False  # fell back to raw pass-through
        self.cut = False  # strip mode failed closed: the answer ended with an error event
        self._owed: list[bytes] = []  # `refuse`: what the first call sends
        # mitmweb's view: every event is parsed (no fast paths) so that its text is recorded.
        self.transcript = transcript
        self._record = transcript is not None
        self.fallback_reason: str | None = None
        self.first_answer_at: float | None = None  # time.time() of the first answer text sent
        self.done_sent = False  # the done event (`[DONE]`) went out: the client has it all
        # How a chunk ending in the done event ends, per line-ending style (none: no done event).
        self._done_ends: tuple[bytes, ...] = (
            tuple(self._done + end for end in (b"\n\n", b"\r\n\r\n", b"\r\r"))
            if self._done is not None
            else ()
        )
        self._done_lines = (b"data:" + (self._done or b""), b"data: " + (self._done or b""))

    @property
    def think_chars(self) -> int:
        return sum(f.think_chars for f in self._filters.values())

    @property
    def think_blocks(self) -> int:
        return sum(f.blocks for f in self._filters.values())

    def _fast_path_needles(self) -> tuple[bytes | int, ...]:
        # Inline mode leaves the text alone: only reasoning fields can change an event.
        # An opening quote and the key: '"reasoning' then covers "reasoning_content" too.
        needles = [b'"' + key.encode("utf-8") for key in self._step.drop_keys]
        needles += [b'"' + key.encode("utf-8") for key in self._step.inline_keys]
        # Reasoning mode: another field to rename (exact key: '"reasoning"' must not catch
        # '"reasoning_content"'), or with "both" any reasoning, to copy.
        needles += [b'"' + key.encode("utf-8") + b'"' for key in self._step.rename_keys]
        # Reasoning mode: the upstream's own reasoning, which a later block of ours is set apart
        # from (`ThinkFilter.note_reasoning`).
        needles += [b'"' + key.encode("utf-8") + b'"' for key in self._step.upstream_keys]
        if len(self._step.think_keys) > 1:
            needles += [b'"' + key.encode("utf-8") for key in self._step.think_keys]
        return needles_for(self.config, tuple(needles))

    # -- mitmproxy entry point -----------------------------------------------------------------

    def __call__(self, data: bytes) -> list[bytes]:
        if self.cut:
            owed, self._owed = self._owed, []
            return owed
        if self._raw:
            if not data:
                return []
            if self.first_answer_at is None:
                self.first_answer_at = time.time()
            if not self.done_sent:
                self._note_done(data)
            return [data]
        if not self._record and self._passes_whole(data):
            # The usual chunk mid-answer: `_sent` inlined, this runs once per network chunk.
            self._last_output_at = self._clock()
            self._recent = whole = [data]
            if not self.done_sent and data.endswith(self._done_ends):
                self._note_done(data)
            return whole
        out: list[bytes] = []
        events: list[bytes] = []
        position = 0
        try:
            held_before = self._framer.buffered_bytes
            events = self._framer.feed(data) if data else self._framer.flush()
            data_clean: bool | None = None
            for position, raw in enumerate(events):
                if type(raw) is not bytes:  # sse.Unframed: not one complete event
                    if isinstance(raw, OversizedChunk):
                        logger.warning(
                            "SSE event larger than %d bytes; %s",
                            self._framer.max_event_bytes,
                            self._giving_up,
                        )
                        self._fall_back(out, events[position:], "oversized event")
                        return self._sent(out)
                    self._release_all(out)  # before the unterminated tail, not after it
                    if self.config.mode != "strip" or self._clean(raw):
                        # Strip drops one that may hold think text: not a whole event, so not
                        # filtered, and no SSE client dispatches an event never ended.
                        out.append(raw)
                    continue
                if self._idle and not self._record and self.first_answer_at is not None:
                    # Idle fast path: an event in which nothing can change goes out unparsed.
                    # All events but the first lie wholly inside `data`, and so does the first
                    # unless the framer held bytes of it: one scan of `data` answers for them.
                    if data and (position or not held_before):
                        if data_clean is None:
                            data_clean = self._clean(data)
                        clean = data_clean or self._clean(raw)
                    else:
                        clean = self._clean(raw)
                    if clean and (
                        not self._implicit or self.format.channels_known(raw, self._filters)
                    ):
                        out.append(raw)
                        continue
                self._filter_event(raw, out)
            if not data:
                self._release_all(out)
        except Exception as exc:  # never raise into mitmproxy: fall back instead
            # No body content in the log: only the exception type; traceback at debug level.
            logger.error("think filter failed (%s); %s", type(exc).__name__, self._giving_up)
            logger.debug("think filter failure", exc_info=True)
            self._fall_back(out, events[position:], f"error: {type(exc).__name__}")
        return self._sent(out)

    def _passes_whole(self, data: bytes) -> bool:
        """Whether the chunk can go out as it came, not even framed: the usual chunk mid-answer.

        Yes when nothing is held (filters idle, the framer at an event start), the chunk ends on
        an event boundary and no byte of it can change state (no needle). Never with
        implicit_start, where any event may open a new channel.
        """
        if not (
            self._idle
            and self.first_answer_at is not None
            and not self._implicit
            and data.endswith(b"\n\n")
            and self._framer.at_event_start
        ):
            return False
        for needle in self._needles:
            if needle in data:
                return False
        return True

    def _clean(self, raw: bytes) -> bool:
        """True when `raw` holds no tag start character (in any JSON spelling) and, in strip
        mode, no reasoning key: such an event cannot change while the filters are idle."""
        for needle in self._needles:
            if needle in raw:
                return False
        return True

    def _sent(self, out: list[bytes]) -> list[bytes]:
        if out:
            self._last_output_at = self._clock()
            self._recent = out
            # One C call per chunk in the common case: the full check only at a likely end.
            if not self.done_sent and out[-1].endswith(self._done_ends):
                self._note_done(out[-1])
        return out

    def _note_done(self, chunk: bytes) -> None:
        """Set `done_sent` if `chunk` ends with the whole done event (the last of a stream)."""
        if not chunk.endswith(self._done_ends):  # also when the format has no done event
            return
        tail = chunk[-_DONE_LOOKBACK:].rstrip(b"\r\n")
        line_start = max(tail.rfind(b"\n"), tail.rfind(b"\r")) + 1
        if line_start == 0 and len(chunk) > _DONE_LOOKBACK:
            return  # a line longer than the lookback: not the done event
        self.done_sent = tail[line_start:] in self._done_lines

    def _answered(self, container: dict[str, Any] | None) -> None:
        """Note the time of the first answer text (or tool call) this stream sends."""
        if container is None:
            return
        text = container.get(self._step.text_key)
        if (
            (type(text) is str and text)
            or container.get("tool_calls")
            or container.get("function_call")
        ):
            self.first_answer_at = time.time()

    @property
    def _giving_up(self) -> str:
        """What the log says happens to the rest of a response the filter gave up on."""
        if self.config.mode == "strip":
            return "ending this response with an error event"
        return "passing the rest of this response through unchanged"

    def _fall_back(self, out: list[bytes], unsent: list[bytes], reason: str) -> None:
        """The stream cannot be filtered any more: strip mode fails closed (`_cut`); the other
        modes switch to raw pass-through: held text flushed if possible, then every byte."""
        self.fallback_reason = reason
        if self.config.mode == "strip":
            self._cut(out, reason)
            return
        self._raw = self.passthrough = True
        try:
            self._release_all(out)
        except Exception as exc:
            logger.error("could not flush held think-filter text (%s)", type(exc).__name__)
        out.extend(unsent)
        try:
            out.extend(self._framer.flush())
        except Exception as exc:  # pragma: no cover - the framer only slices bytes
            logger.error("could not flush the SSE framer (%s)", type(exc).__name__)

    def refuse(self, reason: str) -> None:
        """Strip mode, before the first byte: the body cannot be filtered (a content encoding
        the proxy cannot decode), so the client gets the format's error event and nothing of
        the upstream's."""
        self.fallback_reason = reason
        self._cut(self._owed, reason)

    def _cut(self, out: list[bytes], reason: str) -> None:
        """Strip mode fails closed: the filters' held answer text if they can still give it,
        then the format's error event; every later byte of the upstream's is dropped."""
        self.cut = True
        try:
            self._release_all(out)
        except Exception as exc:
            logger.error("could not flush held think-filter text (%s)", type(exc).__name__)
        out.append(b"data: " + encode_json(self.format.failure(failure_message(reason))) + b"\n\n")

    # -- per event ------------------------------------------------------------------------------

    def _filter_event(self, raw: bytes, out: list[bytes]) -> None:
        """One event through the filters of its channels: sent as it came, rebuilt, or dropped."""
        payload, source = read_event(raw)
        if payload is None:
            out.append(raw)
            return
        if payload == self._done:
            self._release_all(out)
            out.append(raw)
            return
        try:
            obj = decode_json(payload)
        except (ValueError, RecursionError):  # not JSON, not UTF-8: not ours to touch
            out.append(raw)
            return
        channels = self.format.event_channels(obj)
        if channels is None:
            out.append(raw)
            return
        changes = _NO_CHANGE
        for channel, container, finish in channels:
            think_filter = self._filters.get(channel)
            if think_filter is None:
                think_filter = self._new_filter(channel)
                self._filters[channel] = think_filter
            if self._idle and container is not None and think_filter.idle:
                self._catch_up(channel, think_filter, container, out)
            self._last[channel] = (obj, source)
            if container is not None:
                if self.transcript is not None:
                    self.transcript.add_dropped(channel, container, self._step.drop_keys)
                change = self._step.apply(think_filter, container, finish)
                if change is not _NO_CHANGE:  # a Flag's "|" runs Python code: not for one channel
                    changes = change if changes is _NO_CHANGE else changes | change
                if self.first_answer_at is None and (not self._inline or think_filter.idle):
                    self._answered(container)  # inline: not while the text is reasoning
            elif finish is not None:
                # Nowhere to merge held text into: send it in its own event just before.
                self._release(channel, think_filter, out, finish)
        self._idle = self._all_idle()
        if changes is _NO_CHANGE:
            out.append(raw)
        elif (
            Change.GAVE_TEXT in changes
            or not self.format.carries_nothing(obj)
            or self._heartbeat_due(out)
        ):
            out.append(source.with_data(encode_json(obj)))
        # else dropped: nothing left to say, and no sign of life due

    def _new_filter(self, channel: int) -> ChannelFilter:
        return self._made(channel)

    def _catch_up(
        self, channel: int, think_filter: ChannelFilter, container: dict[str, Any], out: list[bytes]
    ) -> None:
        """Before text that may open a block, tell the filter how the answer sent so far ends:
        events passed unparsed (fast paths) never reached it."""
        text = container.get(self._step.text_key)
        if type(text) is not str or self._starts.absent_from(text):
            return
        for raw in reversed(self._recent + out):  # this call's events, then the previous call's
            last = self._last_text(raw, channel)
            if last:
                think_filter.note_answer(last)
                return

    def _last_text(self, raw: bytes, channel: int) -> str | None:
        """The last non-empty text of `channel` in `raw` (one event or a chunk of whole ones)."""
        found = None
        for event in SSEFramer(self._framer.max_event_bytes).feed(raw):
            payload, _ = read_event(event) if type(event) is bytes else (None, None)
            try:
                obj = decode_json(payload) if payload and payload != self._done else None
            except (ValueError, RecursionError):
                continue
            for index, container, _ in self.format.event_channels(obj) or ():
                text = container.get(self._step.text_key) if container is not None else None
                if index == channel and type(text) is str and text:
                    found = text
        return found

    def _all_idle(self) -> bool:
        for think_filter in self._filters.values():
            if not think_filter.idle:
                return False
        return True

    def _heartbeat_due(self, out: list[bytes]) -> bool:
        if out:  # this call already sends something
            return False
        return self._clock() - self._last_output_at >= self._heartbeat_seconds

    # -- end of channels ------------------------------------------------------------------------

    def _release_all(self, out: list[bytes]) -> None:
        """Release what every channel still holds (at the done event or end of stream)."""
        for channel in sorted(self._filters):
            self._release(channel, self._filters[channel], out)
        self._idle = self._all_idle()

    def _release(
        self, channel: int, think_filter: ChannelFilter, out: list[bytes], finish: object = None
    ) -> None:
        answer, think = think_filter.finish(finish)
        if answer and self.first_answer_at is None:
            self.first_answer_at = time.time()
        if answer or think:
            last, source = self._last[channel]
            event = self.format.released_event(
                last, channel, answer, think, self.config.reasoning_field
            )
            out.append(source.derive(encode_json(event)))
