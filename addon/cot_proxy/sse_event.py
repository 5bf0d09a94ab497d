"""One Server-Sent Event, read and rebuilt without altering a byte it keeps.

`SSEEvent` parses one raw event (as `cot_proxy.sse.SSEFramer` cuts them) into its lines and fields
and can rebuild it with a new data payload while keeping every other line, in order, with its own
line ending. `read_event` gives an event's data and its `EventSource`: the parsed `SSEEvent`, or for
the usual single data line just a `DataLine`, sparing the parse. Either puts a new payload in the
event's place (`with_data`) or derives a new event after it (`derive`).

Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from typing import Protocol

_CR = 0x0D
_LF = 0x0A
_SPACE = 0x20
_LINE_SPLIT = re.compile(rb"(\r\n|\n|\r)")


class SSELine(NamedTuple):
    """One line of an event: its content and its own terminator (b"" only for a cut-off tail)."""

    text: bytes
    ending: bytes

    @property
    def is_blank(self) -> bool:
        return not self.text

    @property
    def name(self) -> bytes:
        """Field name (b"" for comments and blank lines)."""
        if not self.text or self.text.startswith(b":"):
            return b""
        return self.text.partition(b":")[0]

    @property
    def value(self) -> bytes:
        """Field value with the one optional leading space removed (comment text for comments)."""
        value = self.text.partition(b":")[2]
        return value[1:] if value.startswith(b" ") else value


class SSEEvent:
    """A parsed raw event: its lines in order, each with its own line ending."""

    __slots__ = ("lines",)

    def __init__(self, lines: list[SSELine]) -> None:
        self.lines = lines

    @classmethod
    def parse(cls, raw: bytes) -> SSEEvent:
        parts = _LINE_SPLIT.split(raw)
        lines = [SSELine(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if parts[-1]:
            lines.append(SSELine(parts[-1], b""))
        return cls(lines)

    def to_bytes(self) -> bytes:
        return b"".join(line.text + line.ending for line in self.lines)

    @property
    def data(self) -> bytes | None:
        """The data lines' values joined with LF, or None when the event has no data line."""
        values = [line.value for line in self.lines if line.name == b"data"]
        return b"\n".join(values) if values else None

    @property
    def line_ending(self) -> bytes:
        """The event's line-ending style: the first terminator used (LF when there is none)."""
        for line in self.lines:
            if line.ending:
                return line.ending
        return b"\n"

    def with_data(self, payload: bytes) -> bytes:
        """Raw event with its data replaced by `payload`, every other line kept in place.

        The new data lines take the place (and line ending) of the first data line; the other
        data lines go. Without a data line, the data goes before the terminating blank line.
        """
        out: list[bytes] = []
        placed = False
        for index, line in enumerate(self.lines):
            if line.name == b"data":
                if not placed:
                    out.append(_data_lines(payload, line.ending or self.line_ending))
                    placed = True
                continue
            if not placed and line.is_blank and line.ending and index == len(self.lines) - 1:
                out.append(_data_lines(payload, self.line_ending))
                placed = True
            out.append(line.text + line.ending)
        if not placed:
            ending = self.line_ending
            if self.lines and not self.lines[-1].ending:
                out.append(ending)  # close the cut-off last line first
            out.append(_data_lines(payload, ending) + ending)
        return b"".join(out)

    def derive(self, payload: bytes, keep_fields: tuple[bytes, ...] = (b"event",)) -> bytes:
        """A new event in this event's line-ending style: its `keep_fields` lines, then `payload`.

        For events synthesised after this one (ids, comments and retry are not repeated).
        """
        ending = self.line_ending
        kept = b"".join(
            line.text + line.ending
            for line in self.lines
            if line.name in keep_fields and line.ending
        )
        return kept + _data_lines(payload, ending) + ending


class EventSource(Protocol):
    """The event a payload came from (a parsed `SSEEvent`, or a `DataLine`; see `read_event`):
    enough of it to put a new payload in its place, or to derive a new event after it."""

    def with_data(self, payload: bytes) -> bytes: ...

    def derive(self, payload: bytes) -> bytes: ...


class DataLine:
    """An event of exactly one data line: all of it but the payload is its line ending."""

    __slots__ = ("ending",)

    def __init__(self, ending: bytes) -> None:
        self.ending = ending

    def with_data(self, payload: bytes) -> bytes:
        """`payload` must be one line (compact JSON is)."""
        return b"data: " + payload + self.ending + self.ending

    def derive(self, payload: bytes) -> bytes:
        return make_event(payload, self.ending)


# (blank line that ends such an event, its source) for each line ending.
_DATA_LINES = tuple((ending + ending, DataLine(ending)) for ending in (b"\n", b"\r\n", b"\r"))


def read_event(raw: bytes) -> tuple[bytes | None, EventSource]:
    """(data, source) of one complete raw event; data None when it has no data line.

    A single data line, the shape nearly every server sends, spares the general parse.
    """
    if raw.startswith(b"data:"):
        for blank_line_end, source in _DATA_LINES:
            if raw.endswith(blank_line_end):
                start = 6 if raw[5] == _SPACE else 5  # the value loses one leading space
                payload = raw[start : len(raw) - len(blank_line_end)]
                if _LF in payload or _CR in payload:  # int in bytes: a plain memchr
                    break
                return payload, source
    event = SSEEvent.parse(raw)
    return event.data, event


def single_data_line(raw: bytes) -> tuple[bytes, bytes] | None:
    """(payload, line_ending) when `raw` is exactly one data line plus its blank line."""
    payload, source = read_event(raw) if raw.startswith(b"data:") else (None, None)
    if payload is None or not isinstance(source, DataLine):
        return None
    return payload, source.ending


def _data_lines(payload: bytes, ending: bytes) -> bytes:
    # A payload line break would end the field, so each payload line gets its own "data:" line.
    lines = _LINE_SPLIT.split(payload)[::2]
    return b"".join(b"data: " + line + ending for line in lines)


def make_event(payload: bytes, ending: bytes = b"\n") -> bytes:
    """A fresh raw event carrying only `payload` as data."""
    return _data_lines(payload, ending) + ending
