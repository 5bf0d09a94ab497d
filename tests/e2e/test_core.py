"""The proxy end to end: routing, headers, /health, JSON errors, passthrough, with curl and the openai SDK."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from .conftest import ENTRYPOINT
from .conftest import REPO
from .conftest import VENV_BIN
from .conftest import free_port
from .conftest import run_entrypoint
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion
from .upstream import chat_stream

KEY = "sk-test-SECRETKEY0123456789"


def curl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", str(timeout), *args],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
    )


def curl_json(*args: str, timeout: float = 20) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, lower-case headers) of one curl call."""
    result = curl("-i", *args, timeout=timeout)
    assert result.stdout, f"no answer: {result.stderr}"
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, json.loads(body), headers


def client(proxy, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20, **kw)


# --- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_path, client_path, expected",
    [
        ("/v1/", "/v1/chat/completions", "/v1/chat/completions"),
        ("/", "/v1/chat/completions", "/v1/chat/completions"),
        ("/x/v1/", "/chat/completions", "/x/v1/chat/completions"),
        ("/x/v1/", "/v1/models?limit=5&after=a%2Fb", "/x/v1/models?limit=5&after=a%2Fb"),
    ],
)
def test_routing_joins_base_path(start_proxy, upstream, base_path, client_path, expected):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}{base_path}"})
    status, body, _ = curl_json(f"{proxy.url}{client_path}")
    assert status == 200
    assert [r.path for r in upstream.received] == [expected]


def test_every_method_and_headers_forwarded(proxy, upstream):
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"]:
        curl(
            "-X",
            method,
            "-H",
            f"Authorization: Bearer {KEY}",
            "-H",
            "X-Custom: 1",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "not json {",
            f"{proxy.url}/v1/files/abc?purpose=x",
        )
    assert [r.method for r in upstream.received] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    for r in upstream.received:
        assert r.path == "/v1/files/abc?purpose=x"
        assert r.headers["authorization"] == f"Bearer {KEY}"
        assert r.headers["x-custom"] == "1"
        assert r.headers["host"] == f"127.0.0.1:{upstream.port}"
        assert r.body == b"not json {"  # non-JSON bodies are forwarded untouched


