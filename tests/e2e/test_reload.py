"""CONFIG_FILE is reloaded while the proxy runs: on change (edit, symlink swap) and on SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ENTRYPOINT
from .conftest import Proxy
from .test_core import curl_json

RULE = "models:\n  - model: m\n    params: {{temperature: {t}}}\n"
BAD_RULE = "models:\n  - model: m\n    think_mode: sometimes\n"


def temperature(proxy, upstream) -> object:
    """The temperature the upstream received for one chat request through the proxy."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    status, _, _ = curl_json(
        "-H",
        "Content-Type: application/json",
        "-d",
        json.dumps(body),
        f"{proxy.url}/v1/chat/completions",
    )
    assert status == 200
    return upstream.received[-1].json().get("temperature")


def wait_temperature(proxy, upstream, expected: float, within: float) -> float:
    """Seconds until requests get `expected`; fails after `within` seconds."""
    started = time.monotonic()
    while True:
        if temperature(proxy, upstream) == expected:
            return time.monotonic() - started
        assert time.monotonic() - started < within, proxy.log()
        time.sleep(0.05)


def start(start_proxy, upstream, path: Path, workers: int = 1):
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "CONFIG_FILE": str(path),
            "WORKERS": str(workers),
        }
    )


def test_an_edited_file_is_noticed_within_2s_and_a_bad_one_keeps_the_old_rules(
    start_proxy, upstream, tmp_path
):
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(t=0.1))
    proxy = start(start_proxy, upstream, path)
    assert temperature(proxy, upstream) == 0.1

    path.write_text(RULE.format(t=0.25))  # a different size: any watcher sees this one
    assert wait_temperature(proxy, upstream, 0.25, within=2.5) < 2.0
    proxy.wait_log("reloaded (file changed): 1 rules")

    path.write_text(BAD_RULE)
    log = proxy.wait_log("not reloaded", timeout=3)
    time.sleep(1.5)  # several polls later: still one line, and the old rules in force
    log = proxy.log()
    errors = [line for line in log.splitlines() if "not reloaded" in line]
    assert len(errors) == 1, log
    assert "think_mode" in errors[0] and "sometimes" in errors[0], errors
    assert "keeping the 1 rules in force" in errors[0]
    assert "Traceback" not in log
    for _ in range(3):
        assert temperature(proxy, upstream) == 0.25

    path.write_text(RULE.format(t=0.5))
    wait_temperature(proxy, upstream, 0.5, within=2.5)
    assert proxy.process.poll() is None


