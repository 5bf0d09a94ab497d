"""The addon hooks, called directly in mitmproxy's test context (taddons/tflow), no network."""

from __future__ import annotations

import gzip
import json
import logging

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from cot_proxy import addon as cp
from cot_proxy.codec import DecodingStream
from cot_proxy.stream import ThinkStream
from cot_proxy.think import ThinkConfig


@pytest.fixture
def started():
    """Behave as after start-up: configuration errors raise OptionsError (and are rolled back)."""
    cp.Startup.started = True
    yield
    cp.Startup.started = False


def chat_flow(
    body: object, path: str = "/v1/chat/completions", content_type: str = "application/json"
) -> http.HTTPFlow:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = tutils.treq(method=b"POST", path=path.encode(), content=raw)
    request.headers["content-type"] = content_type
    return tflow.tflow(req=request)


def sse_response(flow: http.HTTPFlow, status: int = 200, **headers: str) -> None:
    flow.response = tutils.tresp(status_code=status, content=b"")
    flow.response.headers.clear()
    flow.response.headers["content-type"] = "text/event-stream"
    flow.response.headers["content-length"] = "123"
    for name, value in headers.items():
        flow.response.headers[name.replace("_", "-")] = value


# --- Router ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base, path, expected",
    [
        ("http://upstream:8080/v1/", "/v1/chat/completions?x=1", "/v1/chat/completions?x=1"),
        ("http://upstream:8080/x/v1/", "/chat/completions", "/x/v1/chat/completions"),
    ],
)
def test_router_pins_target_and_prefix(base, path, expected):
    router = cp.Router()
    with taddons.context(router) as tctx:
        tctx.configure(router, target_base_url=base)
        flow = chat_flow({"model": "m"}, path=path)
        flow.request.headers["host"] = "elsewhere.example:1234"
        flow.request.host = "elsewhere.example"
        flow.request.port = 1234
        flow.request.headers["accept-encoding"] = "gzip, br"
        router.request(flow)
        assert (flow.request.scheme, flow.request.host, flow.request.port) == (
            "http",
            "upstream",
            8080,
        )
        assert flow.request.path == expected
        assert flow.request.headers["host"] == "upstream:8080"
        assert flow.request.headers["accept-encoding"] == "identity"


def test_router_leaves_answered_flows_alone():
    router = cp.Router()
    with taddons.context(router) as tctx:
        tctx.configure(router, target_base_url="http://upstream:8080/v1/")
        flow = chat_flow({"model": "m"})
        flow.response = tutils.tresp()
        router.request(flow)
        assert flow.request.path == "/v1/chat/completions"
        assert flow.request.host != "upstream"


def test_router_rejects_bad_url_and_keeps_old(started):
    router = cp.Router()
    with taddons.context(router) as tctx:
        tctx.configure(router, target_base_url="http://good:1/v1")
        with pytest.raises(exceptions.OptionsError, match="must start with http"):
            tctx.configure(router, target_base_url="good:1/v1")
        assert tctx.options.target_base_url == "http://good:1/v1"
        assert router.target and router.target.host == "good"


def test_bad_option_at_startup_logs_one_line(caplog):
    router = cp.Router()
    with taddons.context(router) as tctx:
        caplog.set_level(logging.ERROR)
        tctx.configure(router, target_base_url="nope")
        assert "cot-proxy: TARGET_BASE_URL 'nope' must start with http" in caplog.text


# --- RequestRules ----------------------------------------------------------------------------


def rules_addon() -> tuple[cp.RequestRules, cp.ThinkRemoval]:
    think = cp.ThinkRemoval()
    return cp.RequestRules(think), think


def test_invalid_json_answered_locally():
    rules, think = rules_addon()
    with taddons.context(rules, think):
        flow = chat_flow(b'{"model": ')
        rules.request(flow)
        assert flow.response and flow.response.status_code == 400
        assert flow.response.json()["error"]["code"] == "invalid_json"
        assert flow.metadata[cp.LOCAL]


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x"])
def test_other_content_types_untouched(content_type):
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=m,temperature=0.1")
        flow = chat_flow(b'{"model": "m"', content_type=content_type)
        rules.request(flow)
        assert flow.response is None
        assert flow.request.content == b'{"model": "m"'


def test_rule_applied_and_think_config_recorded():
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(
            rules,
            llm_params="model=qwen3-*,temperature=0.6,think_mode=reasoning,upstream_model_name=Q",
        )
        flow = chat_flow({"model": "qwen3-8b", "temperature": 0, "messages": []})
        rules.request(flow)
        body = flow.request.json()
        assert body["temperature"] == 0.6 and body["model"] == "Q"
        assert flow.metadata[cp.THINK].mode == "reasoning"
        assert flow.metadata[cp.ENDPOINT] == "chat"
        assert "temperature=0.6" in flow.metadata[cp.CHANGES]


