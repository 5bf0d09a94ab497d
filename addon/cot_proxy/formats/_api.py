"""The one interface of a wire format: what the stream conductor and the body path ask of it.

Every API's answer is a sequence of events (SSE `data:` events, or NDJSON lines) that carry its
text in channels: an OpenAI choice, an Anthropic content block, a Responses output item, the one
answer of an Ollama stream. A `Format` says how its streams are framed, makes the per-flow
`Rewriter` of one streamed answer (decoded events in, events out) and rewrites a buffered answer
in place. The conductor (`cot_proxy.stream.FilterStream`) frames the bytes behind a `Framer`
(`cot_proxy.sse`, `cot_proxy.ndjson`), lets the events the rewriter says `passes` go out as they
came, encodes what it returns and owns the mitmproxy stream contract. The body path
(`cot_proxy.body`) decodes a buffered answer and hands it to `Format.filter_body`.

A format's filters come from a `cot_proxy.filters.Filters`, which counts their think text for
the log and the metrics and, under mitmweb, records their text. Reasoning the upstream split off
itself and strip mode deletes (`reasoning_content`, Responses `reasoning` items, Anthropic
`thinking` blocks, Ollama's `thinking`) never passes through a filter's `feed`: the format hands
its text, streamed and buffered, to `note_dropped` of the filter of its channel (or of one made
for it), so that mitmweb's transcript shows it as think text. Not counted in `think_chars`.

The package `cot_proxy.formats` holds the registry; each format module imports this one, never
the package. Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import Protocol

from cot_proxy.filters import Filters
from cot_proxy.think_config import ThinkConfig

if TYPE_CHECKING:
    from cot_proxy.history import History
    from cot_proxy.rules import ModelRule

Framing = Literal["sse", "ndjson"]

# In what `Rewriter.event` returns: the event's original bytes, unchanged.
SAME: Any = type("Same", (), {"__repr__": lambda self: "SAME"})()

# What a stream that strip mode could not filter ends with (`Format.failure`): its code.
FAILURE_CODE = "think_filter_failed"

# The filters of one answer's channels: called with a channel's number, the filter of the mode.
NewFilter = Filters


def failure_message(reason: str) -> str:
    """The message of the error event a stream ends with when strip mode fails closed."""
    return (
        f"cot-proxy could not filter this answer ({reason}) and ended it here, "
        "so that no think text reaches the client"
    )


class Framer(Protocol):
    """Cuts a body's bytes into whole events (SSE) or lines (NDJSON), chunk by chunk.

    `feed` and `flush` return the complete events in order; bytes that are not one complete
    event come out as an `Unframed` subclass (`OversizedChunk` past `max_event_bytes`, the
    `UnterminatedTail` at the flush), so that the concatenation of the outputs is the input."""

    @property
    def max_event_bytes(self) -> int: ...

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an event not complete yet."""
        ...

    @property
    def at_event_start(self) -> bool:
        """Nothing held: the next byte begins an event."""
        ...

    def feed(self, data: bytes) -> list[bytes]: ...

    def flush(self) -> list[bytes]: ...


class Rewriter(Protocol):
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

    def passes_tail(self, raw: bytes) -> bool:
        """Strip mode, at the end of the stream: whether bytes that are no whole event (they
        cannot be filtered) may still go out, because no byte of them can change anything."""
        ...

    def event(self, obj: Any, source: Any = None, /) -> list[Any] | None:
        """One decoded event (`source`: where an SSE event's payload came from,
        `cot_proxy.sse.EventSource`; None for NDJSON). None: send its original bytes unchanged.
        Else the events to send in its place, in order (empty: dropped). `obj` itself (the same
        object, maybe modified) goes out re-encoded in the original event's framing, its other
        SSE lines kept; `SAME` sends the original bytes (as None does, but among other events);
        `bytes` go out as they are (a whole event the rewriter framed itself); any other object
        is a new event (SSE: `event: <obj["type"]>` and `data:` lines; NDJSON: one line)."""
        ...

    def end(self) -> list[Any]:
        """The stream ended before (or without) the terminal event: text still held, as new
        events, so that nothing is lost."""
        ...

    def heartbeat(self) -> Any | None:
        """A sign-of-life event the format's official client accepts while a think block is
        being dropped (Anthropic: `{"type": "ping"}`; Ollama: an empty chunk shaped like the
        last one; chat: the dropped event, emptied); None: an SSE comment line does."""
        ...


class Format(Protocol):
    """What the conductor and the body path need of one wire format."""

    @property
    def name(self) -> str:
        """The endpoint it belongs to, for logs and metrics: "chat", "messages", ..."""
        ...

    @property
    def framing(self) -> Framing:
        """How a stream of it is cut into events."""
        ...

    @property
    def done_payload(self) -> bytes | None:
        """The (non-JSON) data of the event that ends a stream (`[DONE]`), which the conductor
        watches the bytes for, also unfiltered; before it, the rewriter's held text goes out
        (`Rewriter.end`). None: the rewriter says when the answer is `finished`, and an
        unfiltered stream is done when its body ends."""
        ...

    def rewriter(self, config: ThinkConfig, filters: Filters, /) -> Rewriter:
        """The rewriter of one streamed answer (config.mode is never "keep" here)."""
        ...

    def filter_body(self, obj: Any, config: ThinkConfig, filters: Filters, /) -> bool:
        """Rewrite a decoded buffered answer in place; True when it changed. Not an answer of
        this format (an unexpected shape): False, unchanged."""
        ...

    def failure(self, message: str) -> Any:
        """The error event a stream ends with when strip mode cannot filter it (an exception,
        an oversized event): one the format's official client raises on. `bytes`: the whole
        event, framed by the format itself."""
        ...


class RequestSide(Protocol):
    """What the request rules ask of the format of a request (each family's `*_request`)."""

    def append_suffix(self, body: dict[str, Any], suffix: str, /) -> str | None:
        """The rule key `append_to_last_user_message`: `suffix` appended where the format keeps
        the user's last words (`body` in place); what changed, for the log, None: nothing."""
        ...

    def rewrite_history(self, body: dict[str, Any], history: History, /) -> list[str]:
        """The rule keys `history` and `history_turns` on the assistant turns of `body`, in
        place (`cot_proxy.history.History`). What changed, for the log."""
        ...

    def error_body(self, message: str, type: str, code: str, /) -> bytes:
        """An error answer of the proxy's own, in the shape the format's official client shows."""
        ...

    def rule_for(
        self, model: str, rule: ModelRule | None, match: Callable[[str], ModelRule | None], /
    ) -> ModelRule | None:
        """The rule of a request for `model`, given the one `match` found for its name: the
        format may know other names of the same model (Ollama's `:latest`)."""
        ...


class EndpointFormat(Format, RequestSide, Protocol):
    """A format with its request side: what the registry maps an endpoint to and the flow's
    record holds (`FlowNotes.format`)."""
