"""A fast scripted OpenAI-compatible upstream for the benchmark (127.0.0.1 only).

Raw HTTP/1.1 with keep-alive on an asyncio Protocol (uvloop when installed), run in its own
process by bench/run.py:

    python bench/upstream.py [--port 0]     # prints "PORT <n>" on stdout once listening

Endpoints: POST /v1/chat/completions and POST /v1/completions (any path ending in those works),
non-streaming JSON or, with "stream": true, a chunked text/event-stream with one HTTP chunk per
event. The answer is scripted by a "bench" object in the request body:

    {"model": "bench", "stream": true, "messages": [...],
     "bench": {"tokens": 50, "think_tokens": 20, "delay": 0.02}}

- tokens: answer tokens ("Answer", " a1", " a2", ...), never containing "<";
- think_tokens: tokens inside a <think>...</think> block that comes first (0: no block);
- delay: seconds between two events of a stream (paced on an absolute schedule, so a busy
  upstream does not stretch it); 0 writes the whole stream in one go.

The text the model "wrote" is script(tokens, think_tokens) below: the think part
("<think>" + think tokens + "</think>" + "\\n\\n") followed by the answer. Responses are built
once per (endpoint, tokens, think_tokens) and cached, so the upstream costs almost nothing.
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

CREATED = 1_700_000_000
MAX_TOKENS = 1_000_000


def script(tokens: int, think_tokens: int) -> tuple[list[str], list[str]]:
    """(think pieces, answer pieces): the content of every streamed text event, in order.

    With think_tokens > 0 the think pieces are "<think>", the think tokens, "</think>", "\\n\\n".
    """
    think: list[str] = []
    if think_tokens > 0:
        think = ["<think>"] + [f" t{i}" for i in range(1, think_tokens + 1)] + ["</think>", "\n\n"]
    answer = ["Answer"] + [f" a{i}" for i in range(1, tokens)] if tokens > 0 else []
    return think, answer


def expected_text(tokens: int, think_tokens: int, stripped: bool) -> tuple[str, int]:
    """(the whole content a client should receive, length of the think prefix in it)."""
    think, answer = script(tokens, think_tokens)
    answer_text = "".join(answer)
    if stripped:
        return answer_text, 0
    prefix = "".join(think)
    return prefix + answer_text, len(prefix)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(obj: Any) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else _dumps(obj)) + b"\n\n"


def stream_events(endpoint: str, tokens: int, think_tokens: int) -> list[bytes]:
    """The SSE events of one streamed answer (each a complete event, blank line included)."""
    think, answer = script(tokens, think_tokens)
    pieces = think + answer
    events: list[bytes] = []
    if endpoint == "chat":

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": "bench",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        events.append(_event(chunk({"role": "assistant", "content": ""})))
        events += [_event(chunk({"content": piece})) for piece in pieces]
        events.append(_event(chunk({}, "stop")))
    else:

        def chunk(text: str, finish: str | None = None) -> dict[str, Any]:  # type: ignore[misc]
            return {
                "id": "cmpl-bench",
                "object": "text_completion",
                "created": CREATED,
                "model": "bench",
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
            }

        events += [_event(chunk(piece)) for piece in pieces]
        events.append(_event(chunk("", "stop")))
    events.append(_event(b"[DONE]"))
    return events


def json_body(endpoint: str, tokens: int, think_tokens: int) -> bytes:
    think, answer = script(tokens, think_tokens)
    text = "".join(think + answer)
    usage = {
        "prompt_tokens": 8,
        "completion_tokens": len(think) + len(answer),
        "total_tokens": 8 + len(think) + len(answer),
    }
    if endpoint == "chat":
        obj = {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    else:
        obj = {
            "id": "cmpl-bench",
            "object": "text_completion",
            "created": CREATED,
            "model": "bench",
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
            "usage": usage,
        }
    return _dumps(obj)


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def _plain(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        % (status, content_type.encode(), len(body))
    ) + body


def _error(status: int, message: str) -> bytes:
    return _plain(status, _dumps({"error": {"message": message, "type": "bench_error"}}))


class _Cache:
    def __init__(self) -> None:
        self.json: dict[tuple[str, int, int], bytes] = {}
        self.events: dict[tuple[str, int, int], list[bytes]] = {}
        self.whole: dict[tuple[str, int, int], bytes] = {}

    def json_response(self, key: tuple[str, int, int]) -> bytes:
        found = self.json.get(key)
        if found is None:
            found = self.json[key] = _plain(200, json_body(*key))
        return found

    def stream_chunks(self, key: tuple[str, int, int]) -> list[bytes]:
        found = self.events.get(key)
        if found is None:
            found = self.events[key] = [_chunk(e) for e in stream_events(*key)] + [b"0\r\n\r\n"]
        return found

    def stream_whole(self, key: tuple[str, int, int]) -> bytes:
        found = self.whole.get(key)
        if found is None:
            found = self.whole[key] = SSE_HEAD + b"".join(self.stream_chunks(key))
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

    def _parse(self) -> tuple[bytes, bytes, bytes] | None:
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
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
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
            return method, path, bytes(body)
        if len(buf) < start + length:
            return None
        body = bytes(buf[start : start + length])
        del buf[: start + length]
        return method, path, body

    def _fail(self, status: int, message: str) -> None:
        assert self.transport is not None
        self.transport.write(_error(status, message))
        self.transport.close()
        self.closed = True

    def _handle(self, method: bytes, path: bytes, body: bytes) -> None:
        assert self.transport is not None
        Stats.requests += 1
        bare = path.split(b"?", 1)[0].rstrip(b"/")
        if method == b"POST" and bare.endswith(b"/chat/completions"):
            endpoint = "chat"
        elif method == b"POST" and bare.endswith(b"/completions"):
            endpoint = "completions"
        elif method in (b"GET", b"HEAD"):
            self.transport.write(_plain(200, b'{"object":"list","data":[{"id":"bench"}]}'))
            return
        else:
            self.transport.write(_error(404, "unknown endpoint"))
            return
        try:
            request = json.loads(body)
            params = request.get("bench") or {}
            tokens = min(int(params.get("tokens", 16)), MAX_TOKENS)
            think_tokens = min(int(params.get("think_tokens", 8)), MAX_TOKENS)
            delay = float(params.get("delay", 0.0))
            stream = bool(request.get("stream"))
        except (ValueError, TypeError, AttributeError) as exc:
            self.transport.write(_error(400, f"bad bench request: {exc}"))
            return
        key = (endpoint, tokens, think_tokens)
        if not stream:
            self.transport.write(CACHE.json_response(key))
            return
        Stats.streams += 1
        if delay <= 0:
            self.transport.write(CACHE.stream_whole(key))
            return
        self.busy = True
        self.task = asyncio.get_running_loop().create_task(self._paced(key, delay))

    async def _paced(self, key: tuple[str, int, int], delay: float) -> None:
        transport = self.transport
        assert transport is not None
        chunks = CACHE.stream_chunks(key)
        try:
            transport.write(SSE_HEAD + chunks[0])
            start = time.monotonic()
            last = len(chunks) - 1
            for i in range(1, len(chunks)):
                # The zero-length end chunk and [DONE] follow the finish event without a delay.
                if i < last - 1:
                    wait = start + i * delay - time.monotonic()
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
        if self.buf:
            self._next()


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