def test_absolute_form_and_host_header_cannot_redirect(proxy, upstream):
    # A client path or Host header naming another host still goes to the target, in origin-form.
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.sendall(
            b"GET http://example.invalid:81/v1/models HTTP/1.1\r\nHost: example.invalid:81\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert [r.path for r in upstream.received] == ["/v1/models"]
    assert upstream.received[0].headers["host"] == f"127.0.0.1:{upstream.port}"


def test_openai_sdk_chat_non_streaming(proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(200, chat_completion("Hello!"))

    upstream.reset(handler)
    result = client(proxy).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert result.choices[0].message.content == "Hello!"
    assert upstream.received[0].headers["authorization"] == f"Bearer {KEY}"
    assert upstream.received[0].json()["messages"] == [{"role": "user", "content": "hi"}]


def test_openai_sdk_chat_streaming(proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(chat_stream(["Hel", "lo", "!"]))

    upstream.reset(handler)
    stream = client(proxy).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello!"


def test_keep_alive_kept_for_streams(proxy, upstream):
    """Two streamed requests over one client connection (chunked framing after the rewrite)."""

    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(chat_stream(["<think>x</think>", "ok"]))

    upstream.reset(handler)
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
        "--next",
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
        "-v",
    )
    assert (
        result.stderr.count("Re-using existing connection")
        + result.stderr.count("Reusing existing")
        >= 1
    ), result.stderr
    assert result.stdout.count("[DONE]") == 2


# --- upstream answers pass through ----------------------------------------------------------


@pytest.mark.parametrize("status", [401, 404, 429, 500])
def test_upstream_errors_pass_through(proxy, upstream, status):
    body = {"error": {"message": "<think>not touched</think> nope", "type": "x", "code": None}}

    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(status, body, {"X-Upstream": "yes"})

    upstream.reset(handler)
    got_status, got_body, headers = curl_json(
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m"}',
        f"{proxy.url}/v1/chat/completions",
    )
    assert (got_status, got_body, headers["x-upstream"]) == (status, body, "yes")


def test_openai_sdk_sees_upstream_401(proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )

    upstream.reset(handler)
    with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
        client(proxy).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )


# --- errors made by the proxy ----------------------------------------------------------------


def test_invalid_json_is_400_and_not_forwarded(proxy, upstream):
    status, body, headers = curl_json(
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model": "m",',
        f"{proxy.url}/v1/chat/completions",
    )
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "invalid_json"
    assert "not valid JSON" in body["error"]["message"]
    assert upstream.received == []


def test_unreachable_target_is_json_502(start_proxy):
    dead = f"http://127.0.0.1:{free_port()}/v1/"
    proxy = start_proxy({"TARGET_BASE_URL": dead})
    status, body, headers = curl_json(f"{proxy.url}/v1/models")
    assert status == 502
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"] == "target_unreachable"
    assert "Cannot get an answer from the target" in body["error"]["message"]
    # the SDK shows the message too
    with pytest.raises(openai.APIStatusError) as info:
        client(proxy).models.list()
    assert info.value.status_code == 502


def test_silent_target_is_json_504(start_proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await asyncio.sleep(30)

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "API_REQUEST_TIMEOUT": "1"})
    started = time.monotonic()
    status, body, headers = curl_json(
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m"}',
        f"{proxy.url}/v1/chat/completions",
    )
    elapsed = time.monotonic() - started
    assert status == 504
    assert body["error"]["code"] == "target_timeout"
    assert "1 s" in body["error"]["message"]
    assert 0.9 < elapsed < 10


def test_silence_mid_stream_ends_the_stream(start_proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        await reply.chunk(b'data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n')
        await asyncio.sleep(30)

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "API_REQUEST_TIMEOUT": "1"})
    started = time.monotonic()
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
    )
    assert time.monotonic() - started < 10
    assert "partial" in result.stdout


def test_slow_but_steady_stream_is_not_cut(start_proxy, upstream):
    """The timeout is for silence, not for the whole answer: chunks 0.6 s apart outlast 1 s."""

    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(chat_stream(["a", "b", "c", "d"]), delay=0.6)

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "API_REQUEST_TIMEOUT": "1"})
    stream = client(proxy).chat.completions.create(model="m", messages=[], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "abcd"


def test_next_request_works_after_timeout(start_proxy, upstream):
    calls = []

    async def handler(req: Received, reply: Reply) -> None:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(30)
        await reply.json(200, {"second": True})

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "API_REQUEST_TIMEOUT": "1"})
    assert curl_json(f"{proxy.url}/v1/models")[0] == 504
    assert curl_json(f"{proxy.url}/v1/models")[:2] == (200, {"second": True})


# --- /health ---------------------------------------------------------------------------------


VERSION = (REPO / "VERSION").read_text().strip()


def test_health_up(proxy, upstream):
    status, body, _ = curl_json(f"{proxy.url}/health")
    expected = {"status": "healthy", "target_url": f"{upstream.url}/v1/", "version": VERSION}
    assert (status, body) == (200, expected)
    # answered locally: the probe went to the target's base path, not /health
    assert all(r.path != "/health" and not r.path.endswith("/health") for r in upstream.received)


def test_health_down(start_proxy):
    dead = f"http://127.0.0.1:{free_port()}/v1/"
    proxy = start_proxy({"TARGET_BASE_URL": dead})
    status, body, _ = curl_json(f"{proxy.url}/health")
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["target_url"] == dead
    assert "cannot connect" in body["error"]
    assert body["version"] == VERSION


