"""The wire-format table, and endpoint_of: which OpenAI endpoint a request path names."""

from __future__ import annotations

import inspect

import pytest

from cot_proxy.formats import FORMATS
from cot_proxy.formats import WireFormat
from cot_proxy.formats import chat
from cot_proxy.formats import completions
from cot_proxy.formats import endpoint_of
from cot_proxy.formats import format_for


@pytest.mark.parametrize(
    "method, path, endpoint",
    [
        ("POST", "/v1/chat/completions", "chat"),
        ("POST", "/chat/completions/", "chat"),
        ("POST", "/v1/completions?x=1", "completions"),
        ("GET", "/v1/models", "models"),
        ("GET", "/v1/chat/completions", None),
        ("POST", "/v1/responses", "responses"),
        ("GET", "/v1/responses/resp_1", None),
        ("POST", "/v1/messages", "messages"),
        ("POST", "/v1/messages/count_tokens", None),
        ("POST", "/v1/messages/batches", None),
        ("POST", "/api/chat", "ollama_chat"),
        ("POST", "/ollama/api/generate", "ollama_generate"),
        ("GET", "/api/tags", "ollama_tags"),
        ("GET", "/api/chat", None),
    ],
)
def test_endpoint_of(method: str, path: str, endpoint: str | None) -> None:
    assert endpoint_of(method, path) == endpoint


def test_format_for_each_endpoint() -> None:
    assert format_for("chat") is chat
    assert format_for("completions") is completions
    assert format_for("models") is None  # answers without text
    assert format_for(None) is None
    assert format_for("responses") is None


def protocol_members() -> set[str]:
    return {
        name
        for name, _ in inspect.getmembers(WireFormat)
        if not name.startswith("_") and name in WireFormat.__dict__
    }


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_has_every_member(name: str) -> None:
    fmt = FORMATS[name]
    assert fmt.name == name
    for member in protocol_members():
        assert hasattr(fmt, member), member


def test_the_protocol_members() -> None:
    assert protocol_members() == {
        "name",
        "text_key",
        "upstream_reasoning_fields",
        "done_payload",
        "event_channels",
        "body_containers",
        "carries_nothing",
        "released_event",
        "failure",
        "channels_known",
    }
