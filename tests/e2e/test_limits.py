"""Limits end to end: concurrent requests, liveness, bounded uploads, slow clients."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import select
import selectors
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .test_core import curl_json
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion


def test_beyond_max_concurrent_requests_is_429_not_forwarded(start_proxy, upstream):
    release = asyncio.Event()

    async def handler(req: Received, reply: Reply) -> None:
        if req.path.endswith("/chat/completions"):
            await asyncio.wait_for(release.wait(), 20)
        await reply.json(200, chat_completion("ok"))

    def chats() -> int:
        return sum(r.path.endswith("/chat/completions") for r in upstream.received)

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "MAX_CONCURRENT_REQUESTS": "2"})
    body = json.dumps({"model": "m", "messages": []})
    args = ("-H", "Content-Type: application/json", "-d", body, f"{proxy.url}/v1/chat/completions")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        held = [pool.submit(curl_json, *args) for _ in range(2)]
        deadline = time.monotonic() + 10
        while chats() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert chats() == 2
        status, answer, headers = curl_json(*args)
        assert status == 429
        assert answer["error"]["type"] == "rate_limit_error"
        assert answer["error"]["code"] == "too_many_concurrent_requests"
        assert headers["retry-after"] == "1"
        for path in ("/health/live", "/health"):  # never limited
            assert curl_json(f"{proxy.url}{path}")[0] == 200
        assert chats() == 2  # the 429 never reached the target
        upstream.loop.call_soon_threadsafe(release.set)
        assert [f.result()[0] for f in held] == [200, 200]
    # The slots are free again.
    assert curl_json(*args)[0] == 200


def test_max_concurrent_requests_validated(tmp_path):
    from .conftest import run_entrypoint

    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "MAX_CONCURRENT_REQUESTS": "-1"}, tmp_path
    )
    assert result.returncode != 0 and "MAX_CONCURRENT_REQUESTS must be" in result.stderr


def test_health_live_answers_without_the_target(start_proxy, upstream):
    from .conftest import free_port

    dead = start_proxy({"TARGET_BASE_URL": f"http://127.0.0.1:{free_port()}/v1/"})
    status, answer, _ = curl_json(f"{dead.url}/health/live")
    assert (status, answer) == (200, {"status": "alive"})
    assert curl_json(f"{dead.url}/health")[0] == 503  # the target is down; the process is not
    live = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/"})
    assert curl_json(f"{live.url}/health/live")[0] == 200
    assert upstream.received == []


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def complete(answer: bytes) -> bool:
    """Has `answer` its head and all the Content-Length bytes of its body?"""
    head, found, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: *(\d+)", head, re.I)
    return bool(found and length and len(body) >= int(length.group(1)))


def upload_chunked(
    port: int, total: int, rss: Callable[[], int], rss_cap: int
) -> tuple[bytes, int, int]:
    """Send up to `total` bytes as a chunked body, generated lazily, until the proxy answers.

    Returns (the answer, bytes sent, the proxy's peak RSS). Stops early, failing, if the proxy's
    RSS passes `rss_cap`: without the bound this would otherwise buffer gigabytes.
    """
    piece = b"x" * (1 << 20)
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    sent = peak = 0
    deadline = time.monotonic() + 120
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        while sent < total and time.monotonic() < deadline:
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            try:
                s.sendall(chunk)
            except OSError:
                break  # the proxy closed the connection: read what it said
            sent += len(piece)
            if sent % (16 << 20) == 0:
                peak = max(peak, rss())
                assert peak < rss_cap, f"proxy RSS {peak} after {sent} bytes sent"
        peak = max(peak, rss())
        s.settimeout(10)
        answer = b""
        try:
            while not complete(answer) and (data := s.recv(65536)):
                answer += data
        except OSError:
            pass
    return answer, sent, peak


def test_huge_chunked_upload_is_413_within_bounded_memory(start_proxy, upstream):
    limit = 16 << 20
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "MAX_REQUEST_BYTES": str(limit)})
    assert curl_json(f"{proxy.url}/health/live")[0] == 200  # warmed up: a fair baseline
    pid = proxy.process.pid  # WORKERS=1: entrypoint.sh execs mitmdump
    baseline = rss_bytes(pid)
    answer, sent, peak = upload_chunked(
        proxy.port, 2 << 30, lambda: rss_bytes(pid), rss_cap=baseline + 256 * (1 << 20)
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), (answer[:300], sent)
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large" and str(limit) in error["message"]
    assert sent < 2 << 30  # refused early, not after the whole upload
    # The limit, bytearray growth while it buffers, and a margin: never the upload.
    assert peak - baseline < 2 * limit + 32 * (1 << 20), (baseline, peak)
    assert upstream.received == []
    assert "Traceback" not in proxy.log()
    assert curl_json(f"{proxy.url}/v1/models")[0] == 200  # and the proxy serves on


# --- slow clients: CLIENT_HEADER_TIMEOUT, CLIENT_IDLE_TIMEOUT ----------------------------------

HEADER_TIMEOUT = 2
IDLE_TIMEOUT = 4


@pytest.fixture(scope="module")
def slow_clients_proxy(start_proxy, upstream):
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "CLIENT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "CLIENT_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        }
    )


def read_answer(s: socket.socket, timeout: float = 20) -> bytes:
    s.settimeout(timeout)
    answer = b""
    while not complete(answer) and (data := s.recv(65536)):
        answer += data
    return answer


def wait_closed(s: socket.socket, timeout: float) -> float | None:
    """time.monotonic() when the proxy closed `s` (EOF or reset), or None if still open."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([s], [], [], left)
        if not readable:
            break
        try:
            if not s.recv(65536):
                return time.monotonic()
        except OSError:
            return time.monotonic()
    return None


def test_2000_connections_without_complete_headers_are_closed(slow_clients_proxy):
    proxy = slow_clients_proxy
    opened: dict[socket.socket, float] = {}
    closed: dict[socket.socket, float] = {}
    sockets: dict[int, socket.socket] = {}
    selector = selectors.DefaultSelector()
    try:
        for _ in range(20):  # 20 batches of 100, a normal request served after each
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
                s.sendall(b"POST /v1/chat/completions HTT")  # and never the rest
                s.setblocking(False)
                opened[s] = time.monotonic()
                sockets[s.fileno()] = s
                selector.register(s, selectors.EVENT_READ)
            assert curl_json(f"{proxy.url}/v1/models")[0] == 200
        deadline = time.monotonic() + HEADER_TIMEOUT + 30
        while len(closed) < len(opened) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                s = sockets[key.fd]
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[s] = time.monotonic()
                    selector.unregister(s)
        assert len(closed) == len(opened) == 2000, f"{len(opened) - len(closed)} still open"
        # Closed for their silence, not at once: none before the timeout.
        assert min(closed[s] - opened[s] for s in opened) >= HEADER_TIMEOUT - 0.1
        assert curl_json(f"{proxy.url}/v1/models")[0] == 200
    finally:
        selector.close()
        for s in opened:
            s.close()
    assert "Traceback" not in proxy.log()
    assert "CLIENT_HEADER_TIMEOUT" in proxy.log()


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(slow_clients_proxy):
    with socket.create_connection(("127.0.0.1", slow_clients_proxy.port), timeout=10) as s:
        for _ in range(2):  # kept alive: a second request on the same connection
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(s).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        # Between requests the idle timeout applies, not the (shorter) header timeout.
        assert wait_closed(s, HEADER_TIMEOUT + 1) is None
        closed = wait_closed(s, IDLE_TIMEOUT + 10)
        assert closed is not None, "idle connection still open"
        assert IDLE_TIMEOUT - 0.1 <= closed - answered <= IDLE_TIMEOUT + 5


def test_slow_target_answer_is_not_cut_by_client_timeouts(slow_clients_proxy, upstream):
    async def slow(req: Received, reply: Reply) -> None:
        await asyncio.sleep(IDLE_TIMEOUT + 1)  # longer than both client timeouts
        await reply.json(200, chat_completion("late but whole"))

    upstream.reset(slow)
    body = json.dumps({"model": "m", "messages": []}).encode()
    with socket.create_connection(("127.0.0.1", slow_clients_proxy.port), timeout=10) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        head, _, answer = read_answer(s).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(answer)["choices"][0]["message"]["content"] == "late but whole"


def test_header_trickle_is_timed_from_the_last_byte(slow_clients_proxy):
    # Each piece comes within CLIENT_HEADER_TIMEOUT of the last; the whole takes 3× as long.
    request = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
    pieces = [request[i : i + 10] for i in range(0, len(request), 10)]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", slow_clients_proxy.port), timeout=10) as s:
        for piece in pieces:
            s.sendall(piece)
            time.sleep(HEADER_TIMEOUT * 0.6)
        assert time.monotonic() - started > 2 * HEADER_TIMEOUT
        assert read_answer(s).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("name", ["CLIENT_HEADER_TIMEOUT", "CLIENT_IDLE_TIMEOUT"])
@pytest.mark.parametrize("value", ["0", "-1", "2.5", "soon"])
def test_client_timeouts_validated(tmp_path, name, value):
    from .conftest import run_entrypoint

    result = run_entrypoint({"TARGET_BASE_URL": "http://127.0.0.1:9/", name: value}, tmp_path)
    assert result.returncode != 0
    assert f"{name} must be a whole number of seconds above 0, not '{value}'" in result.stderr
