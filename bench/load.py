"""Load generator for the benchmark: raw HTTP/1.1 clients on asyncio (uvloop if there), one
connection each (bench/client.py).

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

from client import Client
from client import ResponseError
from upstream import ERROR_MESSAGE
from upstream import new_loop
from upstream import raise_nofile
from wire import PATHS
from wire import expected_text
from wire import stream_events

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
