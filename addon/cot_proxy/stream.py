"""Think-block removal on a streamed answer: the per-flow mitmproxy stream callable, for every
wire format (`cot_proxy.formats`).

The format's rewriter decides what each event becomes; this conductor does the rest: frames the
bytes (SSE or NDJSON), lets events the rewriter does not need pass as they came (their exact
bytes), decodes and encodes JSON, keeps a sign of life going while think text is dropped, and
holds the mitmproxy stream contract. Buffered JSON answers go through `cot_proxy.body` instead.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cot_proxy.filters import Filters
from cot_proxy.formats._api import SAME
from cot_proxy.formats._api import Format
from cot_proxy.formats._api import Framer
from cot_proxy.formats._api import Rewriter
from cot_proxy.formats._api import failure_message
from cot_proxy.framing import EventStyle
from cot_proxy.framing import framer_for
from cot_proxy.jsonbytes import decode_json
from cot_proxy.jsonbytes import encode_json
from cot_proxy.memory.recall import Recall
from cot_proxy.sse import DEFAULT_MAX_EVENT_BYTES
from cot_proxy.sse import OversizedChunk
from cot_proxy.think import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript

logger = logging.getLogger(__name__)

# A comment line is valid SSE that every client skips (WHATWG event-stream interpretation).
SSE_PING = b": ping\n\n"
_DONE_LOOKBACK = 64  # bytes at a chunk's end searched for the done event


def _nothing_passes(raw: bytes) -> bool:
    return False


class FilterStream:
    """Per-flow stream callable (`flow.response.stream`): framing, pass-through, encoding,
    fall-back, for the rewriter of the answer's format.

    The contract, set by mitmproxy (`Message.stream` in mitmproxy/http.py; the example
    examples/addons/http-stream-modify.py): the callable gets every body chunk as it arrives, cut
    anywhere (inside an event, a tag, a UTF-8 character), then once b"" at the end of the body,
    to flush. It returns a list of chunks, never b"" and never a list containing b"": on HTTP/1
    an empty chunk goes out as the chunked terminator, and the client stops reading there. It
    never raises.

    An event the rewriter says `passes` goes out as it came, unparsed (a rewriter may also pass
    a whole chunk, unframed: `ChoicesRewriter.chunk`). Otherwise it is decoded and given to the
    rewriter, whose answer is sent in its place (`cot_proxy.formats._api.Rewriter.event`). Not
    JSON, or no data: sent as it came. An event that produced nothing, when nothing went out
    for `heartbeat_seconds`, is replaced by the rewriter's heartbeat (an SSE comment if it has
    none). Before the format's done event (`[DONE]`), and at end of stream, the rewriter's held
    text goes out (`end`), before any unterminated tail (bytes after the last blank line),
    which strip mode drops unless no byte of it can change (`passes_tail`): not a whole event,
    it cannot be filtered.

    Any exception, or an event over `max_event_bytes`, means the stream can no longer be
    filtered. Strip mode then fails closed (`cut`): the text the filters hold goes out (it is
    filtered; best effort), then the format's error event (`Format.failure`), and nothing
    more: the rest of the upstream's body is read and dropped, so no think text can follow.
    The other modes hide nothing: they switch to raw pass-through (held text flushed first,
    best effort). Keep mode passes every byte from the start.

    Read by the log line and the metrics: `think_chars`, `first_answer_at` (time.time() of the
    first answer text sent; keep mode: the first byte), `done_sent` (the client has the whole
    answer: the done event went out, for a format that has one, which the bytes are watched for
    even unfiltered; else the terminal event, or in keep mode the end of the body),
    `passthrough`, `cut`, `fallback_reason`.
    """

    def __init__(
        self,
        config: ThinkConfig,
        fmt: Format,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_seconds: float = 5.0,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
        transcript: Transcript | None = None,
        recall: Recall | None = None,
    ) -> None:
        self.config = config
        self.format = fmt
        self.transcript = transcript
        # mitmweb's view, the reasoning memory: every event is parsed (no pass-through) so that
        # its text is recorded; the memory also reads each event before it is rewritten.
        self._record = transcript is not None or recall is not None
        self._scan = recall.scan if recall is not None else None
        self._clock = clock
        self._heartbeat_seconds = heartbeat_seconds
        self._sse = fmt.framing == "sse"
        self._framer = framer_for(fmt.framing, max_event_bytes)
        self._style = EventStyle(fmt.framing)
        self._filters = Filters(config, transcript, max_held_chars, recall)
        self._raw = config.mode == "keep"
        self._rewriter: Rewriter | None = None if self._raw else fmt.rewriter(config, self._filters)
        # The rewriter's optional hook (chat and completions): a look at each chunk first,
        # which may let it pass whole (`ChoicesRewriter.chunk`). None: keep mode, mitmweb.
        self._chunk: Callable[[bytes, list[bytes], Framer], bool] | None = (
            None if self._record else getattr(self._rewriter, "chunk", None)
        )
        # Bound once: asked for every event.
        self._passes: Callable[[bytes], bool] = (
            self._rewriter.passes if self._rewriter is not None else _nothing_passes
        )
        self._read = self._style.read
        self._done = fmt.done_payload
        # How a chunk ending in the done event ends, per line-ending style (none: no done event).
        self._done_ends: tuple[bytes, ...] = (
            tuple(self._done + end for end in (b"\n\n", b"\r\n\r\n", b"\r\r"))
            if self._done is not None
            else ()
        )
        self._done_lines = (b"data:" + (self._done or b""), b"data: " + (self._done or b""))
        self._ended = False  # the rewriter's end() was called
        self._last_output_at = clock()
        self.passthrough = False  # fell back to raw pass-through
        self.cut = False  # strip mode failed closed: the answer ended with an error event
        self._owed: list[bytes] = []  # `refuse`: what the first call sends
        self.fallback_reason: str | None = None
        self.first_answer_at: float | None = None
        self.done_sent = False

    @property
    def think_chars(self) -> int:
        return self._filters.think_chars

    @property
    def think_blocks(self) -> int:
        return self._filters.blocks

    # -- mitmproxy entry point -----------------------------------------------------------------

    def __call__(self, data: bytes) -> list[bytes]:
        if self.cut:
            owed, self._owed = self._owed, []
            return owed
        out: list[bytes] = []
        chunk = self._chunk
        if chunk is not None and chunk(data, out, self._framer):
            # The usual chunk mid-answer: `_sent` inlined, this runs once per network chunk.
            self._last_output_at = self._clock()
            if not self.done_sent and data.endswith(self._done_ends):
                self._note_done(data)
            out.append(data)
            return out
        rewriter = self._rewriter
        if self._raw or rewriter is None:
            return self._raw_chunk(data)
        events: list[bytes] = []
        position = 0
        try:
            events = self._framer.feed(data) if data else self._framer.flush()
            for position, raw in enumerate(events):
                if type(raw) is not bytes:  # Unframed: not one complete event
                    if isinstance(raw, OversizedChunk):
                        logger.warning(
                            "%s event larger than %d bytes; %s",
                            self.format.name,
                            self._framer.max_event_bytes,
                            self._giving_up,
                        )
                        self._fall_back(out, events[position:], "oversized event")
                        return self._sent(out)
                    if not self._sse and raw.strip():
                        # A last NDJSON line without its LF is still a whole line to clients
                        # (line readers yield it): it may be the terminal one.
                        self._last_line(rewriter, bytes(raw), out)
                        continue
                    self._end(out)  # held text before the unterminated tail, not after it
                    if self.config.mode != "strip" or rewriter.passes_tail(bytes(raw)):
                        # Strip drops one that may hold think text: not a whole event, so not
                        # filtered, and no SSE client dispatches an event never ended.
                        out.append(raw)
                    continue
                if not self._record and self._passes(raw):
                    out.append(raw)
                else:
                    self._event(rewriter, raw, out)
            if not data:
                self._end(out)
        except Exception as exc:  # never raise into mitmproxy: fall back instead
            # No body content in the log: only the exception type; traceback at debug level.
            logger.error(
                "%s think filter failed (%s); %s",
                self.format.name,
                type(exc).__name__,
                self._giving_up,
            )
            logger.debug("think filter failure", exc_info=True)
            self._fall_back(out, events[position:], f"error: {type(exc).__name__}")
        return self._sent(out)

    def _raw_chunk(self, data: bytes) -> list[bytes]:
        """Keep mode, or after a fall-back: every byte as it came, watched for the first byte
        and the done event (a format without one is done when the filtered body ends)."""
        if not data:
            if self._done is None:
                self.done_sent = self.done_sent or not self.passthrough
            return []
        if self.first_answer_at is None and (self._done is not None or not self.passthrough):
            self.first_answer_at = time.time()
        if not self.done_sent and self._done is not None:
            self._note_done(data)
        return [data]

    def _sent(self, out: list[bytes]) -> list[bytes]:
        if out:
            self._last_output_at = self._clock()
            # One C call per chunk in the common case: the full check only at a likely end.
            if self._done is not None and not self.done_sent and out[-1].endswith(self._done_ends):
                self._note_done(out[-1])
        rewriter = self._rewriter
        if rewriter is not None:
            if self.first_answer_at is None and rewriter.answered:
                self.first_answer_at = time.time()
            if rewriter.finished:
                self.done_sent = True
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
        self._chunk = None
        try:
            self._end(out)
        except Exception as exc:
            logger.error("could not flush held think-filter text (%s)", type(exc).__name__)
        out.extend(unsent)
        try:
            out.extend(self._framer.flush())
        except Exception as exc:  # pragma: no cover - the framer only slices bytes
            logger.error("could not flush the framer (%s)", type(exc).__name__)

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
            self._end(out)
        except Exception as exc:
            logger.error("could not flush held think-filter text (%s)", type(exc).__name__)
        failure = self.format.failure(failure_message(reason))
        out.append(self._style.new_event(failure, named=self._style.named is not False))

    # -- per event ------------------------------------------------------------------------------

    def _event(self, rewriter: Rewriter, raw: bytes, out: list[bytes]) -> None:
        payload, source = self._read(raw)
        if payload is None:
            out.append(raw)
            return
        if payload == self._done:
            # Held text goes out before the done event (again at the end, if more came).
            out.extend(map(self._style.new_event, rewriter.end()))
            out.append(raw)
            return
        try:
            obj = decode_json(payload)
        except (ValueError, RecursionError):  # not JSON, not UTF-8: not ours to touch
            out.append(raw)
            return
        if self._scan is not None:
            self._scan(obj)
        result = rewriter.event(obj, source)
        if result is None:
            out.append(raw)
            return
        if not result:
            if not out and self._clock() - self._last_output_at >= self._heartbeat_seconds:
                self._heartbeat(rewriter, out)
            return
        for item in result:
            if item is SAME:
                out.append(raw)
            elif item is obj:
                out.append(self._style.in_place(raw, source, encode_json(obj)))
            else:
                out.append(self._style.new_event(item))

    def _last_line(self, rewriter: Rewriter, line: bytes, out: list[bytes]) -> None:
        """An NDJSON line cut off at end of stream, as a line; what follows it gets an LF
        before it, so that no two lines run together."""
        start = len(out)
        self._event(rewriter, line, out)
        for index in range(start, len(out) - 1):
            if not out[index].endswith(b"\n"):
                out[index] += b"\n"

    def _heartbeat(self, rewriter: Rewriter, out: list[bytes]) -> None:
        beat = rewriter.heartbeat()
        if beat is not None:
            out.append(self._style.new_event(beat))
        elif self._sse:
            out.append(SSE_PING)

    def _end(self, out: list[bytes]) -> None:
        """The rewriter's held text, once (before an unterminated tail, or at the very end)."""
        if self._rewriter is not None and not self._ended:
            self._ended = True
            out.extend(map(self._style.new_event, self._rewriter.end()))