def test_version_from_one_place(proxy, upstream, tmp_path):
    """VERSION: `./entrypoint.sh --version` (with nothing configured), the log's first line."""
    result = subprocess.run(
        [str(ENTRYPOINT), "--version"],
        env={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "TARGET_BASE_URL": "nonsense"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"cot-proxy {VERSION}" and lines[1].startswith("Mitmproxy: ")
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", VERSION)
    first = proxy.log().splitlines()[0]
    assert first == (
        f"cot-proxy {VERSION}: mitmdump in front of {upstream.url}/v1/, on 127.0.0.1:{proxy.port}, "
        "1 worker(s)"
    )


def test_health_hanging_target_does_not_block_other_requests(start_proxy, upstream):
    # A target that accepts TCP but never answers: the health check waits 5 s, others go on.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        proxy = start_proxy(
            {"TARGET_BASE_URL": f"http://127.0.0.1:{port}/v1/", "API_REQUEST_TIMEOUT": "30"}
        )
        result: dict[str, Any] = {}

        def check() -> None:
            result["health"] = curl_json(f"{proxy.url}/health")

        started = time.monotonic()
        thread = threading.Thread(target=check)
        thread.start()
        time.sleep(0.5)
        # meanwhile, a locally answered request is served at once
        status, body, _ = curl_json(
            "-H", "Content-Type: application/json", "-d", "{bad", f"{proxy.url}/v1/chat/completions"
        )
        assert status == 400
        assert time.monotonic() - started < 3
        thread.join(15)
        status, body, _ = result["health"]
        assert status == 503
        assert "within 5 s" in body["error"]
        assert 4.5 < time.monotonic() - started < 12
    finally:
        silent.close()


# --- logging ---------------------------------------------------------------------------------


def test_log_line_per_request_and_no_secrets_with_debug(start_proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(200, chat_completion("<think>hmm</think>Hi"))

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "DEBUG": "true"})
    curl(
        "-H",
        f"Authorization: Bearer {KEY}",
        "-H",
        "api-key: AZUREKEY123456",
        "-H",
        "x-api-key: XAPIKEY987654",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"qwen","messages":[]}',
        f"{proxy.url}/v1/chat/completions",
    )
    curl(f"{proxy.url}/v1/models?key=QUERYSECRET123")
    log = proxy.wait_log("GET /v1/models?key=*** 200")
    assert "POST /v1/chat/completions model=qwen 200" in log
    assert "request body" in log  # DEBUG adds bodies
    for secret in (KEY, "SECRETKEY", "AZUREKEY123456", "XAPIKEY987654", "QUERYSECRET123"):
        assert secret not in log


# --- configuration errors fail fast ----------------------------------------------------------


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TARGET_BASE_URL": "localhost:8000/v1"}, "must start with http:// or https://"),
        ({"TARGET_BASE_URL": "ftp://h/v1"}, "must start with http:// or https://"),
        ({"TARGET_BASE_URL": "http://h:80a/v1"}, "invalid port"),
        ({"PORT": "50x"}, "PORT must be a number"),
        ({"API_REQUEST_TIMEOUT": "soon"}, "API_REQUEST_TIMEOUT must be a whole number"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
        ({"THINK_MODE": "hide"}, "think_mode"),
        ({"LLM_PARAMS": "temperature=0.5"}, "LLM_PARAMS"),
        (
            {"LLM_PARAMS": "model=a,think_mod=reasoning"},
            "cot-proxy: LLM_PARAMS group 1 ('model=a,think_mod=reasoning'): unknown key "
            "'think_mod' (did you mean 'think_mode'?)\n",
        ),
        (
            {"TARGET_BASE_URL": "http://127.0.0.1:9/v1/chat/completions"},
            "cot-proxy: TARGET_BASE_URL 'http://127.0.0.1:9/v1/chat/completions' is a whole "
            "endpoint: give the server's base URL, http://127.0.0.1:9/v1 (clients add "
            "/chat/completions themselves)\n",
        ),
    ],
)
def test_bad_configuration_fails_fast(tmp_path, env, message):
    result = run_entrypoint({"TARGET_BASE_URL": "http://127.0.0.1:9/v1/", **env}, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_option_fails_fast(tmp_path):
    # mitmproxy defers unknown --set names silently; the addon turns that into an error at start.
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/v1/"}, tmp_path, args=["--set", "think_mdoe=keep"]
    )
    assert result.returncode != 0
    assert "think_mdoe" in result.stdout + result.stderr


