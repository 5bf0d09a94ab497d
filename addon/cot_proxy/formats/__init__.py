"""Wire formats: one `Format` per endpoint that answers with text, and which endpoint a request
path names.

A format knows the shape of one API's JSON and nothing else (`cot_proxy.formats._api`): the
conductor (`cot_proxy.stream.FilterStream`) and the body path (`cot_proxy.body`) ask it for the
rewriter of a stream and to rewrite a buffered answer. A channel is one independent text stream
of an answer: a choice in OpenAI's chat and completions; a content block or an output item in
other APIs. Chat and completions are one `ChoiceShape` each (`choices`), Ollama's endpoints one
`OllamaFormat` each; Messages and Responses are modules.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import Literal

from cot_proxy.formats import messages
from cot_proxy.formats import ollama
from cot_proxy.formats import responses
from cot_proxy.formats._api import Format
from cot_proxy.formats.choices import ChoiceShape
from cot_proxy.formats.choices import chat
from cot_proxy.formats.choices import completions
from cot_proxy.formats.choices_stream import WireFormat

__all__ = [
    "EVENT_FORMATS",
    "FORMATS",
    "Endpoint",
    "Format",
    "WireFormat",
    "chat",
    "completions",
    "endpoint_ending",
    "endpoint_of",
    "event_format_for",
    "format_for",
    "format_of",
]

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


# The choices family (chat, completions), by endpoint name.
FORMATS: dict[str, ChoiceShape] = {"chat": chat, "completions": completions}

# The endpoints whose answers are typed events (Responses, Messages, Ollama), by endpoint name.
EVENT_FORMATS: dict[str, Format] = {
    "responses": responses,
    "messages": messages,
    "ollama_chat": ollama.chat,
    "ollama_generate": ollama.generate,
}


def format_of(endpoint: str | None) -> Format | None:
    """The format of an endpoint, whichever its family; None for endpoints whose answers carry
    no text ("models")."""
    if endpoint is None:
        return None
    shape = FORMATS.get(endpoint)
    return shape if shape is not None else EVENT_FORMATS.get(endpoint)


def format_for(endpoint: str | None) -> ChoiceShape | None:
    """The choice shape of an endpoint (chat, completions), if it is one."""
    return FORMATS.get(endpoint) if endpoint is not None else None


def event_format_for(endpoint: str | None) -> Format | None:
    """The format of an endpoint of the other families (Responses, Messages, Ollama)."""
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
