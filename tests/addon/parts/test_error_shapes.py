"""Every error the proxy answers itself is in the shape of the API the client speaks
(`flow.answer_error`): OpenAI's for chat, completions and Responses, Anthropic's for
Messages, Ollama's for its native API. tests/e2e/test_error_shapes.py shows the official
clients reading them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.flow import error_for
from cot_proxy.flow import notes
from cot_proxy.parts.body_limit import BodyLimit
from cot_proxy.parts.concurrency import Concurrency
from cot_proxy.parts.gateway import Gateway
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.shutdown import Shutdown
from cot_proxy.parts.think_removal import ThinkRemoval
from tests.addon.flows import chat_flow

# path -> (code, message) of an error body in that API's shape; KeyError/TypeError if not.
SHAPES: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "/v1/chat/completions": lambda e: (e["error"]["code"], e["error"]["message"]),
    "/v1/completions": lambda e: (e["error"]["code"], e["error"]["message"]),
    "/v1/responses": lambda e: (e["error"]["code"], e["error"]["message"]),
    "/v1/messages": lambda e: (
        e["error"]["code"] if e["type"] == "error" else "",
        e["error"]["message"],
    ),
    "/api/chat": lambda e: (e["code"], e["error"]),
    "/api/generate": lambda e: (e["code"], e["error"]),
}


def shape(path: str, response: http.Response | None) -> tuple[str, str]:
    assert response is not None
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.content or b"")
    code, message = SHAPES[path](body)
    assert isinstance(message, str), body
    return code, message


def flow_at(path: str, body: bytes = b'{"model": "m"}') -> http.HTTPFlow:
    return chat_flow(body, path=path)


@pytest.mark.parametrize("path", SHAPES)
def test_invalid_json_and_think_mode(path: str) -> None:
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think):
        flow = flow_at(path, b'{"model": "m",')
        rules.request(flow)
        code, message = shape(path, flow.response)
        assert code == "invalid_json" and message.startswith("The request body is not valid JSON")
        flow = flow_at(path)
        flow.request.headers["X-Think-Mode"] = "loud"
        rules.request(flow)
        assert shape(path, flow.response)[0] == "invalid_think_mode"


@pytest.mark.parametrize("path", SHAPES)
def test_too_many_requests(path: str) -> None:
    part = Concurrency()
    with taddons.context(part) as tctx:
        tctx.configure(part, max_concurrent_requests=1)
        part.request(flow_at(path))
        refused = flow_at(path)
        part.request(refused)
        assert refused.response is not None and refused.response.status_code == 429
        assert shape(path, refused.response)[0] == "too_many_concurrent_requests"


@pytest.mark.parametrize("path", SHAPES)
def test_body_too_large(path: str) -> None:
    part = BodyLimit()
    with taddons.context(part) as tctx:
        tctx.configure(part, max_request_bytes=10)
        flow = flow_at(path, b'{"model": "a-long-model-name"}')
        part.request(flow)
        assert flow.response is not None and flow.response.status_code == 413
        assert shape(path, flow.response)[0] == "request_too_large"


@pytest.mark.parametrize("path", SHAPES)
def test_missing_key(path: str) -> None:
    part = Gateway({"PROXY_API_KEYS": "sk-1"})
    with taddons.context(part):
        flow = flow_at(path)
        part.request(flow)
        assert flow.response is not None and flow.response.status_code == 401
        code, message = shape(path, flow.response)
        assert code == "invalid_api_key" and "Authorization: Bearer" in message


@pytest.mark.parametrize("path", SHAPES)
def test_shutting_down(path: str) -> None:
    part = Shutdown()
    with taddons.context(part):
        part.draining = True
        flow = flow_at(path)
        part.request(flow)
        assert flow.response is not None and flow.response.status_code == 503
        assert shape(path, flow.response)[0] == "shutting_down"


@pytest.mark.parametrize("path", SHAPES)
def test_an_answer_strip_mode_cannot_decode(path: str) -> None:
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think) as tctx:
        tctx.configure(think, think_mode="strip")
        flow = flow_at(path)
        rules.request(flow)
        flow.response = tutils.tresp(content=b"\x00not gzip")
        flow.response.headers["content-type"] = "application/json"
        flow.response.headers["content-encoding"] = "gzip"
        think.response(flow)
        assert flow.response.status_code == 502
        assert shape(path, flow.response)[1]  # the format's words for the failure


def test_a_path_of_no_known_format_gets_openais_shape() -> None:
    part = Gateway({"PROXY_API_KEYS": "sk-1"})
    with taddons.context(part):
        flow = flow_at("/v1/messages/count_tokens")
        part.request(flow)
        assert flow.response is not None
        assert json.loads(flow.response.content or b"")["error"]["code"] == "invalid_api_key"
        assert notes(flow).local


@pytest.mark.parametrize(
    ("method", "path", "ollama"),
    [
        ("GET", "/api/tags", True),  # Ollama's model list: no format, Ollama's shape still
        ("POST", "/api/show", True),
        ("GET", "/api/version", True),
        ("POST", "/api/v1/chat/completions", False),  # OpenAI-style under /api (OpenRouter)
        ("GET", "/api/v1/models", False),
        ("GET", "/v1/models", False),
    ],
)
def test_the_rest_of_ollamas_native_api_gets_its_shape(method: str, path: str, ollama: bool):
    part = Gateway({"PROXY_API_KEYS": "sk-1"})
    with taddons.context(part):
        flow = flow_at(path)
        flow.request.method = method
        part.request(flow)
        assert flow.response is not None
        body = json.loads(flow.response.content or b"")
        message = body["error"] if ollama else body["error"]["message"]
        assert isinstance(message, str) and message.startswith("Missing or invalid API key")


def test_the_shape_is_the_client_paths_after_routing() -> None:
    """The rules record the client's API before the router rewrites the path (a target below a
    prefix turns `/api/tags` into `/ollama/api/tags`): the 502 after that still knows it."""
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think):
        flow = flow_at("/api/tags")
        flow.request.method = "GET"
        rules.request(flow)
        flow.request.path = "/ollama/api/tags"
        assert json.loads(error_for(flow, "down", "upstream_error", "target_unreachable")) == {
            "error": "down",
            "code": "target_unreachable",
        }
