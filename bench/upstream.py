"""A fast scripted upstream for the benchmark (127.0.0.1 only), in the shapes of bench/wire.py.

Raw HTTP/1.1 with keep-alive on an asyncio Protocol (uvloop when installed), run in its own
process by bench/run.py:

    python bench/upstream.py [--port 0]     # prints "PORT <n>" on stdout once listening

Endpoints (any path ending in these works): POST /v1/chat/completions, /v1/completions,
/v1/responses, /v1/messages and /api/chat (Ollama). Non-streaming JSON or, with "stream": true,
a chunked event stream (NDJSON for Ollama) with one HTTP chunk per event. The answer is scripted
by a "bench" object in the request body:

    {"model": "bench", "stream": true, "messages": [...],
     "bench": {"tokens": 50, "think_tokens": 20, "delay": 0.02}}

- tokens: answer tokens ("Answer", " a1", " a2", ...), never containing "<";
- think_tokens: tokens inside a <think>...</think> block that comes first (0: no block);
- delay: seconds between two events of a stream (paced on an absolute schedule, so a busy
  upstream does not stretch it); 0 writes the whole stream in one go;
- status: answer with this HTTP error status and a JSON error body instead (an upstream error).

The text the model "wrote" is wire.script(tokens, think_tokens). Responses are built once per
(format, tokens, think_tokens) and cached, so the upstream costs almost nothing. Every request
body is parsed as JSON, so a long one costs the upstream what it costs a real server to read it.
A request with `Connection: close` gets its answer and then the connection is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

from wire import content_type
from wire import dumps
from wire import endpoint_of
from wire import json_body
from wire import stream_events

MAX_TOKENS = 1_000_000
ERROR_MESSAGE = "bench: scripted upstream error"
Key = tuple[str, int, int]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _stream_head(fmt: str) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
        % content_type(fmt, True).encode()
    )


def _plain(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        % (status, content_type.encode(), len(body))
    ) + body


def error_body(status: int) -> bytes:
    return dumps({"error": {"message": ERROR_MESSAGE, "type": "bench_error", "code": status}})


def _error(status: int, message: str) -> bytes:
    return _plain(status, dumps({"error": {"message": message, "type": "bench_error"}}))


class _Cache:
    def __init__(self) -> None:
        self.json: dict[Key, bytes] = {}
        self.events: dict[Key, list[bytes]] = {}
        self.whole: dict[Key, bytes] = {}

    def json_response(self, key: Key) -> bytes:
        found = self.json.get(key)
        if found is None:
            found = self.json[key] = _plain(200, json_body(*key))
        return found

    def stream_chunks(self, key: Key) -> list[bytes]:
        found = self.events.get(key)
        if found is None:
            found = self.events[key] = [_chunk(e) for e in stream_events(*key)] + [b"0\r\n\r\n"]
        return found

    def stream_whole(self, key: Key) -> bytes:
        found = self.whole.get(key)
        if found is None:
            found = self.whole[key] = _stream_head(key[0]) + b"".join(self.stream_chunks(key))
        return found


CACHE = _Cache()


class Stats:
    requests = 0
    streams = 0


class Conn(asyncio.Protocol):
    """One client connection: parses requests one at a time, answers from the cache."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.task: asyncio.Task[None] | None = None
        self._paused = False
        self._resumed: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.task is not None:
            self.task.cancel()
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        while not self.busy and not self.closed:
            request = self._parse()
            if request is None:
                return
            self._handle(*request)

    def _parse(self) -> tuple[bytes, bytes, bytes, bool] | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buf[:end])
        lines = head.split(b"\r\n")
        try:
            method, path, _ = lines[0].split(b" ", 2)
        except ValueError:
            self._fail(400, "bad request line")
            return None
        length = 0
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        start = end + 4
        if chunked:
            body = bytearray()
            pos = start
            while True:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
                data_start = line_end + 2
                if len(buf) < data_start + size + 2:
                    return None
                if size == 0:
                    trailer_end = buf.find(b"\r\n\r\n", line_end)
                    if buf[data_start : data_start + 2] == b"\r\n":
                        consumed = data_start + 2
                    elif trailer_end >= 0:
                        consumed = trailer_end + 4
                    else:
                        return None
                    break
                body += buf[data_start : data_start + size]
                pos = data_start + size + 2
            del buf[:consumed]
            return method, path, bytes(body), close
        if len(buf) < start + length:
            return None
        body = bytes(buf[start : start + length])
        del buf[: start + length]
        return method, path, body, close

    def _fail(self, status: int, message: str) -> None:
        assert self.transport is not None
        self.transport.write(_error(status, message))
        self.transport.close()
        self.closed = True

    def _handle(self, method: bytes, path: bytes, body: bytes, close: bool) -> None:
        assert self.transport is not None
        Stats.requests += 1
        endpoint = endpoint_of(path) if method == b"POST" else None
        if endpoint is None:
            if method in (b"GET", b"HEAD"):
                self._write(_plain(200, b'{"object":"list","data":[{"id":"bench"}]}'), close)
            else:
                self._write(_error(404, "unknown endpoint"), close)
            return
        try:
            request = json.loads(body)
            params = request.get("bench") or {}
            tokens = min(int(params.get("tokens", 16)), MAX_TOKENS)
            think_tokens = min(int(params.get("think_tokens", 8)), MAX_TOKENS)
            delay = float(params.get("delay", 0.0))
            status = int(params.get("status", 200))
            stream = bool(request.get("stream"))
        except (ValueError, TypeError, AttributeError) as exc:
            self._write(_error(400, f"bad bench request: {exc}"), close)
            return
        if status != 200:
            self._write(_plain(status, error_body(status)), close)
            return
        key = (endpoint, tokens, think_tokens)
        if not stream:
            self._write(CACHE.json_response(key), close)
            return
        Stats.streams += 1
        if delay <= 0:
            self._write(CACHE.stream_whole(key), close)
            return
        self.busy = True
        self.task = asyncio.get_running_loop().create_task(self._paced(key, delay, close))

    def _write(self, data: bytes, close: bool) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if close:
            self.transport.close()
            self.closed = True

    async def _paced(self, key: Key, delay: float, close: bool) -> None:
        transport = self.transport
        assert transport is not None
        chunks = CACHE.stream_chunks(key)
        # The opening events go together, as servers send them; the events after the last
        # token's (the done events and the zero-length end chunk) follow it without a delay.
        lead, tail = PACING[key[0]]
        try:
            transport.write(_stream_head(key[0]) + b"".join(chunks[:lead]))
            start = time.monotonic()
            last_paced = len(chunks) - 1 - tail
            for i in range(lead, len(chunks)):
                if i < last_paced:
                    wait = start + (i - lead + 1) * delay - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                if self.closed:
                    return
                if self._paused:
                    self._resumed = asyncio.get_running_loop().create_future()
                    await self._resumed
                    self._resumed = None
                    if self.closed:
                        return
                transport.write(chunks[i])
        except asyncio.CancelledError:
            return
        finally:
            self.task = None
        self.busy = False
        if close:
            transport.close()
            self.closed = True
        elif self.buf:
            self._next()


# (events sent with the head, done events after the last token's event), by format
PACING = {
    "chat": (1, 1),
    "completions": (1, 1),
    "responses": (4, 3),
    "messages": (3, 2),
    "ollama": (1, 0),
}


async def serve(port: int, ready: Any = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, "127.0.0.1", port, backlog=4096, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop


def raise_nofile() -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            return soft
    return want


def uvloop_module() -> Any:
    """uvloop, unless it is missing or BENCH_NO_UVLOOP is set (then plain asyncio is used)."""
    if os.environ.get("BENCH_NO_UVLOOP"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def new_loop() -> asyncio.AbstractEventLoop:
    uvloop = uvloop_module()
    return uvloop.new_event_loop() if uvloop else asyncio.new_event_loop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    raise_nofile()

    def ready(port: int) -> None:
        loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
        print(f"PORT {port} {loop_name} pid={os.getpid()}", flush=True)

    loop = new_loop()
    try:
        loop.run_until_complete(serve(args.port, ready))
    finally:
        loop.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
