"""WORKERS=N: several mitmdump processes on one port (the SO_REUSEPORT seam), and TCP-only listening."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from .conftest import free_port
from .test_core import curl_json


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def udp_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            ports.add(int(line.split()[1].rsplit(":", 1)[1], 16))
    return ports


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_two_workers_share_the_port(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "WORKERS": "2"})
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    workers = children(proxy.process.pid)
    before = {pid: cpu_ticks(pid) for pid in workers}
    for _ in range(150):  # a new connection each time: the kernel spreads them
        assert curl_json(f"{proxy.url}/v1/models")[0] == 200
    assert curl_json(f"{proxy.url}/health")[0] == 200
    used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    assert all(ticks > 0 for ticks in used.values()), used


def test_sigterm_reaches_every_worker(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "WORKERS": "2"})
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    workers = children(proxy.process.pid)
    proxy.process.send_signal(signal.SIGTERM)
    proxy.process.wait(10)
    assert proxy.process.returncode == 0
    for pid in workers:
        assert wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists())


def test_https_target_listens_on_tcp_only_so_workers_can_share(start_proxy):
    target = f"https://127.0.0.1:{free_port()}/v1"
    single = start_proxy({"TARGET_BASE_URL": target})
    assert single.port not in udp_ports()
    shared = start_proxy({"TARGET_BASE_URL": target, "WORKERS": "2"})
    assert wait_until(lambda: len(children(shared.process.pid)) == 2)
    assert curl_json(f"{shared.url}/v1/models")[0] == 502
    assert shared.process.poll() is None, shared.log()


def test_workers_setting_validated(tmp_path):
    from .conftest import run_entrypoint

    for value, message in [("0", "WORKERS must be"), ("many", "WORKERS must be")]:
        result = run_entrypoint(
            {"TARGET_BASE_URL": "http://127.0.0.1:9/", "WORKERS": value}, tmp_path
        )
        assert result.returncode != 0 and message in result.stderr
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "WORKERS": "2", "MITM_TOOL": "mitmweb"}, tmp_path
    )
    assert result.returncode != 0 and "WORKERS must be 1 with mitmweb" in result.stderr
