"""Think removal end to end: the real proxy, the openai SDK and curl -N, every way an upstream sends it."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import openai
import pytest

from .test_core import KEY
from .test_core import curl
from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import chat_completion
from .upstream import chat_stream
from .upstream import sse_event


def sdk(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20)


def stream_text(proxy, model: str = "m") -> tuple[str, str, list[Any]]:
    """(content, reasoning_content, chunks) as the openai SDK sees a streamed chat answer."""
    chunks = list(
        sdk(proxy).chat.completions.create(
            model=model, messages=[{"role": "user", "content": "q"}], stream=True
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    return content, reasoning, chunks


def serve(
    upstream, chunks: list[bytes], delay: float = 0.0, headers: dict[str, Any] | None = None
) -> None:
    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(chunks, delay=delay, headers=headers)

    upstream.reset(handler)


def rechunk(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


ANSWER = "Die Antwort ist 42 — ganz sicher. 🎉"
PIECES = [
    "<th",
    "ink>",
    "Lass mich nachdenken… ",
    "<",
    "/think",
    ">\n\n",
    "Die Antwort ",
    "ist 42 — ganz sicher. 🎉",
]


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 100000])
def test_stream_cut_anywhere(proxy, upstream, chunk_size):
    """Events cut mid-line, mid-UTF-8 character and mid-tag across network chunks."""
    serve(upstream, rechunk(b"".join(chat_stream(PIECES)), chunk_size))
    content, _, _ = stream_text(proxy)
    assert content == ANSWER


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_and_keepalive_comments(proxy, upstream, newline):
    events = [b": keep-alive\n\n"] + chat_stream(PIECES)
    raw = b"".join(events).replace(b"\n", newline.encode())
    serve(upstream, rechunk(raw, 5))
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
    )
    text = ""
    for line in result.stdout.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.startswith("data: {"):
            delta = json.loads(line[6:])["choices"][0]["delta"]
            text += delta.get("content") or ""
    assert text == ANSWER
    assert ": keep-alive" in result.stdout
    assert "data: [DONE]" in result.stdout


def test_json_escaped_tags(proxy, upstream):
    """Go servers (Ollama) escape < and > as \\u003c / \\u003e."""
    events = [
        json.dumps(chat_chunk(p)).replace("<", "\\u003c").replace(">", "\\u003e") for p in PIECES
    ]
    serve(upstream, [f"data: {e}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"])
    assert stream_text(proxy)[0] == ANSWER


def test_several_blocks_null_content_and_tool_calls(proxy, upstream):
    tool_call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a": "<think>"}'},
    }
    events = [
        sse_event(chat_chunk(None, role="assistant")),
        sse_event(chat_chunk("<think>one</think>A")),
        sse_event(chat_chunk(" and <think>two</think>B")),
        sse_event(chat_chunk(None, tool_calls=[tool_call])),
        sse_event(chat_chunk(None, finish="tool_calls")),
        sse_event(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": {"total_tokens": 9},
            }
        ),
        sse_event("[DONE]"),
    ]
    serve(upstream, events)
    content, _, chunks = stream_text(proxy)
    assert content == "A and B"
    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert calls[0][0].function.arguments == '{"a": "<think>"}'
    assert [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ] == ["tool_calls"]
    assert chunks[-1].usage.total_tokens == 9


def test_upstream_reasoning_field_removed_in_strip_mode(proxy, upstream):
    events = [
        sse_event(chat_chunk(None, role="assistant")),
        sse_event(chat_chunk(None, reasoning_content="secret thoughts")),
        sse_event(chat_chunk("visible")),
        sse_event("[DONE]"),
    ]
    serve(upstream, events)
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
    )
    assert "secret thoughts" not in result.stdout
    assert "visible" in result.stdout


def test_non_streaming_chat_and_completions(proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        if req.path.endswith("/chat/completions"):
            await reply.json(
                200,
                chat_completion("<think>hidden</think>\n\nShown", reasoning_content="also hidden"),
            )
        else:
            await reply.json(
                200,
                {
                    "id": "c",
                    "object": "text_completion",
                    "choices": [
                        {
                            "index": 0,
                            "text": "<think>hidden</think>Text",
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                },
            )

    upstream.reset(handler)
    client = sdk(proxy)
    message = (
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        .choices[0]
        .message
    )
    assert message.content == "Shown"
    assert "reasoning_content" not in (message.model_extra or {})
    completion = client.completions.create(model="m", prompt="p")
    assert completion.choices[0].text == "Text"


def test_completions_stream(proxy, upstream):
    def event(text, finish=None):
        return sse_event(
            {
                "id": "c",
                "object": "text_completion",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
            }
        )

    serve(
        upstream,
        [
            event("<think>"),
            event("hmm</th"),
            event("ink>Hello"),
            event(" world", "stop"),
            sse_event("[DONE]"),
        ],
    )
    chunks = list(sdk(proxy).completions.create(model="m", prompt="p", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello world"


def test_two_choices_interleaved(proxy, upstream):
    events = [
        sse_event(chat_chunk("<think>a", index=0)),
        sse_event(chat_chunk("<think>b", index=1)),
        sse_event(chat_chunk("</think>zero", index=0)),
        sse_event(chat_chunk("</thi", index=1)),
        sse_event(chat_chunk("nk>one", index=1)),
        sse_event("[DONE]"),
    ]
    serve(upstream, events)
    _, _, chunks = stream_text(proxy)
    by_index: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            by_index[choice.index] = by_index.get(choice.index, "") + (choice.delta.content or "")
    assert by_index == {0: "zero", 1: "one"}


def test_gzip_stream_is_decoded_and_filtered(proxy, upstream):
    import gzip

    body = gzip.compress(b"".join(chat_stream(PIECES)))
    serve(upstream, rechunk(body, 10), headers={"Content-Encoding": "gzip"})
    assert stream_text(proxy)[0] == ANSWER


def test_sse_with_content_length(proxy, upstream):
    body = b"".join(chat_stream(PIECES))

    async def handler(req: Received, reply: Reply) -> None:
        await reply.body(200, body, {"Content-Type": "text/event-stream"})

    upstream.reset(handler)
    assert stream_text(proxy)[0] == ANSWER


@pytest.mark.parametrize(
    "path", ["/v1/messages/count_tokens", "/v1/embeddings", "/v1/audio/speech"]
)
def test_other_endpoints_untouched(proxy, upstream, path):
    # Think-looking text in every format's text field, on paths that are no endpoint of ours.
    raw = (
        b'data: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"<think>x</think>"}}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"<think>y</think>"}}]}\n\n'
    )
    serve(upstream, [raw])
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}{path}",
    )
    assert result.stdout.encode() == raw


@pytest.fixture(scope="module")
def modes_proxy(start_proxy, upstream):
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "LLM_PARAMS": ";".join(
                [
                    "model=keep,think_mode=keep",
                    "model=reason,think_mode=reasoning",
                    "model=reason-r,think_mode=reasoning,reasoning_field=reasoning",
                    "model=implicit,think_implicit_start=true",
                    'model=custom,think_tags=[["<thinking>","</thinking>"],["[THINK]","[/THINK]"]]',
                ]
            ),
        }
    )


def test_keep_mode_is_byte_identical(modes_proxy, upstream):
    raw = b"".join(chat_stream(PIECES)).replace(b'"model": "m"', b'"model": "keep"')
    serve(upstream, rechunk(raw, 9))
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"keep","stream":true}',
        f"{modes_proxy.url}/v1/chat/completions",
    )
    assert result.stdout.encode() == raw


def test_reasoning_mode_moves_think_text(modes_proxy, upstream):
    serve(upstream, chat_stream(PIECES))
    content, reasoning, _ = stream_text(modes_proxy, model="reason")
    assert content == ANSWER
    assert reasoning == "Lass mich nachdenken…"  # the space before </think> is an edge


def test_reasoning_field_name_configurable(modes_proxy, upstream):
    serve(upstream, chat_stream(PIECES))
    chunks = list(
        sdk(modes_proxy).chat.completions.create(
            model="reason-r", messages=[{"role": "user", "content": "q"}], stream=True
        )
    )
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning") or "" for c in chunks if c.choices
    )
    assert reasoning == "Lass mich nachdenken…"


def test_implicit_start(modes_proxy, upstream):
    serve(upstream, chat_stream(["thinking without opening tag", "</think>", "Answer"]))
    assert stream_text(modes_proxy, model="implicit")[0] == "Answer"


def test_implicit_start_without_end_tag_delivers_answer(modes_proxy, upstream):
    serve(upstream, chat_stream(["no ", "thinking ", "at all"]))
    assert stream_text(modes_proxy, model="implicit")[0] == "no thinking at all"


def test_custom_tag_pairs(modes_proxy, upstream):
    serve(
        upstream, chat_stream(["<thinking>a</thinking>X", "[THINK]b[/THINK]Y", "<think>c</think>"])
    )
    assert stream_text(modes_proxy, model="custom")[0] == "XY<think>c</think>"


def test_answer_tokens_arrive_without_delay(proxy, upstream):
    """With answer tokens 200 ms apart, the client gets each one promptly (not buffered)."""
    sent_at: list[float] = []

    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        await reply.chunk(sse_event(chat_chunk("<think>quick</think>")))
        for i in range(5):
            await asyncio.sleep(0.2)
            sent_at.append(time.monotonic())
            await reply.chunk(sse_event(chat_chunk(f"t{i} ")))
        await reply.chunk(sse_event("[DONE]"))
        await reply.end_chunks()

    upstream.reset(handler)
    received_at: list[float] = []
    stream = sdk(proxy).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "q"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received_at.append(time.monotonic())
    assert len(received_at) == 5
    lags = [r - s for s, r in zip(sent_at, received_at)]
    assert max(lags) < 0.05, lags


def test_upstream_dies_mid_stream_client_not_hung(proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        await reply.chunk(sse_event(chat_chunk("partial")))
        reply.writer.transport.abort()

    upstream.reset(handler)
    started = time.monotonic()
    result = curl(
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
    )
    assert time.monotonic() - started < 2
    assert "partial" in result.stdout
    # and the proxy still serves
    serve(upstream, chat_stream(["ok"]))
    assert stream_text(proxy)[0] == "ok"


def test_client_disconnect_closes_upstream(proxy, upstream):
    closed_before = upstream.connections_closed

    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        for i in range(200):
            await reply.chunk(sse_event(chat_chunk(f"{i} ")))
            await asyncio.sleep(0.05)

    upstream.reset(handler)
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        body = b'{"model":"m","stream":true}'
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 2
    while upstream.connections_closed == closed_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.connections_closed > closed_before
    assert "Traceback" not in proxy.log()


def test_http10_client_gets_a_plain_stream(proxy, upstream):
    serve(upstream, chat_stream(PIECES))
    result = curl(
        "-N",
        "--http1.0",
        "-i",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"model":"m","stream":true}',
        f"{proxy.url}/v1/chat/completions",
    )
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    assert "transfer-encoding" not in head.lower()
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in body.split("\n")
        if line.startswith("data: {")
    )
    assert text == ANSWER
