"""Ollama's native API end to end: the real proxy, the ollama Python client and curl -N, against an
upstream that writes Ollama's bytes (ollama_fixtures.py says where each shape comes from)."""

from __future__ import annotations

import json
import time
from typing import Any

import ollama
import pytest

from .ollama_fixtures import chat_line
from .ollama_fixtures import error_line
from .ollama_fixtures import generate_line
from .ollama_fixtures import go_json
from .ollama_fixtures import json_handler
from .ollama_fixtures import ndjson
from .ollama_fixtures import ndjson_handler
from .ollama_fixtures import stream_lines
from .ollama_fixtures import tool_call
from .test_core import curl
from .test_core import curl_json
from .upstream import Handler
from .upstream import Received
from .upstream import Reply

MESSAGES = [{"role": "user", "content": "Hi"}]
PIECES = ["<th", "ink>The user greets me", " & wants <b>bold</b>.</thi", "nk>\n\nHal", "lo! 👋"]
ANSWER = "Hallo! 👋"


@pytest.fixture(scope="module")
def ollama_proxy(start_proxy, upstream):
    """A proxy in front of an Ollama server: its API lives under /api, no /v1."""
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/", "API_REQUEST_TIMEOUT": "10"})


def client(proxy, **headers: str) -> ollama.Client:
    return ollama.Client(host=proxy.url, headers=headers, timeout=20)


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def serve_stream(upstream, endpoint: str, pieces: list[str], size: int = 10**6, **kw: Any) -> bytes:
    raw = b"".join(ndjson(stream_lines(endpoint, pieces, **kw)))
    upstream.reset(ndjson_handler(cut(raw, size)))
    return raw


@pytest.mark.parametrize("size", [1, 7, 10**6])
def test_chat_streamed_cut_anywhere(ollama_proxy, upstream, size: int) -> None:
    raw = serve_stream(upstream, "chat", PIECES, size)
    assert b"\\u003cth" in raw and b"\\u0026" in raw  # Go's escapes
    parts = list(client(ollama_proxy).chat(model="qwen3:8b", messages=MESSAGES, stream=True))
    assert "".join(p.message.content or "" for p in parts) == ANSWER
    assert all(not p.message.thinking for p in parts)
    assert [p.done for p in parts] == [False, False, True]
    assert parts[-1].done_reason == "stop" and parts[-1].eval_count == 57
    assert upstream.received[-1].path == "/api/chat"


@pytest.mark.parametrize("size", [3, 10**6])
def test_generate_streamed(ollama_proxy, upstream, size: int) -> None:
    serve_stream(upstream, "generate", PIECES, size)
    parts = list(client(ollama_proxy).generate(model="qwen3:8b", prompt="Hi", stream=True))
    assert "".join(p.response or "" for p in parts) == ANSWER
    assert parts[-1].done and parts[-1].context == [151644, 872, 198, 13048]


def test_reasoning_mode_moves_think_text_to_thinking(ollama_proxy, upstream) -> None:
    serve_stream(upstream, "chat", PIECES, 5)
    reasoning = client(ollama_proxy, **{"X-Think-Mode": "reasoning"})
    parts = list(reasoning.chat(model="qwen3:8b", messages=MESSAGES, stream=True))
    assert "".join(p.message.content or "" for p in parts) == ANSWER
    thinking = "".join(p.message.thinking or "" for p in parts)
    assert thinking == "The user greets me & wants <b>bold</b>."


@pytest.mark.parametrize(
    ("mode", "content", "thinking"),
    [
        ("strip", "Hallo", ""),
        ("reasoning", "Hallo", "Let me think."),
        ("inline", "<think>Let me think.</think>Hallo", ""),
    ],
)
def test_ollamas_own_thinking_field(
    ollama_proxy, upstream, mode: str, content: str, thinking: str
) -> None:
    """`think: true`: Ollama's parser already put the reasoning in message.thinking."""
    serve_stream(upstream, "chat", ["Hal", "lo"], 4, thinking=["Let me", " think."])
    parts = list(
        client(ollama_proxy, **{"X-Think-Mode": mode}).chat(
            model="qwen3:8b", messages=MESSAGES, stream=True, think=True
        )
    )
    assert "".join(p.message.content or "" for p in parts) == content
    assert "".join(p.message.thinking or "" for p in parts) == thinking


def test_tool_calls_come_through(ollama_proxy, upstream) -> None:
    calls = [tool_call("get_weather", city="Zürich", unit="<c>")]
    lines = [
        chat_line("<think>weather"),
        chat_line("</think>", step=1, tool_calls=calls),
        chat_line(step=2, done_reason="stop"),
    ]
    upstream.reset(ndjson_handler(ndjson(lines)))
    parts = list(client(ollama_proxy).chat(model="qwen3:8b", messages=MESSAGES, stream=True))
    got = [c for p in parts for c in p.message.tool_calls or ()]
    assert [(c.function.name, dict(c.function.arguments)) for c in got] == [
        ("get_weather", {"city": "Zürich", "unit": "<c>"})
    ]
    assert "".join(p.message.content or "" for p in parts) == ""


@pytest.mark.parametrize(
    ("mode", "content", "thinking"),
    [
        ("strip", ANSWER, None),
        ("reasoning", ANSWER, "upstream. \n\nplan"),
        ("inline", "<think>upstream. </think><think>plan</think>\n\n" + ANSWER, None),
    ],
)
def test_chat_not_streamed(ollama_proxy, upstream, mode: str, content: str, thinking: Any) -> None:
    line = chat_line("<think>plan</think>\n\n" + ANSWER, thinking="upstream. ", done_reason="stop")
    upstream.reset(json_handler(line))
    answer = client(ollama_proxy, **{"X-Think-Mode": mode}).chat(
        model="qwen3:8b", messages=MESSAGES, stream=False
    )
    assert (answer.message.content, answer.message.thinking) == (content, thinking)
    assert answer.done and answer.eval_count == 57


