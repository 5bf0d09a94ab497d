"""End-to-end fixtures: the real ./entrypoint.sh (mitmdump + addon) against a scripted upstream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

import pytest

from .upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_sighup() -> None:
    # A suite started under nohup (or by a runner that ignores SIGHUP) would hand the proxy an
    # ignored SIGHUP, which bash cannot trap: entrypoint.sh could not pass reloads to its workers.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


class Proxy:
    """One ./entrypoint.sh process, its port and its log."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        args: list[str] | None = None,
        *,
        entrypoint: Path = ENTRYPOINT,
        wrapper: list[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        full_env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PORT": str(self.port),
            "LISTEN_HOST": "127.0.0.1",
            "HOME": str(log_path.parent),  # the proxy writes nothing there (test_container.py)
            "TMPDIR": str(log_path.parent),  # its private run directory, removed with the test's
            **env,
        }
        self._terminated = False
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [*(wrapper or []), str(entrypoint), *(args or [])],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_sighup,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> Proxy:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.process.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"proxy did not listen within {timeout} s:\n{self.log()}")

    def first_answer(self, request: bytes, timeout: float = 30.0) -> bytes:
        """Send `request` from the moment the port opens (retrying until it does); the raw answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.sendall(request)
                    answer = b""
                    while chunk := s.recv(65536):
                        answer += chunk
                    return answer
            except OSError:
                time.sleep(0.001)
        raise AssertionError(f"no answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in proxy log:\n{self.log()}")

    def terminate(self) -> None:
        """SIGTERM to our own process group (start_new_session), by PID, without waiting."""
        if self.process.poll() is None and not self._terminated:
            os.killpg(self.process.pid, signal.SIGTERM)
            self._terminated = True

    def stop(self) -> None:
        self.terminate()
        if self.process.poll() is None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()


def stop_all(proxies: Iterable[Proxy]) -> None:
    """Stop `proxies` together: each drains on its own, so signal them all, then wait for each."""
    proxies = list(proxies)
    for proxy in proxies:
        proxy.terminate()
    for proxy in proxies:
        proxy.stop()


def run_entrypoint(
    env: dict[str, str], tmp_path: Path, args: list[str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ./entrypoint.sh to completion (for configurations that must fail fast)."""
    full_env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(free_port()),
        "LISTEN_HOST": "127.0.0.1",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [str(ENTRYPOINT), *(args or [])],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_upstream(request: pytest.FixtureRequest) -> None:
    if "upstream" in request.fixturenames:
        request.getfixturevalue("upstream").reset()


@pytest.fixture(scope="session")
def start_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Proxy]]:
    """Factory: start_proxy(env) -> a ready Proxy; all are stopped at the end of the session."""
    started: list[Proxy] = []

    def start(env: dict[str, str], args: list[str] | None = None) -> Proxy:
        home = tmp_path_factory.mktemp("proxy")
        proxy = Proxy(env, home / "proxy.log", args)
        started.append(proxy)
        return proxy.wait_ready()

    yield start
    stop_all(started)


@pytest.fixture(scope="session")
def proxy(start_proxy: Callable[..., Proxy], upstream: Upstream) -> Proxy:
    """The default proxy: TARGET_BASE_URL=<upstream>/v1/, everything else at its defaults."""
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "API_REQUEST_TIMEOUT": "3"})
