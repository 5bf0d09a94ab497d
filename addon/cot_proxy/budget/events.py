"""Cutting a byte stream into whole events: SSE (blank-line framed) and NDJSON (one a line).

Pure logic, no mitmproxy import. The relay reads its upstream with these; unlike the think
filter (`cot_proxy.sse`) it has no client bytes to pass on untouched, so it can simply wait
for a whole event.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BLANK = re.compile(rb"\r?\n\r?\n")


class SSESplitter:
    """Whole events (each with its blank line) from any split of the stream."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._rest += data
        events = []
        while match := _BLANK.search(self._rest):
            events.append(self._rest[: match.end()])
            self._rest = self._rest[match.end() :]
        return events


def data_of(event: bytes) -> str | None:
    """The `data:` lines of an SSE event, joined; None for an event without one (a comment)."""
    lines = [
        line[5:].removeprefix(b" ")
        for line in event.replace(b"\r\n", b"\n").split(b"\n")
        if line.startswith(b"data:")
    ]
    return b"\n".join(lines).decode("utf-8", "replace") if lines else None


def json_object(text: str | bytes | None) -> dict[str, Any] | None:
    """`text` parsed when it is a JSON object; None for anything else (no text, not JSON,
    `[DONE]`, another JSON value)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def event_object(event: bytes) -> dict[str, Any] | None:
    """The JSON object an SSE event's data holds; None for any other event."""
    return json_object(data_of(event))


class LineSplitter:
    """Whole lines (NDJSON: Ollama's native stream) from any split of the stream."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._rest += data
        *lines, self._rest = self._rest.split(b"\n")
        return [line for line in lines if line.strip()]
