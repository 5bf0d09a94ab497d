"""`make demo`: demo/run.sh starts the scripted reasoning model and the proxy in front of it."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

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
        {"DEMO_UPSTREAM_PORT": str(upstream_port)},
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


def curl(url: str, body: dict, stream: bool = False) -> str:
    args = ["curl", "-sS", "--max-time", "20", url, "-H", "Content-Type: application/json"]
    args += ["-N"] if stream else []
    result = subprocess.run(
        [*args, "-d", json.dumps(body)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


def chat(stream: bool) -> dict:
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
