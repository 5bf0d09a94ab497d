"""How one stream writes its events: the framer that cuts it, and new events in its own style.

SSE (`cot_proxy.sse`) or NDJSON (`cot_proxy.ndjson`), by the format's `framing`. A stream's
first event says whether its SSE events carry an `event:` line and which line ending it uses;
events the conductor makes (a rewriter's new events, the failure event) follow that style.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.formats._api import Framer
from cot_proxy.formats._api import Framing
from cot_proxy.jsonbytes import encode_json
from cot_proxy.ndjson import NDJSONFramer
from cot_proxy.sse import SSEFramer
from cot_proxy.sse_event import EventSource
from cot_proxy.sse_event import SSEEvent
from cot_proxy.sse_event import read_event


def framer_for(framing: Framing, max_event_bytes: int) -> Framer:
    return SSEFramer(max_event_bytes) if framing == "sse" else NDJSONFramer(max_event_bytes)


class EventStyle:
    """Reads a stream's events and writes new ones like them."""

    def __init__(self, framing: Framing) -> None:
        self.sse = framing == "sse"
        self.named: bool | None = None  # the stream's SSE events have an `event:` line
        self.ending = b"\n"  # the line ending of the stream's events, for new ones

    def read(self, raw: bytes) -> tuple[bytes | None, EventSource | None]:
        """The event's JSON text and, for SSE, its source (to rebuild it in place)."""
        if not self.sse:
            line = raw.rstrip(b"\r\n")
            self.ending = raw[len(line) :] or b"\n"
            return (line if line.strip() else None), None
        payload, source = read_event(raw)
        if self.named is None and payload is not None:
            event = source if isinstance(source, SSEEvent) else SSEEvent.parse(raw)
            self.named = any(line.name == b"event" for line in event.lines)
            self.ending = event.line_ending
        return payload, source

    @staticmethod
    def in_place(raw: bytes, source: EventSource | None, payload: bytes) -> bytes:
        """The event `raw` with `payload` in place of its data, its other lines kept."""
        if source is None:  # NDJSON: the line with its own ending
            return payload + raw[len(raw.rstrip(b"\r\n")) :]
        return source.with_data(payload)

    def new_event(self, obj: Any, named: bool | None = None) -> bytes:
        """A new event in the stream's framing; SSE: with an `event:` line when the stream's
        events have one (`named`: unless told otherwise). `bytes`: framed already."""
        if type(obj) is bytes:
            return obj
        payload = encode_json(obj)
        ending = self.ending
        if not self.sse:
            return payload + ending
        kind = obj.get("type") if type(obj) is dict else None
        named = self.named if named is None else named
        head = b"event: " + kind.encode("utf-8") + ending if named and type(kind) is str else b""
        return head + b"data: " + payload + ending + ending