def test_a_configmap_symlink_swap_is_noticed(start_proxy, upstream, tmp_path):
    """Kubernetes mounts a ConfigMap as key -> ..data/key, ..data -> ..<timestamp>/; an update
    writes a new timestamped directory and renames a new ..data symlink over the old one."""
    mount = tmp_path / "config"
    old = mount / "..2024_01_01_00_00_00.1"
    old.mkdir(parents=True)
    (old / "config.yaml").write_text(RULE.format(t=0.1))
    (mount / "..data").symlink_to(old.name)
    (mount / "config.yaml").symlink_to("..data/config.yaml")
    proxy = start(start_proxy, upstream, mount / "config.yaml")
    assert temperature(proxy, upstream) == 0.1

    new = mount / "..2024_01_01_00_01_00.2"
    new.mkdir()
    (new / "config.yaml").write_text(RULE.format(t=0.9))  # same size as the old file
    stat = (old / "config.yaml").stat()
    os.utime(new / "config.yaml", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and same mtime
    (mount / "..data_tmp").symlink_to(new.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    (old / "config.yaml").unlink()
    old.rmdir()
    assert wait_temperature(proxy, upstream, 0.9, within=2.5) < 2.0
    proxy.wait_log("reloaded (file changed): 1 rules")


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_every_worker(start_proxy, upstream, tmp_path, workers):
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(t=0.1))
    proxy = start(start_proxy, upstream, path, workers)
    # The port opens with the first worker: wait until every one has read the rules.
    deadline = time.monotonic() + 15
    while proxy.log().count("rule: ") < workers:
        assert time.monotonic() < deadline, proxy.log()
        time.sleep(0.05)
    assert temperature(proxy, upstream) == 0.1
    # Same size, same inode, same mtime: only the signal can make the proxy read it again.
    stat = path.stat()
    with path.open("r+") as f:
        f.write(RULE.format(t=0.9))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    time.sleep(1.2)
    assert temperature(proxy, upstream) == 0.1, "reloaded without a signal: the test proves nothing"

    os.kill(proxy.process.pid, signal.SIGHUP)  # the entrypoint (exec'd mitmdump when workers=1)
    deadline = time.monotonic() + 15  # a loaded machine (CI beside other work) is slow
    while proxy.log().count("reloaded (SIGHUP): 1 rules") < workers:
        assert time.monotonic() < deadline, proxy.log()
        time.sleep(0.05)
    for _ in range(4 * workers):  # new connections, spread over the workers by the kernel
        assert temperature(proxy, upstream) == 0.9
    assert proxy.process.poll() is None, proxy.log()
    assert "a worker exited" not in proxy.log()


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_during_start_up_does_not_stop_the_proxy(upstream, tmp_path, workers):
    """A reload signal sent while the proxy starts (a config-map reloader, a restart script)
    used to kill it: Python's default for SIGHUP is to end the process."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(t=0.1))
    env = {"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path)}
    proxy = Proxy({**env, "WORKERS": str(workers)}, tmp_path / "proxy.log")
    try:
        time.sleep(0.1)  # bash has read the script's first lines
        deadline = time.monotonic() + 30
        while proxy.log().count("rule: ") < workers:  # every worker has loaded its rules
            assert proxy.process.poll() is None, proxy.log()
            assert time.monotonic() < deadline, proxy.log()
            os.kill(proxy.process.pid, signal.SIGHUP)
            time.sleep(0.02)
        path.write_text(RULE.format(t=0.9))
        os.kill(proxy.process.pid, signal.SIGHUP)  # once started, the signal reloads
        assert wait_temperature(proxy.wait_ready(), upstream, 0.9, within=5) < 5
        assert proxy.process.poll() is None
        assert "exited" not in proxy.log()
    finally:
        proxy.stop()


def test_under_nohup_the_workers_are_named_for_sighup(upstream, tmp_path):
    """nohup hands the entrypoint an ignored SIGHUP, which bash can neither trap nor pass on:
    with several workers it says so, and names the workers, which still reload on it."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(t=0.1))
    env = {"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path), "WORKERS": "2"}
    proxy = Proxy(env, tmp_path / "proxy.log", wrapper=["nohup"])
    try:
        proxy.wait_ready()
        said = "SIGHUP was ignored when this shell started"
        line = next(ln for ln in proxy.wait_log(said, timeout=15).splitlines() if said in ln)
        named = line.split("kill -HUP ")[2].split(")")[0].split()
        workers = [int(pid) for pid in named]
        assert len(workers) == 2 and proxy.process.pid not in workers
        deadline = time.monotonic() + 15
        while proxy.log().count("rule: ") < 2:
            assert time.monotonic() < deadline, proxy.log()
            time.sleep(0.05)
        stat = path.stat()  # same size and mtime: only the signal makes a worker read it again
        with path.open("r+") as f:
            f.write(RULE.format(t=0.9))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.kill(proxy.process.pid, signal.SIGHUP)  # ignored, as the line says
        time.sleep(1.2)
        assert "reloaded (SIGHUP)" not in proxy.log()
        for pid in workers:
            os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 15
        while proxy.log().count("reloaded (SIGHUP): 1 rules") < 2:
            assert time.monotonic() < deadline, proxy.log()
            time.sleep(0.05)
        assert proxy.process.poll() is None
    finally:
        proxy.stop()


def test_the_workers_sighup_trap_survives_pids_it_cannot_signal():
    """`entrypoint.sh` passes SIGHUP on to its workers from a trap, under `set -e`. Before the
    first worker starts there is no PID, and a worker that died waits a second for its
    replacement: a failing `kill` in the trap ended the whole proxy (exit 2 in the start-up
    test above, once in a few runs). The trap itself, run on both."""
    trap = next(
        line
        for line in ENTRYPOINT.read_text().splitlines()
        if line.startswith("trap ") and line.endswith(" HUP") and "kill -HUP" in line
    )
    script = "\n".join(
        [
            "set -euo pipefail",
            "workers=()",
            trap,
            "kill -HUP $$",
            "sleep 0 & gone=$!",
            "wait $gone",
            "workers=($gone)",
            "kill -HUP $$",
            "echo survived",
        ]
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=10)
    assert (result.returncode, result.stdout) == (0, "survived\n"), result.stderr