def test_generate_not_streamed(ollama_proxy, upstream) -> None:
    line = generate_line("<think>plan</think>" + ANSWER, done_reason="stop")
    upstream.reset(json_handler(line))
    answer = client(ollama_proxy).generate(model="qwen3:8b", prompt="Hi", stream=False)
    assert answer.response == ANSWER and answer.context == [151644, 872, 198, 13048]


def test_curl_sees_valid_lines_and_untouched_ones_byte_for_byte(ollama_proxy, upstream) -> None:
    raw = serve_stream(upstream, "chat", ["<think>x</think>", "Hello", " <b>world</b>"], 9)
    result = curl("-N", f"{ollama_proxy.url}/api/chat", "-d", json.dumps({"model": "qwen3:8b"}))
    lines = result.stdout.encode().splitlines(keepends=True)
    sent = raw.splitlines(keepends=True)
    assert (
        lines[0] == sent[1] and lines[-1] == sent[-1]
    )  # "Hello" and the done line, as Go wrote them
    objs = [json.loads(line) for line in lines]
    assert "".join(o["message"]["content"] for o in objs) == "Hello <b>world</b>"


def test_keep_mode_is_byte_identical(ollama_proxy, upstream) -> None:
    raw = serve_stream(upstream, "generate", PIECES, 6, thinking=["t"])
    result = curl("-N", "-H", "X-Think-Mode: keep", f"{ollama_proxy.url}/api/generate", "-d", "{}")
    assert result.stdout.encode() == raw


def test_an_error_line_mid_stream_reaches_the_client(ollama_proxy, upstream) -> None:
    lines = ndjson([chat_line("Hello"), chat_line(" <", step=1)]) + [error_line("runner died")]
    upstream.reset(ndjson_handler(lines))
    seen: list[str] = []
    with pytest.raises(ollama.ResponseError, match="runner died"):
        for part in client(ollama_proxy).chat(model="qwen3:8b", messages=MESSAGES, stream=True):
            seen.append(part.message.content or "")
    assert "".join(seen) == "Hello <"  # the held "<" went out before the error


def test_an_error_answer_passes_unchanged(ollama_proxy, upstream) -> None:
    body = {"error": "model 'qwen3:8b' not found, <try> pulling it first"}
    upstream.reset(json_handler(body, status=404))
    with pytest.raises(ollama.ResponseError) as caught:
        list(client(ollama_proxy).chat(model="qwen3:8b", messages=MESSAGES, stream=True))
    assert caught.value.status_code == 404 and caught.value.error == body["error"]
    result = curl(f"{ollama_proxy.url}/api/chat", "-d", "{}")
    assert result.stdout.encode() == go_json(body)


def test_a_long_dropped_block_keeps_the_client_reading(ollama_proxy, upstream) -> None:
    """7 s of think lines, one every 0.25 s: empty chunks reach the client at least every 5 s."""
    lines = stream_lines("chat", ["<think>"] + ["more thought "] * 28 + ["</think>Done"])
    upstream.reset(ndjson_handler(ndjson(lines), delay=0.25))
    start = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    for part in client(ollama_proxy).chat(model="qwen3:8b", messages=MESSAGES, stream=True):
        arrivals.append((time.monotonic() - start, part.message.content or ""))
    beats = [at for at, text in arrivals if not text][:-1]  # the done line has no text either
    assert beats and beats[0] < 6.0  # the first sign of life, well before the answer
    assert "".join(text for _, text in arrivals) == "Done"
    gaps = [b - a for a, b in zip([0.0] + beats, beats + [arrivals[-2][0]], strict=True)]
    assert max(gaps) < 6.0


def test_the_log_line_names_the_format(ollama_proxy, upstream) -> None:
    serve_stream(upstream, "generate", PIECES)
    list(client(ollama_proxy).generate(model="qwen3:8b", prompt="Hi", stream=True))
    log = ollama_proxy.wait_log("POST /api/generate")
    assert "format=ollama_generate" in log


def test_go_json_matches_gos_escapes() -> None:
    assert go_json({"a": "<&>\u2028"}) == b'{"a":"\\u003c\\u0026\\u003e\\u2028"}'


def only_at(path: str, handler: Handler) -> Handler:
    """`handler` for `path`; 404 elsewhere, as Ollama answers a path it does not serve."""

    async def at_path(req: Received, reply: Reply) -> None:
        if req.path.split("?", 1)[0] == path:
            await handler(req, reply)
        else:
            await reply.body(404, b"404 page not found", {"Content-Type": "text/plain"})

    return at_path


def test_a_v1_target_sends_the_native_api_to_the_root(start_proxy, upstream) -> None:
    """TARGET_BASE_URL=http://host:11434/v1 (Ollama's OpenAI-compatible base): the ollama client's
    /api/chat goes to the server's /api/chat, not /v1/api/chat; OpenAI paths still go under /v1."""
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1", "API_REQUEST_TIMEOUT": "10"})
    raw = b"".join(ndjson(stream_lines("chat", PIECES)))
    upstream.reset(only_at("/api/chat", ndjson_handler([raw])))
    parts = list(client(proxy).chat(model="qwen3:8b", messages=MESSAGES, stream=True))
    assert "".join(p.message.content or "" for p in parts) == ANSWER
    upstream.reset(only_at("/v1/models", json_handler({"object": "list", "data": []})))
    assert curl_json(f"{proxy.url}/v1/models")[:2] == (200, {"object": "list", "data": []})
