"""Load generator for the benchmark: raw HTTP/1.1 clients on asyncio (uvloop if there).

`measure(host, port, spec)` opens `spec.connections` connections (before the clock starts), then
each sends `spec.requests_per_conn` requests one after another on its own connection (or, with
`keepalive=False`, each request on a new connection, whose set-up is then part of its latency).
It checks every answer (status, complete, content EXACTLY the expected text) and records per
request:

- latency: request sent -> response complete;
- TTFA (streams): request sent -> first answer character, i.e. the first time the received
  content is longer than the think prefix the target is expected to pass on (the whole
  "<think>...</think>\\n\\n" for direct and floor targets, nothing for the project, which strips
  it). For the project this is the first non-empty text delta;
- events: events received. Throughput in events/s counts the UPSTREAM events of every stream
  that completed (the same count whatever the target drops), divided by the wall time.

What one request is, and what answer it must get, is a `Template` (`templates(spec)`); the soak
(bench/soak.py) mixes several. The formats are those of bench/wire.py.

Bounded: every connection makes at most requests_per_conn requests, each request has a timeout,
and nothing new starts after the global deadline (`spec.deadline` seconds after the start).
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

from upstream import ERROR_MESSAGE
from upstream import new_loop
from upstream import raise_nofile
from wire import PATHS
from wire import body_text
from wire import event_text
from wire import expected_text
from wire import stream_events

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
    fmt: str = "chat"  # a format of bench/wire.py
    # The target removes the think block (the project in strip mode). None: either answer is
    # right (a format whose think filtering may not be there yet: it then passes the stream on).
    stripped: bool | None = False
    keepalive: bool = True
    history_bytes: int = 0  # a message history of about this size (long context)
    model: str = "bench"
    deadline: float = 60.0  # seconds for the whole measurement
    request_timeout: float = 60.0
    connect_concurrency: int = 200  # connections opened at once during the (untimed) set-up


@dataclasses.dataclass
class Template:
    """One kind of request, built once, and the answer it must get."""

    request: bytes
    fmt: str
    stream: bool
    expected: str  # the content
    prefix_len: int  # length of the think prefix in `expected` (for TTFA)
    either: str | None = None  # also right (the whole text, when the filter may be absent)
    upstream_events: int = 0  # per completed stream
    status: int = 200  # an error status: the upstream's error must arrive as it was sent
    disconnect_after: int = 0  # events after which the client hangs up (a stream it abandons)
    keepalive: bool = True
    name: str = ""


@dataclasses.dataclass
class Result:
    requests: int = 0  # attempted
    ok: int = 0  # the expected status, complete, exact (or abandoned as planned)
    errors: int = 0  # failed, timed out, bad status, incomplete, or cut by the deadline
    inexact: int = 0  # complete but the content differs from the expected text
    passed_through: int = 0  # right, and with the think block (the `either` answer)
    wall: float = 0.0
    latencies: list[float] = dataclasses.field(default_factory=list)
    ttfa: list[float] = dataclasses.field(default_factory=list)
    events_received: int = 0
    upstream_events: int = 0  # upstream events of the streams that completed
    deadline_hit: bool = False
    error_samples: list[str] = dataclasses.field(default_factory=list)
    by_kind: dict[str, int] = dataclasses.field(default_factory=dict)  # ok answers per template

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
            "passed_through": self.passed_through,
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
            "by_kind": self.by_kind,
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
    """One connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.buf = bytearray()
        self.state = _IDLE
        self.future: asyncio.Future[None] | None = None
        self.abandoned = False

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
            if self.abandoned:  # the rest of a stream we hung up on
                return
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
    def send(self, template: Template) -> asyncio.Future[None]:
        assert self.transport is not None
        if self.lost is not None:
            raise ResponseError(f"connection unusable: {self.lost!r}")
        self.future = asyncio.get_running_loop().create_future()
        self.template = template
        self.fmt = template.fmt
        self.chat = template.fmt == "chat"
        self.state = _HEAD
        self.status = 0
        self.framing = b""  # b"\n\n" for SSE, b"\n" for NDJSON, b"" for a whole body
        self.done_seen = False
        self.body = bytearray()
        self.pieces: list[str] = []
        self.content_len = 0
        # None: decided by the first text piece (a target that may or may not strip)
        self.prefix_len: int | None = None if template.either is not None else template.prefix_len
        self.ttfa_at: float | None = None
        self.events = 0
        self.length = -1
        self.buf.clear()
        self.sent_at = _perf()
        self.transport.write(template.request)
        return self.future

    def content(self) -> str:
        if self.framing:
            return "".join(self.pieces)
        obj = _loads(self.body)
        if self.status != 200:
            return obj["error"]["message"]
        return body_text(self.fmt, obj)

    # -- parsing -----------------------------------------------------------------------------
    def _process(self, now: float) -> None:
        buf = self.buf
        pos = 0
        size = len(buf)
        while pos < size or self.state == _TRAILER:
            if self.abandoned:  # we hung up: the rest is of no interest
                buf.clear()
                return
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
            elif name == b"content-type":
                kind = value.strip().lower()
                if kind.startswith(b"text/event-stream"):
                    self.framing = b"\n\n"
                elif kind.startswith(b"application/x-ndjson"):
                    self.framing = b"\n"
        if chunked:
            self.state = _SIZE
        else:
            self.state = _LENGTH
            if self.length == 0:
                self._complete()

    def _body(self, data: bytes, now: float) -> None:
        framing = self.framing
        body = self.body
        body += data
        if not framing:
            return
        start = 0
        step = len(framing)
        while True:
            end = body.find(framing, start)
            if end < 0:
                break
            self._event(bytes(body[start:end]), now)
            start = end + step
            if self.abandoned:
                return
        if start:
            del body[:start]

    def _event(self, raw: bytes, now: float) -> None:
        self.events += 1
        if self.framing == b"\n":
            if raw.strip():
                self._text(*event_text(self.fmt, _loads(raw)), now)
        else:
            for line in raw.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[6:] if line[5:6] == b" " else line[5:]
                if payload == b"[DONE]":
                    self.done_seen = True
                    continue
                obj = _loads(payload)
                if self.chat:  # the common case, inline
                    for choice in obj.get("choices") or ():
                        delta = choice.get("delta")
                        if delta and delta.get("content"):
                            self._text(delta["content"], False, now)
                else:
                    self._text(*event_text(self.fmt, obj), now)
        limit = self.template.disconnect_after
        if limit and self.events >= limit:
            self.abandoned = True  # hang up mid-stream, as a client that gave up would
            assert self.transport is not None
            self.transport.abort()
            self._complete()

    def _text(self, text: str | None, done: bool, now: float) -> None:
        if done:
            self.done_seen = True
        if not text:
            return
        if self.prefix_len is None:  # the first piece tells whether the think block is there
            assert self.template.either is not None
            passed = text.startswith("<") and self.template.either.startswith(text)
            self.prefix_len = (
                len(self.template.either) - len(self.template.expected) if passed else 0
            )
        self.pieces.append(text)
        self.content_len += len(text)
        if self.ttfa_at is None and self.content_len > self.prefix_len:
            self.ttfa_at = now

    def _complete(self) -> None:
        self.state = _IDLE
        if self.future is not None and not self.future.done():
            self.future.set_result(None)


