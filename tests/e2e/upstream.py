"""A scripted OpenAI-compatible upstream on 127.0.0.1, for end-to-end tests.

A raw asyncio HTTP/1.1 server in a background thread, so a test controls every
byte, every chunk boundary and every delay of the answer, and can see exactly
what the proxy sent (method, path, headers, body).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import threading
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Reply:
    """What a handler uses to answer one request."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def chunk(self, data: bytes) -> None:
        if data:
            await self.raw(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_chunks(self) -> None:
        await self.raw(b"0\r\n\r\n")

    async def json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        await self.body(status, body, {"Content-Type": "application/json", **(headers or {})})

    async def body(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        await self.head(status, {**headers, "Content-Length": str(len(body))})
        await self.raw(body)

    async def sse(
        self,
        chunks: list[bytes],
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A chunked text/event-stream; each item of `chunks` is one network write."""
        await self.head(
            200,
            {
                "Content-Type": "text/event-stream",
                "Transfer-Encoding": "chunked",
                **(headers or {}),
            },
        )
        for i, data in enumerate(chunks):
            if delay and i:
                await asyncio.sleep(delay)
            await self.chunk(data)
        await self.end_chunks()


Handler = Callable[[Received, Reply], Awaitable[None]]


async def default_handler(req: Received, reply: Reply) -> None:
    await reply.json(200, {"ok": True, "path": req.path})


class Upstream:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.handler: Handler = default_handler
        self.port = 0
        self.connections_closed = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self, tls: ssl.SSLContext | None = None) -> Upstream:
        self._thread.start()
        self._server = self.call(asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        self.call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self, handler: Handler = default_handler) -> None:
        self.received.clear()
        self.handler = handler

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                self.received.append(request)
                await self.handler(request, Reply(writer))
                if request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.connections_closed += 1
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size = int((await reader.readline()).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += data[:-2]
    return Received(method, path, headers, body)


def chat_chunk(
    content: str | None, *, index: int = 0, finish: str | None = None, **delta: Any
) -> dict[str, Any]:
    d: dict[str, Any] = dict(delta)
    if content is not None or not d:
        d["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": index, "delta": d, "logprobs": None, "finish_reason": finish}],
    }


def sse_event(obj: Any) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj)
    return f"data: {data}\n\n".encode()


def chat_stream(pieces: list[str]) -> list[bytes]:
    """A typical chat completion stream: role chunk, one chunk per piece, finish chunk, [DONE]."""
    events = [sse_event(chat_chunk("", role="assistant"))]
    events += [sse_event(chat_chunk(p)) for p in pieces]
    events.append(sse_event(chat_chunk(None, finish="stop")))
    events.append(sse_event("[DONE]"))
    return events


def chat_completion(content: str, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
