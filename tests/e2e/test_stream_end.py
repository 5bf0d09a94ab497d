"""A finished stream is not an error: once `data: [DONE]` has gone out, a client that closes is done."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from .test_core import client
from .upstream import Received
from .upstream import Reply
from .upstream import chat_stream

LATE_END = 0.6  # the upstream's end of body comes this long after [DONE]


def late_end_handler(pieces: list[str]):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        for event in chat_stream(pieces):
            await reply.chunk(event)
        await asyncio.sleep(LATE_END)  # like a server finishing its bookkeeping
        await reply.end_chunks()

    return handler


def log_line_for(proxy, marker: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in proxy.log().splitlines() if marker in line]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no log line with {marker!r}:\n{proxy.log()}")


@pytest.mark.parametrize("think_mode", ["strip", "keep"])
def test_sdk_closing_after_done_is_a_complete_flow(start_proxy, upstream, think_mode):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "THINK_MODE": think_mode})
    upstream.reset(late_end_handler(["<think>hmm</think>", "Hel", "lo"]))
    stream = client(proxy).chat.completions.create(
        model=f"done-{think_mode}", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    stream.close()  # the SDK stops at [DONE]; closing it closes the connection
    assert text.endswith("Hello")
    time.sleep(LATE_END + 0.3)  # the upstream's end arrives after the client left
    line = log_line_for(proxy, f"model=done-{think_mode}")
    assert " 200 " in line and "error" not in line, line


def test_a_client_leaving_before_done_is_still_an_error(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/"})

    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        for event in chat_stream(["Hel", "lo"])[:2]:  # no [DONE]
            await reply.chunk(event)
        await asyncio.sleep(LATE_END)
        await reply.end_chunks()

    upstream.reset(handler)
    body = b'{"model":"cut-short","stream":true,"messages":[]}'
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        received = b""
        deadline = time.monotonic() + 5
        while b"data: " not in received and time.monotonic() < deadline:
            received += s.recv(65536)
        assert b"data: " in received
    line = log_line_for(proxy, "model=cut-short", timeout=LATE_END + 5)
    assert "error (Client disconnected.)" in line, line
