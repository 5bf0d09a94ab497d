"""Incremental NDJSON framing that never alters a byte (Ollama's native streams).

`NDJSONFramer` cuts an arbitrarily chunked byte stream into complete lines, each returned with
its exact bytes including its LF (a CR before it stays part of the line). Like `SSEFramer`, it
hands out whatever is not a complete line as an `Unframed` subclass, so the concatenation of all
outputs always equals the concatenation of all inputs, and a line longer than
`max_line_bytes` is never buffered whole.

Spec: https://github.com/ndjson/ndjson-spec (one JSON text per line, lines end in LF, CRLF
allowed). Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from cot_proxy.sse import DEFAULT_MAX_EVENT_BYTES
from cot_proxy.sse import OversizedChunk
from cot_proxy.sse import UnterminatedTail

_LF = 0x0A


class NDJSONFramer:
    """Splits a byte stream into complete lines; same interface as `cot_proxy.sse.SSEFramer`."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.max_event_bytes = max_line_bytes
        self._buffer = bytearray()
        self._oversized = False  # inside a line too long to hold: its bytes go out as they come

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    @property
    def at_event_start(self) -> bool:
        """True when nothing is held: the next byte fed starts a new line."""
        return not self._buffer and not self._oversized

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        last_end = data.rfind(_LF)
        if self._oversized:
            if last_end < 0:
                return [OversizedChunk(data)]
            self._oversized = False
            head, data = data[: last_end + 1], data[last_end + 1 :]
            lines = self._frame(head)  # the oversized line's end, then whole lines
            lines[0] = OversizedChunk(lines[0])
            return lines + self._hold(data)
        if last_end < 0:
            return self._hold(data)
        if self._buffer:
            work = bytes(self._buffer) + data[: last_end + 1]
            self._buffer.clear()
        else:
            work = data[: last_end + 1] if last_end + 1 < len(data) else data
        return self._frame(work) + self._hold(data[last_end + 1 :])

    def flush(self) -> list[bytes]:
        """End of stream: what is held, as an unterminated tail (or the oversized line's end)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        oversized, self._oversized = self._oversized, False
        if not rest:
            return []
        return [OversizedChunk(rest) if oversized else UnterminatedTail(rest)]

    def _frame(self, work: bytes) -> list[bytes]:
        """`work` ends with LF: its lines, each flagged when over the cap."""
        if work.find(b"\n") == len(work) - 1:  # the usual chunk: one whole line
            lines = [work]
        else:
            lines = [line + b"\n" for line in work.split(b"\n")[:-1]]
        return [
            OversizedChunk(line) if len(line) > self.max_event_bytes else line for line in lines
        ]

    def _hold(self, rest: bytes) -> list[bytes]:
        """Keep the start of an unfinished line, unless it is already over the cap."""
        if not rest:
            return []
        if len(self._buffer) + len(rest) > self.max_event_bytes:
            out = bytes(self._buffer) + rest
            self._buffer.clear()
            self._oversized = True
            return [OversizedChunk(out)]
        self._buffer += rest
        return []