# -- requests -------------------------------------------------------------------------------------


def history(size: int) -> list[dict[str, str]]:
    """About `size` bytes of chat history, as coding agents send it: long user turns (files,
    tool output) and assistant turns that start with their think block (what history strip
    removes before the request goes upstream)."""
    messages: list[dict[str, str]] = []
    filler = "def handler(request):\n    return compute(request.args, retries=3)  # line\n" * 8
    turn = 0
    while sum(len(m["content"]) for m in messages) < size:
        turn += 1
        messages.append({"role": "user", "content": f"Step {turn}: fix this file.\n{filler}"})
        messages.append(
            {
                "role": "assistant",
                "content": f"<think>Turn {turn}: the handler retries; check the args first."
                f"</think>\n\nDone with step {turn}: {filler[:200]}",
            }
        )
    return messages


def request_body(spec: Spec, status: int = 200) -> dict[str, Any]:
    bench: dict[str, Any] = {
        "tokens": spec.tokens,
        "think_tokens": spec.think_tokens,
        "delay": spec.delay,
    }
    if status != 200:
        bench["status"] = status
    body: dict[str, Any] = {"model": spec.model, "stream": spec.stream, "bench": bench}
    messages = [*history(spec.history_bytes), {"role": "user", "content": "Hi"}]
    if spec.fmt == "completions":
        body["prompt"] = "Hi"
    elif spec.fmt == "responses":
        body["input"] = messages
    else:
        body["messages"] = messages
        if spec.fmt == "messages":
            body["max_tokens"] = 1024
    return body


