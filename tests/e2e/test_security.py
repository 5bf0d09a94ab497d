"""Security end to end: only the target is ever contacted, TLS verified, gateway keys, secrets never logged."""

from __future__ import annotations

import socket

import openai
import pytest

from .certs import make_ca_and_server
from .conftest import run_entrypoint
from .test_core import KEY
from .test_core import curl
from .test_core import curl_json
from .upstream import Received
from .upstream import Reply
from .upstream import Upstream
from .upstream import chat_completion


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize(
    "target, host, expected_path",
    [
        (b"http://evil.invalid/v1/models", b"evil.invalid", "/v1/models"),
        (b"https://evil.invalid:8443/x", b"x", "/v1/x"),
        (b"//evil.invalid/v1/models", b"x", "/v1//evil.invalid/v1/models"),
        (b"/v1/../../evil", b"x", "/v1/../../evil"),
        (b"/v1/%2F%2Fevil.invalid%2Fx", b"x", "/v1/%2F%2Fevil.invalid%2Fx"),
        (b"/v1/models", b"evil.invalid:80", "/v1/models"),
        (b"/v1/models", b"127.0.0.1:1", "/v1/models"),
    ],
)
def test_requests_only_reach_the_target(proxy, upstream, target, host, expected_path):
    """Whatever the request target or Host header says, the proxy talks to the configured target only."""
    answer = raw_request(
        proxy.port, b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (target, host)
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert [r.path for r in upstream.received] == [expected_path]
    assert upstream.received[0].headers["host"] == f"127.0.0.1:{upstream.port}"


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory):
    ca, server_context = make_ca_and_server(tmp_path_factory.mktemp("tls"))
    server = Upstream().start(tls=server_context)

    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(200, chat_completion("<think>x</think>secure"))

    server.handler = handler
    yield server, ca
    server.stop()


def test_tls_verified_by_default(start_proxy, tls_upstream):
    server, _ = tls_upstream
    proxy = start_proxy({"TARGET_BASE_URL": f"https://127.0.0.1:{server.port}/v1"})
    status, body, _ = curl_json(f"{proxy.url}/v1/models")
    assert status == 502
    assert "certificate" in body["error"]["message"].lower()
    assert server.received == []
    status, body, _ = curl_json(f"{proxy.url}/health")
    assert status == 503 and "certificate" in body["error"].lower()


def test_tls_custom_ca_bundle(start_proxy, tls_upstream):
    server, ca = tls_upstream
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"https://127.0.0.1:{server.port}/v1", "TARGET_CA_BUNDLE": str(ca)}
    )
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0)
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert answer.choices[0].message.content == "secure"
    assert curl_json(f"{proxy.url}/health")[0] == 200


def test_tls_verification_off_only_explicitly_and_warned(start_proxy, tls_upstream):
    server, _ = tls_upstream
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"https://127.0.0.1:{server.port}/v1", "TARGET_TLS_VERIFY": "false"}
    )
    assert curl_json(f"{proxy.url}/v1/models")[0] == 200
    assert "TLS verification of the target is OFF" in proxy.log()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TARGET_CA_BUNDLE": "/nonexistent/ca.pem"}, "is not a readable file"),
        ({"TARGET_TLS_VERIFY": "sometimes"}, "TARGET_TLS_VERIFY must be true or false"),
        ({"MAX_REQUEST_BYTES": "lots"}, "MAX_REQUEST_BYTES must be a whole number"),
    ],
)
def test_bad_security_settings_fail_fast(tmp_path, env, message):
    result = run_entrypoint({"TARGET_BASE_URL": "https://127.0.0.1:9/v1", **env}, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_ca_bundle_without_certificate_fails_fast(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    result = run_entrypoint(
        {"TARGET_BASE_URL": "https://127.0.0.1:9/v1", "TARGET_CA_BUNDLE": str(bogus)}, tmp_path
    )
    assert result.returncode != 0
    assert "holds no PEM certificate" in result.stdout + result.stderr


# --- gateway keys ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_proxy(start_proxy, upstream):
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "PROXY_API_KEYS": "gw-key-one, gw-key-two",
            "TARGET_API_KEY": "sk-target-TOPSECRET",
            "DEBUG": "true",
        }
    )


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic gw-key-one", "Bearer ", "Bearer gw-key-on"]
)
def test_gateway_refuses_without_a_valid_key(gateway_proxy, upstream, authorization):
    args = ["-H", f"Authorization: {authorization}"] if authorization else []
    status, body, headers = curl_json(*args, f"{gateway_proxy.url}/v1/models")
    assert status == 401
    assert body["error"]["type"] == "authentication_error"
    assert headers["www-authenticate"] == "Bearer"
    assert upstream.received == []


