"""`make demo`: demo/run.sh starts the scripted reasoning model and the proxy in front of it."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from typing import NamedTuple

import anthropic
import ollama
import openai
import pytest

from .conftest import REPO
from .conftest import Proxy
from .conftest import free_port

THINK_TEXT = "I will think first"  # part of what demo/upstream.py thinks
ANSWER = "Hello! I thought about this first; the proxy removed that part."


class Demo(NamedTuple):
    proxy: Proxy
    upstream_url: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("demo")
    upstream_port = free_port()
    proxy = Proxy(
        # LISTEN_HOST as good as unset (entrypoint.sh and run.sh read an empty one so): run.sh's
        # own default applies
        {"DEMO_UPSTREAM_PORT": str(upstream_port), "LISTEN_HOST": ""},
        home / "demo.log",
        entrypoint=REPO / "demo" / "run.sh",
    )
    try:
        proxy.wait_ready()
        wait_healthy(proxy)
        yield Demo(proxy, f"http://127.0.0.1:{upstream_port}")
    finally:
        proxy.stop()


def wait_healthy(proxy: Proxy, timeout: float = 15.0) -> None:
    """The demo upstream may start a moment after the proxy: /health says when both are up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{proxy.url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"demo not healthy within {timeout} s:\n{proxy.log()}")