def build_request(host: str, port: int, spec: Spec, status: int = 200) -> bytes:
    data = json.dumps(request_body(spec, status)).encode()
    close = "" if spec.keepalive else "Connection: close\r\n"
    return (
        f"POST {PATHS[spec.fmt]} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer sk-bench\r\n"
        f"Content-Type: application/json\r\nAccept: */*\r\n{close}Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


def template(
    host: str, port: int, spec: Spec, status: int = 200, disconnect_after: int = 0, name: str = ""
) -> Template:
    """The request `spec` describes, and the answer it must get."""
    if status != 200:
        expected, prefix_len, either = ERROR_MESSAGE, 0, None
    else:
        expected, prefix_len = expected_text(spec.tokens, spec.think_tokens, bool(spec.stripped))
        either = None
        if spec.stripped is None:
            expected, prefix_len = expected_text(spec.tokens, spec.think_tokens, True)
            either = expected_text(spec.tokens, spec.think_tokens, False)[0]
    return Template(
        request=build_request(host, port, spec, status),
        fmt=spec.fmt,
        stream=spec.stream and status == 200,
        expected=expected,
        prefix_len=prefix_len,
        either=either,
        upstream_events=len(stream_events(spec.fmt, spec.tokens, spec.think_tokens)),
        status=status,
        disconnect_after=disconnect_after,
        keepalive=spec.keepalive,
        name=name or spec.fmt,
    )


def check(client: Client, template: Template, result: Result) -> bool:
    """Whether the answer is the expected one; counts it as an error or inexact if not."""
    if client.abandoned:
        return True  # hung up as planned: what the proxy does next shows in the next answers
    if client.status != template.status:
        result.errors += 1
        result.note(f"status {client.status}: {bytes(client.body[:200])!r}")
        return False
    if template.stream and (not client.framing or not client.done_seen):
        result.errors += 1
        result.note("stream without its end event" if client.framing else "not a stream")
        return False
    try:
        content = client.content()
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        result.errors += 1
        result.note(f"unparsable body: {exc!r}")
        return False
    if content == template.expected:
        return True
    if template.either is not None and content == template.either:
        result.passed_through += 1
        return True
    result.inexact += 1
    result.note(f"inexact: got {content[:80]!r}... want {template.expected[:80]!r}...")
    return False


# -- the measurement ------------------------------------------------------------------------------


async def _connect(loop: asyncio.AbstractEventLoop, host: str, port: int) -> Client:
    _, client = await loop.create_connection(Client, host, port)
    return client


async def run_load(
    host: str,
    port: int,
    kinds: list[Template],
    connections: int,
    requests_per_conn: int,
    deadline_s: float,
    request_timeout: float = 60.0,
    connect_concurrency: int = 200,
    tick: Callable[[], None] | None = None,
) -> Result:
    """`connections` workers, each sending `requests_per_conn` requests one after another; worker
    w sends kinds[(w + i) % len(kinds)] as its i-th request. `tick`, if given, is called after
    every answer (the soak samples memory with it)."""
    if host != "127.0.0.1":
        raise ValueError("the benchmark only talks to 127.0.0.1")
    loop = asyncio.get_running_loop()
    result = Result()
    setup_deadline = time.monotonic() + max(30.0, deadline_s)
    keepalive = all(kind.keepalive for kind in kinds)

    # Set-up, untimed: open every connection (a bounded number at a time).
    gate = asyncio.Semaphore(max(1, connect_concurrency))

    async def open_one() -> Client | None:
        async with gate:
            for _ in range(3):
                if time.monotonic() > setup_deadline:
                    break
                try:
                    return await asyncio.wait_for(_connect(loop, host, port), 10)
                except (OSError, asyncio.TimeoutError) as exc:
                    result.note(f"connect: {exc!r}")
                    await asyncio.sleep(0.2)
            return None

    clients: list[Client | None] = [None] * connections
    if keepalive:
        clients = list(await asyncio.gather(*(open_one() for _ in range(connections))))
    start = _perf()
    deadline = start + deadline_s

    async def worker(index: int) -> None:
        client = clients[index]
        for i in range(requests_per_conn):
            kind = kinds[(index + i) % len(kinds)]
            remaining = deadline - _perf()
            if remaining <= 0:
                result.deadline_hit = True
                return
            result.requests += 1
            began = _perf()
            if client is None or client.lost is not None or client.abandoned:
                if client is not None and client.transport is not None:
                    client.transport.close()
                try:
                    client = await asyncio.wait_for(_connect(loop, host, port), min(10, remaining))
                except (OSError, asyncio.TimeoutError) as exc:
                    result.errors += 1
                    result.note(f"connect: {exc!r}")
                    client = None
                    await asyncio.sleep(min(0.1, max(0.0, deadline - _perf())))
                    continue
                clients[index] = client
            try:
                future = client.send(kind)
                await asyncio.wait_for(future, min(request_timeout, remaining))
            except (ResponseError, OSError, asyncio.TimeoutError) as exc:
                result.errors += 1
                if isinstance(exc, asyncio.TimeoutError):
                    result.deadline_hit = result.deadline_hit or remaining < request_timeout
                    result.note("timeout")
                else:
                    result.note(str(exc))
                client.lost = client.lost or exc
                continue
            finished = _perf()
            result.events_received += client.events
            if not kind.keepalive and client.transport is not None:
                client.transport.close()
                client.lost = client.lost or ConnectionError("closed by us (no keep-alive)")
            if tick is not None:
                tick()
            if not check(client, kind, result):
                continue
            result.ok += 1
            result.by_kind[kind.name] = result.by_kind.get(kind.name, 0) + 1
            # A request on a new connection is timed from the connect (no keep-alive).
            result.latencies.append(finished - (began if not kind.keepalive else client.sent_at))
            if kind.stream and not client.abandoned:
                result.upstream_events += kind.upstream_events
                if client.ttfa_at is not None:
                    result.ttfa.append(client.ttfa_at - client.sent_at)

    try:
        await asyncio.gather(*(worker(i) for i in range(connections)))
    finally:
        result.wall = _perf() - start
        for client in clients:
            if client is not None and client.transport is not None:
                client.transport.close()
    await asyncio.sleep(0)
    return result


async def _measure(host: str, port: int, spec: Spec) -> Result:
    kinds = [template(host, port, spec)]
    return await run_load(
        host,
        port,
        kinds,
        spec.connections,
        spec.requests_per_conn,
        spec.deadline,
        spec.request_timeout,
        spec.connect_concurrency,
    )


def run_loop(coro: Any) -> Any:
    """Run a coroutine on a fresh event loop (uvloop when installed)."""
    raise_nofile()
    loop = new_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def measure(host: str, port: int, spec: Spec) -> Result:
    """Run one measurement on a fresh event loop."""
    result: Result = run_loop(_measure(host, port, spec))
    return result


if __name__ == "__main__":  # a quick manual probe: python bench/load.py PORT [stream] [FORMAT]
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
            fmt=sys.argv[3] if len(sys.argv) > 3 else "chat",
            stripped="--stripped" in sys.argv,
        ),
    )
    print(json.dumps(res.summary(), indent=1))
