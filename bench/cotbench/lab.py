"""The lab: the processes a run starts (upstream, floor, project), and what the machine says.

Every process runs in its own process group and is stopped by its PID only: `Lab` keeps the
ones it started and stops them all when its `with` block ends, however it ends.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from upstream import uvloop_module

from cotbench.paths import BENCH
from cotbench.paths import HOST
from cotbench.paths import REPO
from cotbench.paths import VENV_BIN
from cotbench.scenarios import LONG_RULE

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Proc:
    """A process we started, in its own process group; stopped by its PID only."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "wb")
        self.popen = subprocess.Popen(
            cmd,
            env=env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.port = 0

    def alive(self) -> bool:
        return self.popen.poll() is None

    def group_pids(self) -> list[int]:
        """PIDs in our process group (the entrypoint execs mitmdump: usually just self.pid)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) == self.pid:
                        pids.append(int(entry))
                except OSError:
                    pass
        return sorted(pids) or [self.pid]

    def peak_rss_mb(self) -> float | None:
        """The largest VmHWM (peak resident set) among the group's processes, in MB."""
        peaks = [kb for pid in self.group_pids() if (kb := _status_kb(pid, "VmHWM")) is not None]
        return max(peaks) / 1024 if peaks else None

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the group's live processes."""
        total = 0
        for pid in self.group_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
            except (OSError, IndexError, ValueError):
                pass
        return total / CLOCK_TICKS

    def mitmdump_pids(self) -> list[int]:
        found = []
        for pid in self.group_pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"mitmdump" in cmdline and Path(f"/proc/{pid}/status").exists():
                if _status_kb(pid, "VmRSS") is not None:  # not a zombie
                    found.append(pid)
        return found

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        self._log.close()


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from the first line of /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # without guest time, which is counted in user already
    return total - idle, total


def machine_busy(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(proc: Proc, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}"
            )
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"{proc.name} did not listen on {port} within {timeout} s:\n{proc.log_tail()}"
    )


class Lab:
    """Starts the upstream and the proxies; knows each target's port and process, and stops
    every process it started when the `with` block ends."""

    def __init__(self, logs: Path, home: Path) -> None:
        self.logs = logs
        self.home = home
        self.env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
        }  # mitmproxy keeps its CA in ~/.mitmproxy
        self.upstream: Proc | None = None
        self.upstream_loop = ""
        self.started: list[Proc] = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        """Stop every process started here, the last first (each by its PID, once)."""
        while self.started:
            self.started.pop().stop()

    def _start(self, name: str, cmd: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, cmd, env, self.logs / f"{name}.log")
        self.started.append(proc)
        return proc

    def uvloop_shim(self) -> Path:
        """A directory with a `mitmdump` that runs mitmdump on uvloop (bench/uvloop_mitmdump.py)."""
        shim = self.home / "uvloop-bin"
        if not shim.exists():
            shim.mkdir()
            script = shim / "mitmdump"
            script.write_text(
                f'#!/bin/sh\nexec "{sys.executable}" "{BENCH / "uvloop_mitmdump.py"}" "$@"\n'
            )
            script.chmod(0o755)
        return shim

    def start_upstream(self) -> Proc:
        proc = self._start(
            "upstream", [sys.executable, str(BENCH / "upstream.py"), "--port", "0"], self.env
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = proc.log_path.read_text(errors="replace")
            if text.startswith("PORT "):
                parts = text.split()
                proc.port = int(parts[1])
                self.upstream_loop = parts[2]
                break
            if not proc.alive():
                raise RuntimeError(f"upstream exited:\n{proc.log_tail()}")
            time.sleep(0.05)
        wait_listening(proc, proc.port)
        self.upstream = proc
        return proc

    def start_floor(self, name: str = "floor", event_loop: str = "asyncio") -> Proc:
        """mitmdump as shipped (on uvloop: through bench/uvloop_mitmdump.py, nothing else)."""
        assert self.upstream is not None
        port = free_port()
        tool = [str(VENV_BIN / "mitmdump")]
        if event_loop == "uvloop":
            tool = [sys.executable, str(BENCH / "uvloop_mitmdump.py")]
        cmd = [
            *tool,
            "--mode",
            f"reverse:http://{HOST}:{self.upstream.port}",
            "--listen-host",
            HOST,
            "--listen-port",
            str(port),
            "-s",
            str(BENCH / "floor_addon.py"),
            "--set",
            "connection_strategy=lazy",
            "--set",
            "flow_detail=0",
            "--set",
            "termlog_verbosity=warn",
        ]
        proc = self._start(name, cmd, self.env)
        proc.port = port
        wait_listening(proc, port)
        return proc

    def start_project(
        self, name: str = "project", workers: int | None = None, event_loop: str | None = None
    ) -> Proc:
        assert self.upstream is not None
        port = free_port()
        env = {
            **self.env,
            "TARGET_BASE_URL": f"http://{HOST}:{self.upstream.port}/v1",
            "PORT": str(port),
            "LISTEN_HOST": HOST,
            "THINK_MODE": "strip",
            "LLM_PARAMS": LONG_RULE,
        }
        if event_loop == "uvloop":  # the entrypoint runs the first mitmdump on PATH
            env["PATH"] = f"{self.uvloop_shim()}{os.pathsep}{env['PATH']}"
        if workers:
            env["WORKERS"] = str(workers)
        proc = self._start(name, [str(REPO / "entrypoint.sh")], env)
        proc.port = port
        wait_listening(proc, port)
        if workers:  # every worker should be up before we measure
            deadline = time.monotonic() + 20
            while len(proc.mitmdump_pids()) < workers and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)
        return proc


def entrypoint_knows(name: str) -> bool:
    try:
        return name in (REPO / "entrypoint.sh").read_text()
    except OSError:
        return False


def workers_supported() -> bool:
    return entrypoint_knows("WORKERS")


def machine_header() -> dict[str, str]:
    """The report's header line: the machine, the versions, the commit ("+changes" when addon/
    or entrypoint.sh differ from it)."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            text=True,
            capture_output=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "addon", "entrypoint.sh"],
            cwd=REPO,
            text=True,
            capture_output=True,
            timeout=10,
        ).stdout.strip()
        commit += "+changes" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    uvloop = uvloop_module()
    loop = f"uvloop {uvloop.__version__}" if uvloop else "asyncio"
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": platform.machine(),
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "mitmproxy": importlib.metadata.version("mitmproxy"),
        "load/upstream loop": loop,
        "commit": commit or "?",
    }