def test_no_rule_means_body_bytes_untouched():
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=other,temperature=0.6")
        raw = b'{"model":   "m", "temperature": 1}'
        flow = chat_flow(raw)
        rules.request(flow)
        assert flow.request.content == raw


def test_live_rule_change_applies_and_bad_change_is_rolled_back(started):
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=m,temperature=0.1")
        tctx.configure(rules, llm_params="model=m,temperature=0.2")
        flow = chat_flow({"model": "m"})
        rules.request(flow)
        assert flow.request.json()["temperature"] == 0.2
        with pytest.raises(exceptions.OptionsError, match="group 1"):
            tctx.configure(rules, llm_params="temperature=0.3")
        assert tctx.options.llm_params == "model=m,temperature=0.2"
        flow = chat_flow({"model": "m"})
        rules.request(flow)
        assert flow.request.json()["temperature"] == 0.2


@pytest.mark.parametrize(
    "method, path, endpoint",
    [
        ("POST", "/v1/chat/completions", "chat"),
        ("POST", "/chat/completions/", "chat"),
        ("POST", "/v1/completions?x=1", "completions"),
        ("GET", "/v1/models", "models"),
        ("GET", "/v1/chat/completions", None),
        ("POST", "/v1/responses", None),
        ("POST", "/api/chat", None),
    ],
)
def test_endpoint_of(method, path, endpoint):
    assert cp.endpoint_of(method, path) == endpoint


# --- ThinkRemoval: choosing how a response is handled ----------------------------------------


def think_flow(config: ThinkConfig | None = None, endpoint: str = "chat") -> http.HTTPFlow:
    flow = chat_flow({"model": "m", "stream": True})
    flow.metadata[cp.ENDPOINT] = endpoint
    if config:
        flow.metadata[cp.THINK] = config
    return flow


def test_sse_gets_filter_and_framing_fixed():
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow)
        think.responseheaders(flow)
        assert isinstance(flow.response.stream, ThinkStream)
        assert "content-length" not in flow.response.headers
        assert flow.response.headers["transfer-encoding"] == "chunked"


def test_keep_mode_streams_untouched():
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow(ThinkConfig(mode="keep"))
        sse_response(flow)
        think.responseheaders(flow)
        assert flow.response.stream is True
        assert flow.response.headers["content-length"] == "123"


@pytest.mark.parametrize("status", [400, 401, 500])
def test_error_responses_never_filtered(status):
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow, status=status)
        think.responseheaders(flow)
        assert not callable(flow.response.stream)


def test_other_endpoints_stream_through():
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow(endpoint=None)
        flow.response = tutils.tresp(headers=http.Headers(content_type="application/x-ndjson"))
        think.responseheaders(flow)
        assert flow.response.stream is True


def test_local_responses_skipped():
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow)
        flow.metadata[cp.LOCAL] = True
        think.responseheaders(flow)
        assert flow.response.stream is False


def test_gzip_stream_decoded_and_filtered():
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow, content_encoding="gzip")
        think.responseheaders(flow)
        assert isinstance(flow.response.stream, DecodingStream)
        assert "content-encoding" not in flow.response.headers
        event = b'data: {"choices":[{"index":0,"delta":{"content":"<think>x</think>Hi"}}]}\n\n'
        out = flow.response.stream(gzip.compress(event)) + flow.response.stream(b"")
        text = b"".join(out)
        assert b"Hi" in text and b"think" not in text


def test_unknown_encoding_passed_through_with_warning(caplog):
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow, content_encoding="zstd")
        think.responseheaders(flow)
        assert flow.response.stream is True
        assert flow.response.headers["content-encoding"] == "zstd"
        assert "unfiltered" in caplog.text


def test_think_options_validated(started):
    think = cp.ThinkRemoval()
    with taddons.context(think) as tctx:
        with pytest.raises(exceptions.OptionsError, match="must be one of strip, reasoning, keep"):
            tctx.configure(think, think_mode="hide")
        with pytest.raises(exceptions.OptionsError, match="must differ"):
            tctx.configure(think, think_tag="<t>", think_end_tag="<t>")
        tctx.configure(
            think, think_tag="<thinking>", think_end_tag="</thinking>", think_mode="reasoning"
        )
        assert think.defaults == ThinkConfig(
            mode="reasoning", tags=(("<thinking>", "</thinking>"),)
        )


