"""Load generator for the benchmark: raw HTTP/1.1 keep-alive clients on asyncio (uvloop if there).

`measure(host, port, spec)` opens `spec.connections` connections (before the clock starts), then
each sends `spec.requests_per_conn` requests one after another on its own connection. It checks
every answer (status 200, complete, content EXACTLY the expected text) and records per request:

- latency: request sent -> response complete;
- TTFA (streams): request sent -> first answer character, i.e. the first time the received
  content is longer than the think prefix the target is expected to pass on (the whole
  "<think>...</think>\\n\\n" for direct and floor targets, nothing for the project, which strips
  it). For the project this is the first non-empty `delta.content`;
- events: SSE events received. Throughput in events/s counts the UPSTREAM events of every stream
  that completed (the same count whatever the target drops), divided by the wall time.

Bounded: every connection makes at most requests_per_conn requests, each request has a timeout,
and nothing new starts after the global deadline (`spec.deadline` seconds after the start).
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

from upstream import expected_text
from upstream import new_loop
from upstream import raise_nofile
from upstream import stream_events

_loads = json.loads
_perf = time.perf_counter


@dataclasses.dataclass
class Spec:
    stream: bool
    connections: int
    requests_per_conn: int
    tokens: int = 16
    think_tokens: int = 8
    delay: float = 0.0
    endpoint: str = "chat"  # "chat" | "completions"
    stripped: bool = False  # the target removes the think block (the project in strip mode)
    deadline: float = 60.0  # seconds for the whole measurement
    request_timeout: float = 60.0
    connect_concurrency: int = 200  # connections opened at once during the (untimed) set-up


@dataclasses.dataclass
class Result:
    requests: int = 0  # attempted
    ok: int = 0  # status 200, complete, exact
    errors: int = 0  # failed, timed out, bad status, incomplete, or cut by the deadline
    inexact: int = 0  # complete but the content differs from the expected text
    wall: float = 0.0
    latencies: list[float] = dataclasses.field(default_factory=list)
    ttfa: list[float] = dataclasses.field(default_factory=list)
    events_received: int = 0
    upstream_events: int = 0  # upstream SSE events of the streams that completed
    deadline_hit: bool = False
    error_samples: list[str] = dataclasses.field(default_factory=list)

    def note(self, message: str) -> None:
        if len(self.error_samples) < 5:
            self.error_samples.append(message)

    @property
    def req_per_s(self) -> float:
        return self.ok / self.wall if self.wall > 0 else 0.0

    @property
    def events_per_s(self) -> float:
        return self.upstream_events / self.wall if self.wall > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "inexact": self.inexact,
            "wall": self.wall,
            "req_per_s": self.req_per_s,
            "events_per_s": self.events_per_s,
            "events_received": self.events_received,
            "latency_p50": percentile(self.latencies, 50),
            "latency_p99": percentile(self.latencies, 99),
            "ttfa_p50": percentile(self.ttfa, 50),
            "ttfa_p99": percentile(self.ttfa, 99),
            "deadline_hit": self.deadline_hit,
            "error_samples": self.error_samples,
        }


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class ResponseError(Exception):
    pass


# parser states
_IDLE, _HEAD, _LENGTH, _SIZE, _DATA, _CRLF, _TRAILER = range(7)


class Client(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self, endpoint: str, prefix_len: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.text_key = "content" if endpoint == "chat" else "text"
        self.chat = endpoint == "chat"
        self.prefix_len = prefix_len
        self.buf = bytearray()
        self.state = _IDLE
        self.future: asyncio.Future[None] | None = None

    # -- protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("connection closed by the server")
        if self.future is not None and not self.future.done():
            if self.state == _LENGTH and self.length < 0:  # body delimited by the close
                self._complete()
            else:
                self.future.set_exception(ResponseError(f"connection lost: {self.lost!r}"))

    def data_received(self, data: bytes) -> None:
        now = _perf()
        if self.state == _IDLE:
            self.lost = ResponseError("unexpected data between responses")
            assert self.transport is not None
            self.transport.close()
            return
        self.buf += data
        try:
            self._process(now)
        except Exception as exc:  # malformed response
            if self.future is not None and not self.future.done():
                self.future.set_exception(ResponseError(f"bad response: {exc!r}"))
            self.state = _IDLE
            assert self.transport is not None
            self.transport.close()

    # -- request -----------------------------------------------------------------------------
    def send(self, request: bytes) -> asyncio.Future[None]:
        assert self.transport is not None
        if self.lost is not None:
            raise ResponseError(f"connection unusable: {self.lost!r}")
        self.future = asyncio.get_running_loop().create_future()
        self.state = _HEAD
        self.status = 0
        self.sse = False
        self.done_seen = False
        self.body = bytearray()
        self.pieces: list[str] = []
        self.content_len = 0
        self.ttfa_at: float | None = None
        self.events = 0
        self.length = -1
        self.buf.clear()
        self.sent_at = _perf()
        self.transport.write(request)
        return self.future

    def content(self) -> str:
        if self.sse:
            return "".join(self.pieces)
        obj = _loads(self.body)
        choice = obj["choices"][0]
        return choice["message"]["content"] if self.chat else choice["text"]

    # -- parsing -----------------------------------------------------------------------------
    def _process(self, now: float) -> None:
        buf = self.buf
        pos = 0
        size = len(buf)
        while pos < size or self.state == _TRAILER:
            state = self.state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                self._head(bytes(buf[pos:end]))
                pos = end + 4
            elif state == _DATA:
                take = min(size - pos, self.chunk_left)
                self._body(bytes(buf[pos : pos + take]), now)
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    break
                self.state = _CRLF
            elif state == _CRLF:
                if size - pos < 2:
                    break
                pos += 2
                self.state = _SIZE
            elif state == _SIZE:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    break
                chunk = int(bytes(buf[pos:end]).split(b";", 1)[0], 16)
                pos = end + 2
                if chunk:
                    self.chunk_left = chunk
                    self.state = _DATA
                else:
                    self.state = _TRAILER
            elif state == _TRAILER:
                if size - pos < 2:
                    break
                if buf[pos : pos + 2] == b"\r\n":
                    pos += 2
                else:
                    end = buf.find(b"\r\n\r\n", pos)
                    if end < 0:
                        break
                    pos = end + 4
                self._complete()
                break
            elif state == _LENGTH:
                take = size - pos if self.length < 0 else min(size - pos, self.length)
                self._body(bytes(buf[pos : pos + take]), now)
                pos += take
                if self.length >= 0:
                    self.length -= take
                    if not self.length:
                        self._complete()
                break
            else:  # _IDLE: leftover bytes after a complete response
                raise ResponseError("data after the end of the response")
        del buf[:pos]

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"content-type" and value.strip().startswith(b"text/event-stream"):
                self.sse = True
        if chunked:
            self.state = _SIZE
        else:
            self.state = _LENGTH
            if self.length == 0:
                self._complete()

    def _body(self, data: bytes, now: float) -> None:
        if not self.sse:
            self.body += data
            return
        body = self.body
        body += data
        start = 0
        while True:
            end = body.find(b"\n\n", start)
            if end < 0:
                break
            self._event(bytes(body[start:end]), now)
            start = end + 2
        if start:
            del body[:start]

    def _event(self, raw: bytes, now: float) -> None:
        self.events += 1
        for line in raw.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[6:] if line[5:6] == b" " else line[5:]
            if payload == b"[DONE]":
                self.done_seen = True
                continue
            obj = _loads(payload)
            for choice in obj.get("choices") or ():
                container = choice.get("delta") if self.chat else choice
                text = container.get(self.text_key) if container else None
                if text:
                    self.pieces.append(text)
                    self.content_len += len(text)
                    if self.ttfa_at is None and self.content_len > self.prefix_len:
                        self.ttfa_at = now

    def _complete(self) -> None:
        self.state = _IDLE
        if self.future is not None and not self.future.done():
            self.future.set_result(None)


async def _connect(
    loop: asyncio.AbstractEventLoop, host: str, port: int, endpoint: str, prefix_len: int
) -> Client:
    _, client = await loop.create_connection(lambda: Client(endpoint, prefix_len), host, port)
    return client


def build_request(host: str, port: int, spec: Spec) -> bytes:
    path = "/v1/chat/completions" if spec.endpoint == "chat" else "/v1/completions"
    body: dict[str, Any] = {
        "model": "bench",
        "stream": spec.stream,
        "bench": {"tokens": spec.tokens, "think_tokens": spec.think_tokens, "delay": spec.delay},
    }
    if spec.endpoint == "chat":
        body["messages"] = [{"role": "user", "content": "Hi"}]
    else:
        body["prompt"] = "Hi"
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer sk-bench\r\n"
        f"Content-Type: application/json\r\nAccept: */*\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def _measure(host: str, port: int, spec: Spec) -> Result:
    if host != "127.0.0.1":
        raise ValueError("the benchmark only talks to 127.0.0.1")
    loop = asyncio.get_running_loop()
    result = Result()
    expected, prefix_len = expected_text(spec.tokens, spec.think_tokens, spec.stripped)
    upstream_per_stream = len(stream_events(spec.endpoint, spec.tokens, spec.think_tokens))
    request = build_request(host, port, spec)
    setup_deadline = time.monotonic() + max(30.0, spec.deadline)

    # Set-up, untimed: open every connection (a bounded number at a time).
    gate = asyncio.Semaphore(max(1, spec.connect_concurrency))

    async def open_one() -> Client | None:
        async with gate:
            for _ in range(3):
                if time.monotonic() > setup_deadline:
                    break
                try:
                    return await asyncio.wait_for(
                        _connect(loop, host, port, spec.endpoint, prefix_len), 10
                    )
                except (OSError, asyncio.TimeoutError) as exc:
                    result.note(f"connect: {exc!r}")
                    await asyncio.sleep(0.2)
            return None

    clients = await asyncio.gather(*(open_one() for _ in range(spec.connections)))
    start = _perf()
    deadline = start + spec.deadline

    async def worker(client: Client | None) -> None:
        for _ in range(spec.requests_per_conn):
            remaining = deadline - _perf()
            if remaining <= 0:
                result.deadline_hit = True
                return
            result.requests += 1
            if client is None or client.lost is not None:
                if client is not None and client.transport is not None:
                    client.transport.close()
                try:
                    client = await asyncio.wait_for(
                        _connect(loop, host, port, spec.endpoint, prefix_len), min(10, remaining)
                    )
                except (OSError, asyncio.TimeoutError) as exc:
                    result.errors += 1
                    result.note(f"connect: {exc!r}")
                    client = None
                    await asyncio.sleep(min(0.1, max(0.0, deadline - _perf())))
                    continue
            try:
                future = client.send(request)
                await asyncio.wait_for(future, min(spec.request_timeout, remaining))
            except (ResponseError, OSError, asyncio.TimeoutError) as exc:
                result.errors += 1
                if isinstance(exc, asyncio.TimeoutError):
                    result.deadline_hit = result.deadline_hit or remaining < spec.request_timeout
                    result.note("timeout")
                else:
                    result.note(str(exc))
                client.lost = client.lost or exc
                continue
            finished = _perf()
            result.events_received += client.events
            if client.status != 200:
                result.errors += 1
                result.note(f"status {client.status}: {bytes(client.body[:200])!r}")
                continue
            if spec.stream and (not client.sse or not client.done_seen):
                result.errors += 1
                result.note("stream without data: [DONE]" if client.sse else "not an event stream")
                continue
            try:
                content = client.content()
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                result.errors += 1
                result.note(f"unparsable body: {exc!r}")
                continue
            if content != expected:
                result.inexact += 1
                result.note(f"inexact: got {content[:80]!r}... want {expected[:80]!r}...")
                continue
            result.ok += 1
            result.latencies.append(finished - client.sent_at)
            if spec.stream:
                result.upstream_events += upstream_per_stream
                if client.ttfa_at is not None:
                    result.ttfa.append(client.ttfa_at - client.sent_at)

    try:
        await asyncio.gather(*(worker(client) for client in clients))
    finally:
        result.wall = _perf() - start
        for client in clients:
            if client is not None and client.transport is not None:
                client.transport.close()
    await asyncio.sleep(0)
    return result


def measure(host: str, port: int, spec: Spec) -> Result:
    """Run one measurement on a fresh event loop (uvloop when installed)."""
    raise_nofile()
    loop = new_loop()
    try:
        return loop.run_until_complete(_measure(host, port, spec))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


if __name__ == "__main__":  # a quick manual probe: python bench/load.py PORT [stream]
    import sys

    port = int(sys.argv[1])
    streaming = len(sys.argv) > 2 and sys.argv[2] == "stream"
    res = measure(
        "127.0.0.1",
        port,
        Spec(
            stream=streaming,
            connections=8,
            requests_per_conn=20,
            tokens=50,
            think_tokens=20,
            stripped="--stripped" in sys.argv,
        ),
    )
    print(json.dumps(res.summary(), indent=1))