@pytest.mark.parametrize("key", ["gw-key-one", "gw-key-two"])
def test_gateway_accepts_any_listed_key_and_swaps_credential(gateway_proxy, upstream, key):
    status, _, _ = curl_json(
        "-H",
        f"Authorization: Bearer {key}",
        "-H",
        "x-api-key: client-side-key",
        f"{gateway_proxy.url}/v1/models",
    )
    assert status == 200
    sent = upstream.received[0].headers
    assert sent["authorization"] == "Bearer sk-target-TOPSECRET"
    assert "x-api-key" not in sent


def test_gateway_health_stays_open_and_keys_never_logged(gateway_proxy, upstream):
    assert curl_json(f"{gateway_proxy.url}/health")[0] == 200
    curl(
        "-H",
        "Authorization: Bearer gw-key-one",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model": "m"}',
        f"{gateway_proxy.url}/v1/chat/completions",
    )
    log = gateway_proxy.wait_log("POST /v1/chat/completions model=m 200")
    for secret in ("gw-key-one", "gw-key-two", "TOPSECRET", "client-side-key"):
        assert secret not in log
    # and not on the command line either, where `ps` shows it
    cmdline = open(f"/proc/{gateway_proxy.process.pid}/cmdline", "rb").read()
    assert b"TOPSECRET" not in cmdline and b"gw-key" not in cmdline


def test_openai_sdk_through_gateway(gateway_proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(200, chat_completion("ok"))

    upstream.reset(handler)
    good = openai.OpenAI(base_url=f"{gateway_proxy.url}/v1", api_key="gw-key-two", max_retries=0)
    assert good.chat.completions.create(model="m", messages=[]).choices[0].message.content == "ok"
    bad = openai.OpenAI(base_url=f"{gateway_proxy.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="m", messages=[])


# --- request size ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_body_proxy(start_proxy, upstream):
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "MAX_REQUEST_BYTES": "1000"})


def test_oversized_body_is_413(small_body_proxy, upstream):
    body = '{"model": "m", "pad": "' + "x" * 2000 + '"}'
    status, answer, _ = curl_json(
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        f"{small_body_proxy.url}/v1/chat/completions",
    )
    assert status == 413
    assert answer["error"]["code"] == "request_too_large"
    assert upstream.received == []


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"])
def test_a_declared_oversized_body_is_413_at_once_and_closed(small_body_proxy, upstream, expect):
    """Refused on its headers: no `100 Continue`, no waiting for an upload nobody will read, and
    the connection closed (the unread upload is not the next request)."""
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n" + expect + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", small_body_proxy.port), timeout=5) as s:
        s.sendall(head + b"{" * 10)  # a start of the body, the rest never comes
        answer = b""
        while chunk := s.recv(65536):  # until the proxy closes (a timeout fails the test)
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"code": "request_too_large"' in answer and b"1000 bytes" in answer
    assert upstream.received == []


def test_oversized_chunked_body_is_413(small_body_proxy, upstream):
    body = '{"model": "m", "pad": "' + "x" * 2000 + '"}'
    status, answer, _ = curl_json(
        "-H",
        "Content-Type: application/json",
        "-H",
        "Transfer-Encoding: chunked",
        "-d",
        body,
        f"{small_body_proxy.url}/v1/chat/completions",
    )
    assert status == 413
    assert upstream.received == []


def test_body_at_the_limit_is_forwarded(small_body_proxy, upstream):
    body = '{"model": "m", "pad": "' + "x" * (1000 - 25) + '"}'
    assert len(body) == 1000
    status, _, _ = curl_json(
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        f"{small_body_proxy.url}/v1/chat/completions",
    )
    assert status == 200
    assert len(upstream.received[0].body) == 1000


def test_gateway_enforced_from_the_first_request(tmp_path):
    """No request can slip in before the addon is loaded: the port opens only once it is.

    mitmproxy loads `-s` scripts in a task that may run after its servers listen; an https
    target (which made mitmproxy open a UDP port too) widened that window.
    """
    from .conftest import Proxy
    from .conftest import free_port

    target = f"https://127.0.0.1:{free_port()}/v1/"
    proxy = Proxy({"TARGET_BASE_URL": target, "PROXY_API_KEYS": "k"}, tmp_path / "proxy.log")
    try:
        answered = proxy.first_answer(
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answered and answered.startswith(b"HTTP/1.1 401"), answered
    finally:
        proxy.stop()
