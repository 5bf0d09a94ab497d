"""Wire formats: where each API keeps an answer's text, and which format a request path speaks.

A wire format is one module of this package, satisfying `WireFormat` with module-level names.
It knows the shape of one API's JSON and nothing else: `ThinkStream` (SSE streams) and
`filter_body` (buffered JSON) ask it where the text is, then run the same channel step
(`cot_proxy.channel`) on it. A channel is one independent text stream of an answer: a choice in
OpenAI's chat and completions; a content block or an output item in other APIs.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any
from typing import Literal
from typing import Protocol

from cot_proxy.events import EventFormat
from cot_proxy.formats import chat
from cot_proxy.formats import completions
from cot_proxy.formats import messages
from cot_proxy.formats import ollama
from cot_proxy.formats import responses

Endpoint = Literal[
    "chat",
    "completions",
    "models",
    "responses",  # OpenAI Responses API
    "messages",  # Anthropic Messages
    "ollama_chat",  # Ollama's native /api/chat
    "ollama_generate",  # Ollama's native /api/generate
    "ollama_tags",  # Ollama's model list
]


class WireFormat(Protocol):
    """What the stream conductor and the body filter need to know about one API's answers."""

    @property
    def name(self) -> str:
        """The endpoint it belongs to, for logs: "chat", "completions", ..."""
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

    def event_channels(self, obj: Any) -> list[tuple[int, dict[str, Any] | None, Any]] | None:
        """The channels one decoded stream event carries, in order, as (channel, text container,
        finish reason); the channel finishes in this event when its finish reason is not None;
        container None when the channel has none in this event (held text then goes out in an
        event of its own if it finishes). None: not an answer event, pass it on."""
        ...

    def body_containers(self, obj: Any) -> list[tuple[dict[str, Any], Any]] | None:
        """(text container, finish reason) of each channel of a decoded buffered answer;
        None: not an answer."""
        ...

    def carries_nothing(self, obj: dict[str, Any]) -> bool:
        """True when a filtered event is left with no text and no other field worth sending."""
        ...

    def released_event(
        self, last: dict[str, Any], channel: int, answer: str, think: str, reasoning_field: str
    ) -> dict[str, Any]:
        """A new event carrying only text released at the end of `channel` (answer text, and
        think text in `reasoning_field`), shaped like `last`, the channel's last event."""
        ...

    def failure(self, message: str) -> dict[str, Any]:
        """The error event a stream ends with when strip mode cannot filter it (an exception,
        an oversized event): one the format's official client raises on."""
        ...

    def channels_known(self, raw: bytes, known: Container[int]) -> bool:
        """Whether every channel the raw event may carry text for is in `known`, judged without
        parsing (implicit_start: a new channel holds all its text, so its events are parsed)."""
        ...


FORMATS: dict[str, WireFormat] = {"chat": chat, "completions": completions}

# The endpoints whose answers are typed events (`cot_proxy.events`), by endpoint name.
EVENT_FORMATS: dict[str, EventFormat] = {
    "responses": responses,
    "messages": messages,
    "ollama_chat": ollama.chat,
    "ollama_generate": ollama.generate,
}


def format_for(endpoint: str | None) -> WireFormat | None:
    """The wire format of an endpoint; None for endpoints whose answers carry no text ("models")."""
    return FORMATS.get(endpoint) if endpoint is not None else None


def event_format_for(endpoint: str | None) -> EventFormat | None:
    """The event format of an endpoint (Responses, Messages, Ollama), if it is one."""
    return EVENT_FORMATS.get(endpoint) if endpoint is not None else None


# (method, path ending, endpoint), in the order they are tried: "/chat/completions" before
# "/completions".
_ENDPOINTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("POST", "/chat/completions", "chat"),
    ("POST", "/completions", "completions"),
    ("POST", "/responses", "responses"),
    ("POST", "/messages", "messages"),
    ("POST", "/api/chat", "ollama_chat"),
    ("POST", "/api/generate", "ollama_generate"),
    ("GET", "/models", "models"),
    ("GET", "/api/tags", "ollama_tags"),
)


def endpoint_ending(path: str) -> str | None:
    """The endpoint path that `path` ends with, whatever the method (`/v1/chat/completions` ->
    `/chat/completions`); None if it names none."""
    path = path.rstrip("/")
    return next((ending for _, ending, _ in _ENDPOINTS if path.endswith(ending)), None)


def endpoint_of(method: str, path: str) -> Endpoint | None:
    """Which endpoint a client path names, judged by its end so any prefix works.

    Only what creates an answer (and the model lists): `…/messages/count_tokens`, batches and
    `GET …/responses/{id}` are no endpoint of ours and pass untouched.
    """
    path = path.split("?", 1)[0].rstrip("/")
    for wanted, ending, endpoint in _ENDPOINTS:
        if method == wanted and path.endswith(ending):
            return endpoint
    return None