def test_buffered_chat_response_filtered():
    think = cp.ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        body = {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "<think>a</think>\n\nB"}}
            ]
        }
        flow.response = tutils.tresp(content=json.dumps(body).encode())
        flow.response.headers["content-type"] = "application/json"
        think.responseheaders(flow)
        assert not flow.response.stream
        think.response(flow)
        assert flow.response.json()["choices"][0]["message"]["content"] == "B"
        assert int(flow.response.headers["content-length"]) == len(flow.response.raw_content)


# --- Health ----------------------------------------------------------------------------------


async def test_health_ignores_other_paths():
    router = cp.Router()
    tls = cp.TargetTls()
    health = cp.Health(router, tls)
    with taddons.context(router, tls, health) as tctx:
        tctx.configure(router, target_base_url="http://127.0.0.1:9/v1/")
        flow = tflow.tflow()
        flow.request.path = "/v1/health"
        health.request(flow)
        assert flow.response is None and not flow.intercepted


async def test_health_waits_for_the_probe_without_blocking():
    router = cp.Router()
    tls = cp.TargetTls()
    health = cp.Health(router, tls)
    with taddons.context(router, tls, health) as tctx:
        tctx.configure(
            router, target_base_url="http://127.0.0.1:9/v1/"
        )  # nothing listens on port 9
        flow = tflow.tflow()
        flow.request.path = "/health"
        health.request(flow)
        assert flow.intercepted and flow.response is None  # the hook returned at once
        await flow.wait_for_resume()
        assert flow.response.status_code == 503
        assert flow.response.json()["status"] == "unhealthy"


async def test_cot_proxy_runs_the_parts_in_order_and_stops_at_a_local_answer():
    proxy = cp.CotProxy()
    with taddons.context(proxy) as tctx:
        tctx.configure(
            proxy, target_base_url="http://upstream:8080/v1/", llm_params="model=m,temperature=0.5"
        )
        flow = chat_flow({"model": "m"}, path="/chat/completions")
        proxy.request(flow)
        assert flow.request.path == "/v1/chat/completions"  # router ran after the rules
        assert flow.request.json()["temperature"] == 0.5
        bad = chat_flow(b"{", path="/chat/completions")
        proxy.request(bad)
        assert bad.response.status_code == 400
        assert bad.request.path == "/chat/completions"  # the router did not run


def test_main_script_loads_one_addon():
    from pathlib import Path

    with taddons.context() as tctx:
        module = tctx.script(str(Path(__file__).resolve().parents[2] / "addon" / "main.py"))
        assert [type(a).__name__ for a in module.addons] == ["CotProxy"]


# --- Gateway and BodyLimit -------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization, allowed",
    [
        ("Bearer k1", True),
        ("bearer k2", True),
        ("Bearer  k1 ", True),
        ("Bearer k3", False),
        ("Bearer k", False),
        ("Bearer ", False),
        ("k1", False),
        ("Basic k1", False),
        ("", False),
    ],
)
def test_gateway_keys(authorization, allowed):
    gateway = cp.Gateway({"PROXY_API_KEYS": "k1, k2,,"})
    with taddons.context(gateway):
        flow = chat_flow({"model": "m"})
        if authorization:
            flow.request.headers["authorization"] = authorization
        gateway.request(flow)
        if allowed:
            assert flow.response is None
            assert flow.request.headers["authorization"] == authorization  # passed on unchanged
        else:
            assert flow.response.status_code == 401
            assert flow.response.json()["error"]["code"] == "invalid_api_key"


def test_gateway_off_by_default_and_target_key_swap():
    with taddons.context():
        open_gateway = cp.Gateway({})
        flow = chat_flow({"model": "m"})
        open_gateway.request(flow)
        assert flow.response is None and "authorization" not in flow.request.headers

        swapping = cp.Gateway({"TARGET_API_KEY": "sk-target"})
        flow = chat_flow({"model": "m"})
        flow.request.headers["authorization"] = "Bearer client"
        flow.request.headers["x-api-key"] = "client"
        flow.request.headers["api-key"] = "client"
        swapping.request(flow)
        assert flow.request.headers["authorization"] == "Bearer sk-target"
        assert "x-api-key" not in flow.request.headers and "api-key" not in flow.request.headers


def test_body_limit_by_declared_length_and_by_size():
    limit = cp.BodyLimit()
    with taddons.context(limit) as tctx:
        tctx.configure(limit, max_request_bytes=10)
        declared = chat_flow(b"x" * 5)
        declared.request.headers["content-length"] = "11"
        limit.requestheaders(declared)
        assert declared.response.status_code == 413
        chunked = chat_flow(b"x" * 11)
        del chunked.request.headers["content-length"]
        limit.requestheaders(chunked)
        assert chunked.response is None
        limit.request(chunked)
        assert chunked.response.status_code == 413
        exact = chat_flow(b"x" * 10)
        limit.requestheaders(exact)
        limit.request(exact)
        assert exact.response is None
