"""Anthropic Messages end to end: the real proxy, the anthropic SDK and curl -N, against answers
shaped like vLLM's, llama.cpp's and Anthropic's own (tests/e2e/messages_upstream.py)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import anthropic
import pytest
from anthropic.types import MessageParam

from . import messages_upstream as up
from .test_core import KEY
from .test_core import curl
from .upstream import Received
from .upstream import Reply

MESSAGES: list[MessageParam] = [{"role": "user", "content": "Weather in Paris?"}]


def sdk(proxy, mode: str | None = None) -> anthropic.Anthropic:
    headers = {"X-Think-Mode": mode} if mode else None
    return anthropic.Anthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, timeout=20, default_headers=headers
    )


def serve_stream(upstream, events: list[dict[str, Any]], chunk: int = 0) -> bytes:
    """The upstream answers with these events, in `chunk`-byte network writes (0: one per
    event); returns the bytes it sends."""
    data = up.sse(events)
    if chunk:
        chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    else:
        chunks = [up.frame(event) for event in events]

    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(chunks)

    upstream.reset(handler)
    return data


def serve_json(upstream, body: dict[str, Any], status: int = 200) -> None:
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(status, body)

    upstream.reset(handler)


def blocks(message: Any) -> list[dict[str, Any]]:
    return [block.model_dump(exclude_none=True) for block in message.content]


VLLM_TEXT = ["<think>", "The user wants ", "the weather.", "</think>", "\n\n", "It is ", "sunny."]


@pytest.mark.parametrize("chunk", [0, 7])
def test_create_stream_true_strip(proxy, upstream, chunk: int) -> None:
    serve_stream(upstream, up.vllm_text(VLLM_TEXT), chunk)
    events = list(
        sdk(proxy).messages.create(model="qwen3", max_tokens=64, messages=MESSAGES, stream=True)
    )
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "It is sunny."
    assert {e.index for e in events if hasattr(e, "index")} == {0}
    assert upstream.received[0].path == "/v1/messages"


def test_stream_helper_final_message_llama_cpp_thinking_and_tool(proxy, upstream) -> None:
    serve_stream(upstream, up.llama_thinking_tool(["Check ", "it."], ["Sure."], ['{"city":"P"}']))
    with sdk(proxy).messages.stream(model="m", max_tokens=64, messages=MESSAGES) as stream:
        starts = [e.index for e in stream if e.type == "content_block_start"]
        final = stream.get_final_message()
    assert starts == [0, 1]  # upstream's 1 and 2: its thinking block 0 is gone
    assert blocks(final) == [
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "call_Xq2", "name": "get_weather", "input": {"city": "P"}},
    ]
    assert final.stop_reason == "tool_use"


def test_stream_helper_reasoning_mode_thinking_block_first(proxy, upstream) -> None:
    serve_stream(upstream, up.vllm_text(VLLM_TEXT))
    with sdk(proxy, "reasoning").messages.stream(
        model="m", max_tokens=64, messages=MESSAGES
    ) as stream:
        final = stream.get_final_message()
        assert stream.get_final_text() == "It is sunny."
    assert blocks(final) == [
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": ""},
        {"type": "text", "text": "It is sunny."},
    ]


def test_stream_helper_inline_mode_vllm_thinking_as_text(proxy, upstream) -> None:
    serve_stream(upstream, up.vllm_thinking_tool(["Let me ", "think."], ["Sunny."], ["{}"]))
    with sdk(proxy, "inline").messages.stream(model="m", max_tokens=64, messages=MESSAGES) as s:
        final = s.get_final_message()
    assert [b.get("text") for b in blocks(final)][:2] == ["<think>Let me think.</think>", "Sunny."]
    assert [b["type"] for b in blocks(final)] == ["text", "text", "tool_use"]


def test_anthropic_shapes_ping_redacted_thinking_and_keep(proxy, upstream) -> None:
    events = up.anthropic_thinking(["Let me think."], ["Hi", "!"])
    serve_stream(upstream, events)
    with sdk(proxy).messages.stream(model="m", max_tokens=64, messages=MESSAGES) as stream:
        assert blocks(stream.get_final_message()) == [{"type": "text", "text": "Hi!"}]
    sent = serve_stream(upstream, events)
    result = curl(
        "-N",
        "-H",
        "X-Think-Mode: keep",
        "-H",
        "content-type: application/json",
        "-d",
        json.dumps({"model": "m", "max_tokens": 9, "stream": True, "messages": MESSAGES}),
        f"{proxy.url}/v1/messages",
    )
    assert result.stdout.encode() == sent  # keep: every byte as it came


def test_curl_n_event_names_and_untouched_bytes(proxy, upstream) -> None:
    sent = serve_stream(upstream, up.vllm_thinking_tool(["Hm."], ["It is ", "sunny."], ["{}"]))
    body = json.dumps({"model": "m", "max_tokens": 9, "stream": True, "messages": MESSAGES})
    result = curl(
        "-N", "-H", "content-type: application/json", "-d", body, f"{proxy.url}/v1/messages"
    )
    out = result.stdout.encode()
    assert up.frame(up.vllm_start()) in out and up.frame(up.vllm_start()) in sent
    assert out.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    for block in out.split(b"\n\n")[:-1]:
        name, data = block.split(b"\n")
        assert json.loads(data.removeprefix(b"data: "))["type"].encode() == name[7:]
    assert b"thinking" not in out and b"signature" not in out


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("strip", [{"type": "text", "text": "It is sunny."}]),
        (
            "reasoning",
            [
                {"type": "thinking", "thinking": "The user wants the weather.", "signature": ""},
                {"type": "text", "text": "It is sunny."},
            ],
        ),
    ],
)
def test_create_not_streamed(proxy, upstream, mode: str, expected: list[Any]) -> None:
    serve_json(upstream, up.vllm_body([{"type": "text", "text": "".join(VLLM_TEXT)}]))
    message = sdk(proxy, mode).messages.create(model="m", max_tokens=64, messages=MESSAGES)
    assert blocks(message) == expected


def test_not_streamed_llama_cpp_thinking_removed_and_tool_kept(proxy, upstream) -> None:
    tool = {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "P"}}
    body = up.llama_body(
        [{"type": "thinking", "thinking": "Plan.", "signature": ""}, tool], "tool_use"
    )
    serve_json(upstream, body)
    message = sdk(proxy).messages.create(model="m", max_tokens=64, messages=MESSAGES)
    assert blocks(message) == [tool]


def test_error_answers_and_count_tokens_pass_unchanged(proxy, upstream) -> None:
    serve_json(upstream, up.ANTHROPIC_ERROR, status=529)
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk(proxy).messages.create(model="m", max_tokens=64, messages=MESSAGES)
    assert caught.value.status_code == 529 and caught.value.body == up.ANTHROPIC_ERROR

    counted = {"input_tokens": 12, "note": "<think>not ours</think>"}
    serve_json(upstream, counted)
    result = curl(
        "-d",
        json.dumps({"model": "m", "messages": MESSAGES}),
        "-H",
        "content-type: application/json",
        f"{proxy.url}/v1/messages/count_tokens",
    )
    assert json.loads(result.stdout) == counted


def test_an_error_event_mid_stream_reaches_the_sdk(proxy, upstream) -> None:
    serve_stream(upstream, [*up.vllm_text(["Hi <thi"])[:3], up.ANTHROPIC_ERROR])
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        for event in sdk(proxy).messages.create(
            model="m", max_tokens=64, messages=MESSAGES, stream=True
        ):
            if event.type == "content_block_delta":
                seen.append(event.delta.text)
    assert "".join(seen) == "Hi <thi"  # the held text went out before the error


def test_a_long_think_block_gets_pings(proxy, upstream) -> None:
    events = up.vllm_text(["<think>", *["still thinking "] * 7, "</think>", "Done."])
    frames = [up.frame(event) for event in events]

    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(frames, delay=1.0)

    upstream.reset(handler)
    body = json.dumps({"model": "m", "max_tokens": 9, "stream": True, "messages": MESSAGES})
    request = (
        f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    ).encode()
    received, started = b"", time.monotonic()
    ping_at = None
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
        s.sendall(request)
        while chunk := s.recv(65536):
            received += chunk
            if ping_at is None and b"event: ping" in received:
                ping_at = time.monotonic() - started
    assert ping_at is not None and 4.5 < ping_at < 9, received
    assert b'"text":"Done."' in received