def test_requests_at_startup_do_not_crash_the_proxy(tmp_path):
    """Requests sent from the moment the port opens are served, and the proxy keeps running.

    Plain mitmdump opens its port before its `running` hooks; a request in that gap crashed it
    (no CA loaded yet), most often with an https target, whose UDP listener widened the gap.
    """
    from .conftest import Proxy

    proxy = Proxy(
        {"TARGET_BASE_URL": f"https://127.0.0.1:{free_port()}/v1/"}, tmp_path / "proxy.log"
    )
    try:
        answered = proxy.first_answer(
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answered and answered.startswith(b"HTTP/1.1 502"), answered
        assert curl_json(f"{proxy.url}/v1/models")[0] == 502
        assert proxy.process.poll() is None, proxy.log()
        assert "Traceback" not in proxy.log()
    finally:
        proxy.stop()


def test_port_in_use_fails_fast(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_entrypoint(
            {"TARGET_BASE_URL": "http://127.0.0.1:9/v1/", "PORT": str(port)}, tmp_path
        )
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert (
        f"cot-proxy: cannot listen on 127.0.0.1:{port}: the port is in use; stop what listens "
        "there or set PORT to a free one\n" in log
    )
    assert "--mode" not in log and "Errno" not in log  # mitmproxy's own advice, for its CLI


def test_mitmweb_runs_the_same_addon(start_proxy, upstream):
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"{upstream.url}/v1/", "MITM_TOOL": "mitmweb"},
        args=["--web-port", str(free_port())],
    )
    status, body, _ = curl_json(
        "-H", "Content-Type: application/json", "-d", "{bad", f"{proxy.url}/v1/chat/completions"
    )
    assert (status, body["error"]["code"]) == (400, "invalid_json")


def test_docker_healthcheck_script(proxy, start_proxy):
    script = str(Path(__file__).resolve().parents[2] / "docker" / "healthcheck.py")
    healthy = subprocess.run(
        [sys.executable, script], env={**os.environ, "PORT": str(proxy.port)}, timeout=20
    )
    assert healthy.returncode == 0
    down = start_proxy({"TARGET_BASE_URL": f"http://127.0.0.1:{free_port()}/v1/"})
    unhealthy = subprocess.run(
        [sys.executable, script],
        env={**os.environ, "PORT": str(down.port)},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert unhealthy.returncode == 1
    assert "unhealthy" in unhealthy.stderr


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("", ""), ("2", "2")])
def test_mitmdump_runs_optimized_unless_told_not_to(start_proxy, upstream, given, expected):
    """entrypoint.sh runs mitmdump under Python's -O (PYTHONOPTIMIZE=1: mitmproxy's debug-only
    checks off, docs/performance.md); a PYTHONOPTIMIZE of the caller's, empty included, wins."""
    env = {"TARGET_BASE_URL": f"{upstream.url}/v1/"}
    if given is not None:
        env["PYTHONOPTIMIZE"] = given
    proxy = start_proxy(env)
    environ = (Path("/proc") / str(proxy.process.pid) / "environ").read_bytes().split(b"\0")
    assert f"PYTHONOPTIMIZE={expected}".encode() in environ
    assert b"mitmdump" in (Path("/proc") / str(proxy.process.pid) / "cmdline").read_bytes()
    status, body, _ = curl_json(f"{proxy.url}/health")
    assert (status, body["status"]) == (200, "healthy")
