"""The endpoints: which path names which endpoint, and its wire format or model-list merger.

The one table that maps request paths to formats (`ENDPOINTS`). The request rules look a
request's endpoint and format up once (`endpoint_of`, `format_of`) and write both on the
flow's record (`cot_proxy.flow.FlowNotes`); the later hooks read them there. Nothing in a
format's modules imports this one: adding a format is its modules and one row here.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from typing import Literal

from cot_proxy.formats import messages
from cot_proxy.formats import ollama
from cot_proxy.formats import responses
from cot_proxy.formats._api import EndpointFormat
from cot_proxy.formats.choices import ChoiceShape
from cot_proxy.formats.choices import chat
from cot_proxy.formats.choices import completions
from cot_proxy.formats.choices_request import merge_models_list
from cot_proxy.formats.ollama_request import merge_ollama_tags

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

# A model list's upstream JSON and the rules' (pseudo name, model) pairs -> the list with them,
# None: not a list of that shape, passed unchanged.
MergeModels = Callable[[object, list[tuple[str, str]]], dict[str, Any] | None]


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    ending: str
    """The end of the path that names the endpoint, whatever comes before (`/v1`, a prefix)."""
    endpoint: Endpoint
    format: EndpointFormat | None = None
    """The wire format of its requests and answers; None: its answers carry no text."""
    merge_models: MergeModels | None = None
    """A model list: how the rules' pseudo models are added to the upstream's answer."""


# In the order they are tried: "/chat/completions" before "/completions".
ENDPOINTS: tuple[Route, ...] = (
    Route("POST", "/chat/completions", "chat", chat),
    Route("POST", "/completions", "completions", completions),
    Route("POST", "/responses", "responses", responses),
    Route("POST", "/messages", "messages", messages),
    Route("POST", "/api/chat", "ollama_chat", ollama.chat),
    Route("POST", "/api/generate", "ollama_generate", ollama.generate),
    Route("GET", "/models", "models", merge_models=merge_models_list),
    Route("GET", "/api/tags", "ollama_tags", merge_models=merge_ollama_tags),
)

_BY_ENDPOINT: dict[str, Route] = {route.endpoint: route for route in ENDPOINTS}

# The choices family (chat, completions), by endpoint name.
FORMATS: dict[str, ChoiceShape] = {"chat": chat, "completions": completions}

# The endpoints whose answers are typed events (Responses, Messages, Ollama), by endpoint name.
EVENT_FORMATS: dict[str, EndpointFormat] = {
    route.endpoint: route.format
    for route in ENDPOINTS
    if route.format is not None and route.endpoint not in FORMATS
}


def format_of(endpoint: str | None) -> EndpointFormat | None:
    """The format of an endpoint, whichever its family; None for endpoints whose answers carry
    no text ("models")."""
    route = _BY_ENDPOINT.get(endpoint) if endpoint is not None else None
    return route.format if route is not None else None


def model_list_merger(endpoint: str | None) -> MergeModels | None:
    """How pseudo models are added to the answer of a model-list endpoint; None: not one."""
    route = _BY_ENDPOINT.get(endpoint) if endpoint is not None else None
    return route.merge_models if route is not None else None


def format_for(endpoint: str | None) -> ChoiceShape | None:
    """The choice shape of an endpoint (chat, completions), if it is one."""
    return FORMATS.get(endpoint) if endpoint is not None else None


def event_format_for(endpoint: str | None) -> EndpointFormat | None:
    """The format of an endpoint of the other families (Responses, Messages, Ollama)."""
    return EVENT_FORMATS.get(endpoint) if endpoint is not None else None


def endpoint_ending(path: str) -> str | None:
    """The endpoint path that `path` ends with, whatever the method (`/v1/chat/completions` ->
    `/chat/completions`); None if it names none."""
    path = path.rstrip("/")
    return next((route.ending for route in ENDPOINTS if path.endswith(route.ending)), None)


def endpoint_of(method: str, path: str) -> Endpoint | None:
    """Which endpoint a client path names, judged by its end so any prefix works.

    Only what creates an answer (and the model lists): `…/messages/count_tokens`, batches and
    `GET …/responses/{id}` are no endpoint of ours and pass untouched.
    """
    path = path.split("?", 1)[0].rstrip("/")
    for route in ENDPOINTS:
        if method == route.method and path.endswith(route.ending):
            return route.endpoint
    return None


def api_of_path(method: str, path: str) -> EndpointFormat | None:
    """The API a client path speaks, for the shape of an error the proxy makes: its endpoint's
    format; else Ollama's for the rest of Ollama's native API (`/api/…`, which `routing` places
    beside `/v1`; not an OpenAI-style `/api/v1/…`); None: OpenAI's."""
    found = format_of(endpoint_of(method, path))
    if found is not None:
        return found
    bare = path.split("?", 1)[0]
    native = (bare + "/").startswith("/api/") and not (bare + "/").startswith("/api/v1/")
    return ollama.chat if native else None
