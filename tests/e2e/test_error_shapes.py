"""Errors the proxy makes itself reach each official client in its own API's shape: the
openai SDK reads `error.code`, the anthropic SDK `{"type": "error", "error": {...}}`, and the
ollama client the string in `{"error": "..."}` (it shows whatever that field holds, so an
OpenAI-shaped body reached an Ollama user as a dict)."""

from __future__ import annotations

import anthropic
import ollama
import openai
import pytest

from .conftest import free_port
from .test_core import curl_json

UNREACHABLE = "Cannot get an answer from the target"
BAD_KEY = "Missing or invalid API key for this proxy"
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def dead_target(start_proxy):
    """A proxy whose target listens nowhere: every forwarded request is the proxy's 502."""
    port = free_port()
    return start_proxy({"TARGET_BASE_URL": f"http://127.0.0.1:{port}/v1/"})


def test_openai_sdk_reads_the_code(dead_target):
    client = openai.OpenAI(base_url=f"{dead_target.url}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    assert info.value.code == "target_unreachable"
    assert UNREACHABLE in info.value.message


def test_anthropic_sdk_gets_an_anthropic_error(dead_target):
    client = anthropic.Anthropic(base_url=dead_target.url, api_key="k", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="m", max_tokens=8, messages=HI)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "upstream_error"
    assert body["error"]["code"] == "target_unreachable"
    assert UNREACHABLE in body["error"]["message"]


@pytest.mark.parametrize("call", ["chat", "list"])
def test_ollama_client_shows_the_message(dead_target, call):
    """Chat, and the model list (`/api/tags`, no format of ours, still Ollama's API)."""
    client = ollama.Client(host=dead_target.url, timeout=20)
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="m", messages=HI) if call == "chat" else client.list()
    assert info.value.status_code == 502
    assert isinstance(info.value.error, str)
    assert info.value.error.startswith(UNREACHABLE)


@pytest.mark.parametrize(
    ("path", "message_of"),
    [
        ("/v1/chat/completions", lambda body: body["error"]["message"]),
        ("/v1/messages", lambda body: body["type"] == "error" and body["error"]["message"]),
        ("/api/chat", lambda body: body["error"]),
    ],
)
def test_a_body_that_is_not_json_is_refused_in_the_apis_shape(dead_target, path, message_of):
    status, body, headers = curl_json(
        "-H", "Content-Type: application/json", "-d", '{"model": "m",', f"{dead_target.url}{path}"
    )
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert message_of(body).startswith("The request body is not valid JSON")


def test_the_gateways_401_reaches_the_ollama_client_as_text(start_proxy):
    port = free_port()
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"http://127.0.0.1:{port}/", "PROXY_API_KEYS": "sk-proxy-1"}
    )
    with pytest.raises(ollama.ResponseError) as info:
        ollama.Client(host=proxy.url, timeout=20).chat(model="m", messages=HI)
    assert info.value.status_code == 401
    assert isinstance(info.value.error, str) and info.value.error.startswith(BAD_KEY)
    client = anthropic.Anthropic(base_url=proxy.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as denied:
        client.messages.create(model="m", max_tokens=8, messages=HI)  # type: ignore[arg-type]
    assert denied.value.body["error"]["code"] == "invalid_api_key"
