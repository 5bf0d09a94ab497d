"""Incremental Server-Sent Events framing that never alters a byte.

`SSEFramer` cuts an arbitrarily chunked byte stream into complete raw events, each returned with its
exact original bytes including the blank line that ends it. Whatever is not a complete event is
still handed out, as an `Unframed` subclass, so the concatenation of all outputs always equals the
concatenation of all inputs.

One event's lines and fields are read and rebuilt in `cot_proxy.sse_event`.

Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
(lines end in CRLF, LF or CR; a blank line dispatches the event; a line starting with ":" is a
comment; the field value loses one leading space; data lines are joined with LF).
Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import re

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024

_CR = 0x0D
_LF = 0x0A

# A line terminator immediately followed by another one, i.e. the blank line that ends an event.
# "\r(?!\n)" keeps a CRLF from being read as CR + LF (which would be a false blank line).
_EVENT_END = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
# Longest possible _EVENT_END match that ends in a lone CR (b"\r\n\r"): how far a new feed must
# rescan into old bytes, because that CR may turn out to be the first half of CRLF.
_RESCAN = 3


class Unframed(bytes):
    """Bytes handed out without being one complete event: pass them on untouched."""


class OversizedChunk(Unframed):
    """Part of an event larger than `max_event_bytes`, handed out raw to keep memory bounded."""


class UnterminatedTail(Unframed):
    """Bytes left at end of stream without a terminating blank line (clients discard them)."""


class SSEFramer:
    """Splits a byte stream into complete raw SSE events (httpx-sse `SSELineDecoder` style).

    `feed()` returns complete events as plain `bytes`, each ending with its blank line. A CR at
    the very end of a chunk is held until the next chunk shows whether an LF follows.

    Memory cap: an event longer than `max_event_bytes` is never buffered whole. Its bytes are
    handed out as `OversizedChunk` pieces as they arrive (the framer keeps at most a few tail
    bytes to spot the blank line), up to and including its terminating blank line; framing then
    resumes normally. A complete event over the cap arriving in one chunk is also returned as an
    `OversizedChunk`, so flagging does not depend on chunking. `in_oversized_event` tells whether
    the framer is still inside such an event. The caller should pass oversized bytes through.
    """

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes < 1:
            raise ValueError("max_event_bytes must be positive")
        self.max_event_bytes = max_event_bytes
        self._buffer = bytearray()
        self._oversized = False

    @property
    def in_oversized_event(self) -> bool:
        return self._oversized

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    @property
    def at_event_start(self) -> bool:
        """True when nothing is held: the next byte fed starts a new event."""
        return not self._buffer and not self._oversized

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        buf = self._buffer
        if not buf and self._is_one_event(data):
            return [bytes(data)]  # not even copied
        rescan_from = max(0, len(buf) - _RESCAN)
        if buf:
            buf += data
        pending = buf if buf else data
        if (
            not self._oversized
            and len(pending) <= self.max_event_bytes
            and pending[0] != _LF
            and pending[0] != _CR
            and not self._may_end(pending, rescan_from)
        ):
            if pending is data:
                buf += data
            return []  # cheap exit: still inside one event
        if pending is buf:
            work = bytes(buf)  # one copy to immutable bytes, so each event is a single slice
            buf.clear()
        else:
            work = bytes(data)  # no copy for bytes: chunks holding whole events are not copied
        return self._frame(work, rescan_from, final=False)

    def _is_one_event(self, data: bytes) -> bool:
        """Whether `data`, all the bytes left to frame, is exactly one LF-framed event: then
        there is nothing to cut. The usual chunk from a streaming server (no CR, one blank line,
        at the end)."""
        return (
            not self._oversized
            and 2 < len(data) <= self.max_event_bytes
            and data.find(b"\n\n") == len(data) - 2
            and _CR not in data
            and data[0] != _LF
        )

    @staticmethod
    def _may_end(buf: bytes | bytearray, start: int) -> bool:
        """Whether a blank line may end in buf[start - ...:]; substring search beats the regex."""
        if buf.find(_CR, start) < 0:
            return buf.find(b"\n\n", start) >= 0
        return _EVENT_END.search(buf, start) is not None

    def flush(self) -> list[bytes]:
        """End of stream: return complete events still held, then any remainder as `Unframed`."""
        out: list[bytes] = []
        if self._buffer:
            work = bytes(self._buffer)
            self._buffer.clear()
            out = self._frame(work, rescan_from=0, final=True)
        if self._buffer:
            rest = bytes(self._buffer)
            out.append(OversizedChunk(rest) if self._oversized else UnterminatedTail(rest))
        self._buffer.clear()
        self._oversized = False
        return out

    def _frame(self, work: bytes, rescan_from: int, final: bool) -> list[bytes]:
        """Cut `work` (the held bytes plus new data) into events; keep the rest held."""
        if self._is_one_event(work):
            return [work]
        out: list[bytes]
        if (
            not self._oversized
            and len(work) <= self.max_event_bytes
            and _CR not in work
            and b"\n\n\n" not in work
            and work[0] != _LF
        ):
            # LF-only framing without blank lines of their own: split does it all.
            parts = work.split(b"\n\n")
            out = [part + b"\n\n" for part in parts[:-1]]
            pos = len(work) - len(parts[-1])
        else:
            out = []
            pos = 0  # start of the current event in work
            while pos < len(work):
                end = self._event_end(work, pos, max(pos, rescan_from), final)
                if end < 0:
                    break
                chunk = work[pos:end]
                oversized = self._oversized or end - pos > self.max_event_bytes
                out.append(OversizedChunk(chunk) if oversized else chunk)
                self._oversized = False
                pos = end
        if self._oversized or len(work) - pos > self.max_event_bytes:
            # Hand out the unterminated event's bytes now; keep a short tail so a blank line
            # split across chunks is still recognised.
            keep_from = max(pos, len(work) - _RESCAN)
            if keep_from > pos:
                out.append(OversizedChunk(work[pos:keep_from]))
            pos = keep_from
            self._oversized = True
        if pos < len(work):
            self._buffer += memoryview(work)[pos:]
        return out

    def _event_end(self, buf: bytes, pos: int, search_from: int, final: bool) -> int:
        """End offset of the event starting at `pos`, or -1 if it is not complete yet."""
        first = buf[pos]
        if not self._oversized and (first == _LF or first == _CR):
            # The event starts with a blank line: an empty event of just that line ending.
            if first == _LF:
                return pos + 1
            if pos + 1 < len(buf):
                return pos + 2 if buf[pos + 1] == _LF else pos + 1
            return pos + 1 if final else -1
        match = _EVENT_END.search(buf, search_from)
        if match is None:
            return -1
        end = match.end()
        if end == len(buf) and buf[end - 1] == _CR and not final:
            return -1  # the blank line may be CRLF whose LF has not arrived yet
        return end