def curl(url: str, body: dict[str, Any], stream: bool = False) -> str:
    args = ["curl", "-sS", "--max-time", "20", url, "-H", "Content-Type: application/json"]
    args += ["-N"] if stream else []
    result = subprocess.run(
        [*args, "-d", json.dumps(body)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


def chat(stream: bool) -> dict[str, Any]:
    return {
        "model": "demo-reasoner",
        "stream": stream,
        "messages": [{"role": "user", "content": "Hi"}],
    }


def test_the_demo_model_thinks(demo: Demo) -> None:
    # straight from the demo upstream, the think block is there: the proxy is what removes it
    raw = curl(f"{demo.upstream_url}/v1/chat/completions", chat(False))
    assert json.loads(raw)["choices"][0]["message"]["content"].startswith("<think>")
    streamed = curl(
        f"{demo.upstream_url}/v1/completions",
        {"prompt": "Hi", "stream": True},
        stream=True,
    )
    assert "<think" in "".join(json.loads(d)["choices"][0]["text"] for d in sse_data(streamed)[:-1])


def test_curl_buffered_chat(demo: Demo) -> None:
    answer = json.loads(curl(f"{demo.proxy.url}/v1/chat/completions", chat(False)))
    assert answer["choices"][0]["message"]["content"] == ANSWER


def test_curl_streamed_chat(demo: Demo) -> None:
    text = curl(f"{demo.proxy.url}/v1/chat/completions", chat(True), stream=True)
    data = sse_data(text)
    assert data[-1] == "[DONE]"
    content = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for d in data[:-1])
    assert content == ANSWER
    assert "think" not in text


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_completions(demo: Demo, stream: bool) -> None:
    client = openai.OpenAI(
        base_url=f"{demo.proxy.url}/v1", api_key="demo", timeout=20, max_retries=0
    )
    if stream:
        text = "".join(
            c.choices[0].text
            for c in client.completions.create(model="demo-reasoner", prompt="Hi", stream=True)
            if c.choices
        )
    else:
        text = client.completions.create(model="demo-reasoner", prompt="Hi").choices[0].text
    assert text == ANSWER


def test_stopping_the_demo_stops_both(tmp_path: Path) -> None:
    upstream_port = free_port()
    proxy = Proxy(
        {"DEMO_UPSTREAM_PORT": str(upstream_port)},
        tmp_path / "demo.log",
        entrypoint=REPO / "demo" / "run.sh",
    )
    try:
        proxy.wait_ready()
        wait_healthy(proxy)
        proxy.process.terminate()  # SIGTERM to run.sh alone, as `kill PID` or make's Ctrl-C would
        assert proxy.process.wait(15) == 0
    finally:
        proxy.stop()
    for port in (proxy.port, upstream_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_both_listen_on_this_machine_only(demo: Demo) -> None:
    log = demo.proxy.log()
    assert f"listening at 127.0.0.1:{demo.proxy.port}" in log
    assert f"scripted reasoning model on {demo.upstream_url}/v1" in log


def post(url: str, body: dict[str, Any], **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


FORMATS = [
    ("/v1/chat/completions", chat(False)),
    ("/v1/completions", {"model": "demo-reasoner", "prompt": "Hi"}),
    ("/v1/responses", {"model": "demo-reasoner", "input": "Hi"}),
    (
        "/v1/messages",
        {"model": "demo-reasoner", "max_tokens": 99, "messages": chat(False)["messages"]},
    ),
    ("/api/chat", {"model": "demo-reasoner", "messages": chat(False)["messages"]}),
    ("/api/generate", {"model": "demo-reasoner", "prompt": "Hi"}),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("path", "body"), FORMATS)
def test_every_format_thinks_first_and_the_proxy_removes_it(
    demo: Demo, path: str, body: dict[str, Any], stream: bool
) -> None:
    body = {**body, "stream": stream}
    status, raw = post(demo.upstream_url + path, body)
    assert status == 200 and b"<think" in raw
    status, proxied = post(demo.proxy.url + path, body)
    assert status == 200 and b"think" not in proxied  # the SDK tests below check the text
    assert len(proxied) > len(ANSWER)


def openai_client(demo: Demo, key: str = "demo") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{demo.proxy.url}/v1", api_key=key, timeout=20, max_retries=0)


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_responses(demo: Demo, stream: bool) -> None:
    client = openai_client(demo)
    if stream:
        events = client.responses.create(model="demo-reasoner", input="Hi", stream=True)
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    else:
        text = client.responses.create(model="demo-reasoner", input="Hi").output_text
    assert text == ANSWER


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_messages(demo: Demo, stream: bool) -> None:
    client = anthropic.Anthropic(base_url=demo.proxy.url, api_key="demo", max_retries=0)
    request = {"model": "demo-reasoner", "max_tokens": 99, "messages": chat(False)["messages"]}
    if stream:
        with client.messages.stream(**request) as events:
            text = events.get_final_text()
    else:
        text = "".join(
            b.text for b in client.messages.create(**request).content if b.type == "text"
        )
    assert text == ANSWER


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_client(demo: Demo, stream: bool) -> None:
    client = ollama.Client(host=demo.proxy.url, timeout=20)
    messages = chat(False)["messages"]
    if stream:
        parts = client.chat(model="demo-reasoner", messages=messages, stream=True)
        text = "".join(p.message.content or "" for p in parts)
        generated = "".join(
            p.response or "" for p in client.generate("demo-reasoner", "Hi", stream=True)
        )
    else:
        text = client.chat(model="demo-reasoner", messages=messages).message.content or ""
        generated = client.generate("demo-reasoner", "Hi").response or ""
    assert text == generated == ANSWER
    assert [m.model for m in client.list().models] == ["demo-reasoner:latest"]


def test_the_readmes_401_example(demo: Demo) -> None:
    """README, Quick start: a wrong key, answered by the upstream and passed on unchanged."""
    result = subprocess.run(
        ["curl", "-s", "-i", f"{demo.proxy.url}/v1/chat/completions",
         "-H", "Authorization: Bearer sk-bad", "-H", "Content-Type: application/json",
         "-d", '{"model": "qwen3", "messages": []}'],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 401 ")
    assert "Content-Type: application/json" in head.split("\n")
    assert body == (
        '{"error": {"message": "Incorrect API key provided: sk-bad.", "type": '
        '"invalid_request_error", "param": null, "code": "invalid_api_key"}}'
    )


def test_a_wrong_key_is_refused_in_each_clients_terms(demo: Demo) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai_client(demo, "sk-bad").models.list()
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(
            base_url=demo.proxy.url, api_key="sk-bad", max_retries=0
        ).messages.create(model="demo-reasoner", max_tokens=9, messages=chat(False)["messages"])
    wrong = ollama.Client(host=demo.proxy.url, headers={"Authorization": "Bearer sk-bad"})
    with pytest.raises(ollama.ResponseError) as e:
        wrong.list()
    assert e.value.status_code == 401


def test_a_client_hanging_up_mid_stream_is_one_line(demo: Demo) -> None:
    body = json.dumps(chat(True)).encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    for url in (demo.upstream_url, demo.proxy.url):  # straight, and the proxy passing it on
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head + body)
            received = b""
            while b"data: " not in received:  # the stream has begun
                chunk = s.recv(65536)
                assert chunk, received
                received += chunk
        time.sleep(0.5)  # the next pieces meet a closed connection
    log = demo.proxy.log()
    assert log.count("demo upstream: the client hung up") == 2
    assert "Traceback" not in log and "Exception occurred" not in log
