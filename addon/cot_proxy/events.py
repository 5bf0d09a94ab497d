"""Event formats: APIs whose answers are a sequence of typed events, not a list of choices.

The OpenAI Responses API, Anthropic Messages and Ollama's native API stream their answers as
typed events (SSE `event:`/`data:` pairs, or NDJSON lines) that open, fill and close blocks or
items of the answer. Taking reasoning out of them (or putting it in) means more than rewriting
text in place: events are dropped, inserted, and renumbered (`output_index`, `index`,
`sequence_number`). So each such format is one module with a per-flow `EventRewriter`: decoded
events in, events out. The conductor (`cot_proxy.eventstream.EventStream`) frames the bytes
(`cot_proxy.sse` or `cot_proxy.ndjson`), lets events that cannot change pass as they came,
encodes what the rewriter returns, and owns the mitmproxy stream contract (never raises, falls
back to pass-through, sends a sign of life while a long think block is dropped).

A format module satisfies `EventFormat` with module-level names, like the choice formats of
`cot_proxy.formats`. Its think filters come from the conductor (`NewFilter`), which counts their
think text for the log and the metrics and, under mitmweb, records their text. Reasoning the
upstream split off itself and strip mode deletes (Responses `reasoning` items, Anthropic
`thinking` blocks, Ollama's `thinking`) never passes through a filter's `feed`: the format hands
its text, streamed and buffered, to `note_dropped` of the filter of the channel it
belongs with (or of one made for it), so that mitmweb's transcript shows it as think text, as
it does the chat formats' `reasoning_content`. Not counted in `think_chars`, like theirs.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any
from typing import Literal
from typing import Protocol

from cot_proxy.filters import Filters
from cot_proxy.think_config import ThinkConfig

Framing = Literal["sse", "ndjson"]

# In what `EventRewriter.event` returns: the event's original bytes, unchanged.
SAME: Any = type("Same", (), {"__repr__": lambda self: "SAME"})()

# What a stream that strip mode could not filter ends with (`EventFormat.failure`): its code.
FAILURE_CODE = "think_filter_failed"


def failure_message(reason: str) -> str:
    """The message of the error event a stream ends with when strip mode fails closed."""
    return (
        f"cot-proxy could not filter this answer ({reason}) and ended it here, "
        "so that no think text reaches the client"
    )


# The filters of one answer's channels (a text block, an output item, the one answer of an
# Ollama stream): called with a channel's number, the filter of the mode (`cot_proxy.filters`).
NewFilter = Filters


class EventRewriter(Protocol):
    """One streamed answer's rewriting state, for one flow."""

    @property
    def answered(self) -> bool:
        """Some answer text (or a tool call) has gone out: for the time to first answer."""
        ...

    @property
    def finished(self) -> bool:
        """The format's terminal event has been returned: the client has the whole answer."""
        ...

    def passes(self, raw: bytes) -> bool:
        """Whether the raw event (the exact bytes of one SSE event or NDJSON line) can go out
        unparsed: nothing in it can change and the rewriter needs nothing from it. Asked before
        `event`, for every event; cheap (substring checks on `raw` and the rewriter's state)."""
        ...

    def event(self, obj: Any) -> list[Any] | None:
        """One decoded event. None: send its original bytes unchanged. Else the events to send
        in its place, in order (empty: dropped). `obj` itself (the same object, maybe modified)
        goes out re-encoded in the original event's framing, its other SSE lines kept; `SAME`
        sends the original bytes (as None does, but among other events); any other object is a
        new event (SSE: `event: <obj["type"]>` and `data:` lines; NDJSON: one line)."""
        ...

    def end(self) -> list[Any]:
        """The stream ended before (or without) the terminal event: text still held, as new
        events, so that nothing is lost."""
        ...

    def heartbeat(self) -> Any | None:
        """A sign-of-life event the format's official client accepts while a think block is
        being dropped (Anthropic: `{"type": "ping"}`; Ollama: an empty chunk shaped like the
        last one); None: an SSE comment line does (Responses)."""
        ...


class EventFormat(Protocol):
    """What the conductor and the body filter need of one event format."""

    @property
    def name(self) -> str:
        """The endpoint it belongs to, for logs and metrics: "responses", "messages", ..."""
        ...

    @property
    def framing(self) -> Framing:
        """How a stream of it is cut into events."""
        ...

    def rewriter(self, config: ThinkConfig, new_filter: NewFilter) -> EventRewriter:
        """The rewriter of one streamed answer (config.mode is never "keep" here)."""
        ...

    def filter_body(self, obj: Any, config: ThinkConfig, new_filter: NewFilter) -> bool:
        """Rewrite a decoded buffered answer in place; True when it changed. Not an answer of
        this format (an unexpected shape): False, unchanged."""
        ...

    def failure(self, message: str) -> Any:
        """The error event a stream ends with when strip mode cannot filter it (an exception,
        an oversized event): one the format's official client raises on."""
        ...
