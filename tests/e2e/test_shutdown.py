"""Stopping and restarting: graceful drain on SIGTERM, and worker recovery with WORKERS=2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .test_core import curl_json
from .test_workers import children as all_children
from .test_workers import wait_until
from .upstream import Received
from .upstream import Reply
from .upstream import chat_stream

CHAT = '{"model": "m", "stream": true, "messages": []}'


def children(pid: int) -> list[int]:
    """The entrypoint's mitmdump workers (not its `sleep` between restarts)."""
    found = []
    for child in all_children(pid):
        try:
            if b"mitmdump" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def slow_stream(pieces: int, delay: float):
    async def handler(req: Received, reply: Reply) -> None:
        if not req.path.endswith("/chat/completions"):
            await reply.json(200, {"ok": True})
            return
        await reply.sse(chat_stream([f"t{i} " for i in range(pieces)]), delay=delay)

    return handler


def start_stream(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "curl",
            "-sSN",
            "--max-time",
            "60",
            "-H",
            "Content-Type: application/json",
            "-d",
            CHAT,
            f"{url}/v1/chat/completions",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def keep_alive_get(sock: socket.socket, path: str) -> bytes:
    """One GET on an open connection; the raw answer (head and JSON body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    return answer


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_stream_in_flight_survives_sigterm(start_proxy, upstream):
    upstream.reset(slow_stream(15, 0.2))  # about 3 s
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "SHUTDOWN_GRACE_SECONDS": "20"})
    kept = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    assert keep_alive_get(kept, "/health/live").startswith(b"HTTP/1.1 200")
    stream = start_stream(proxy.url)
    assert wait_until(lambda: len(upstream.received) == 1)
    time.sleep(0.3)
    proxy.process.send_signal(signal.SIGTERM)  # WORKERS=1: mitmdump itself, by PID
    assert wait_until(lambda: refused(proxy.port), 3)  # no new connections
    health = keep_alive_get(kept, "/health")
    assert health.startswith(b"HTTP/1.1 503") and b"shutting down" in health
    kept.close()
    out, err = stream.communicate(timeout=30)
    assert out.rstrip().endswith(b"data: [DONE]"), (out[-300:], err)
    assert out.count(b"data: ") == 15 + 3  # role, the pieces, finish, [DONE]: nothing cut
    assert proxy.process.wait(10) == 0
    assert "all flows finished" in proxy.log()


def test_grace_timeout_ends_a_stream_that_outlives_it(start_proxy, upstream):
    upstream.reset(slow_stream(60, 0.25))  # 15 s
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "SHUTDOWN_GRACE_SECONDS": "1"})
    stream = start_stream(proxy.url)
    assert wait_until(lambda: len(upstream.received) == 1)
    started = time.monotonic()
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(10) == 0
    assert time.monotonic() - started < 5
    out, _ = stream.communicate(timeout=10)
    assert b"[DONE]" not in out
    log = proxy.log()
    assert "ran out with 1 flows still open" in log
    # one line says it; the cut connection is no CancelledError traceback
    assert "Traceback" not in log and "CancelledError" not in log, log


def test_an_idle_kept_alive_connection_does_not_outlive_the_drain(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "SHUTDOWN_GRACE_SECONDS": "5"})
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as kept:
        assert keep_alive_get(kept, "/health/live").startswith(b"HTTP/1.1 200")
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(10) == 0
        assert kept.recv(1) == b""  # closed by the proxy
    log = proxy.log()
    assert "all flows finished" in log
    assert "Traceback" not in log and "CancelledError" not in log, log


def test_second_signal_stops_at_once(start_proxy, upstream):
    upstream.reset(slow_stream(60, 0.25))
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "SHUTDOWN_GRACE_SECONDS": "30"})
    stream = start_stream(proxy.url)
    assert wait_until(lambda: len(upstream.received) == 1)
    proxy.process.send_signal(signal.SIGTERM)
    proxy.wait_log("stop signal")
    time.sleep(0.5)
    assert proxy.process.poll() is None  # draining
    started = time.monotonic()
    proxy.process.send_signal(signal.SIGTERM)
    proxy.process.wait(5)
    assert time.monotonic() - started < 3
    stream.communicate(timeout=10)
    assert "second stop signal" in proxy.log()


def socket_owner(proxy_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the proxy's end of the connection from `client_port`."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == proxy_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def test_a_dead_worker_is_replaced_while_the_other_serves(start_proxy, upstream):
    upstream.reset(slow_stream(20, 0.2))  # 4 s
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "WORKERS": "2"})
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    workers = children(proxy.process.pid)
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    client.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(CHAT), CHAT.encode())
    )
    assert wait_until(lambda: len(upstream.received) == 1)
    serving = socket_owner(proxy.port, client.getsockname()[1], workers)
    assert serving in workers
    other = next(pid for pid in workers if pid != serving)
    os.kill(other, signal.SIGKILL)  # a worker we started, by PID
    for _ in range(20):  # the port keeps answering meanwhile
        assert curl_json(f"{proxy.url}/health/live")[0] == 200
    answer = b""
    while not answer.endswith(b"0\r\n\r\n"):
        data = client.recv(65536)
        assert data, answer[-300:]
        answer += data
    client.close()
    assert b"data: [DONE]" in answer  # the other worker's stream, intact
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2, 10)
    new = next(pid for pid in children(proxy.process.pid) if pid not in workers)
    assert serving in children(proxy.process.pid)

    # The new worker serves: connections reach it within a few seconds.
    def new_one_serves() -> bool:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            owner = socket_owner(proxy.port, s.getsockname()[1], [serving, new])
            return owner == new and keep_alive_get(s, "/health/live").startswith(b"HTTP/1.1 200")

    assert wait_until(new_one_serves, 15)
    assert "starting a new one" in proxy.log()
    assert proxy.process.poll() is None


def test_a_worker_that_keeps_dying_stops_the_proxy(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "WORKERS": "2"})
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    survivor = children(proxy.process.pid)[1]
    for death in range(5):
        assert wait_until(lambda: len(children(proxy.process.pid)) == 2, 10), proxy.log()
        victim = next(pid for pid in children(proxy.process.pid) if pid != survivor)
        os.kill(victim, signal.SIGKILL)  # a worker we started, by PID
        if death < 4:
            assert wait_until(lambda v=victim: v not in children(proxy.process.pid))
    assert proxy.process.wait(20) != 0
    assert "died 5 times within 60 s" in proxy.log()
    assert wait_until(
        lambda: (
            not Path(f"/proc/{survivor}").exists()
            or "zombie" in Path(f"/proc/{survivor}/status").read_text().lower()
        )
    )
