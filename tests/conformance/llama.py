"""The real llama-server for the conformance suite: where the build cached it, and one running process.

`build_llama_server.sh` (run by `make conformance` and `make test`) builds llama-server once per machine
into the cache folder; `LlamaServer` starts it on a free loopback port with the tiny model of
`tiny_model.py` and stops it by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..e2e.conftest import free_port

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
BUILD_SCRIPT = Path(__file__).with_name("build_llama_server.sh")
START_TIMEOUT = 60.0
SEED = 18


def cache_dir() -> Path:
    base = os.environ.get("COT_PROXY_CACHE") or str(Path.home() / ".cache" / "cot-proxy")
    return Path(base) / f"llama-{LLAMA_CPP_PYTHON_VERSION}"


def built_cache() -> Path:
    """The cache folder of a finished build, or an error that says how to make one."""
    cache = cache_dir()
    if not (cache / ".complete").exists() or not (cache / "bin" / "llama-server").exists():
        raise RuntimeError(
            f"llama-server is not built in {cache}: run `make conformance` "
            f"(or {BUILD_SCRIPT.relative_to(BUILD_SCRIPT.parents[2])}) first"
        )
    return cache


def server_version(cache: Path) -> str:
    return (cache / "VERSION").read_text().strip()


class LlamaServer:
    """One llama-server process on 127.0.0.1, started in its own session and stopped by PID."""

    def __init__(self, cache: Path, model: Path, log_path: Path, args: list[str]) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")
        command = [
            str(cache / "bin" / "llama-server"),
            *("--model", str(model), "--host", "127.0.0.1", "--port", str(self.port)),
            *("--seed", str(SEED), "--parallel", "1", "--threads", "1", "--threads-http", "2"),
            *(
                "--ctx-size",
                "2048",
                "--no-warmup",
                "--no-webui",
                "--jinja",
                "--alias",
                "tiny-qwen3",
            ),
            *("--reasoning-format", "none"),
            *args,
        ]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> LlamaServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama-server not ready within {timeout} s:\n{self.log()}")

    def post(self, path: str, body: dict[str, Any]) -> bytes:
        """The raw answer body of a POST straight to the server (no proxy)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.read()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
