"""The entrypoint runs as a container with `--read-only --tmpfs /tmp --user 12345:0` would run it.

No container engine runs here. The nearest thing: the app tree copied and bind-mounted read-only, HOME
that does not exist, a TMPDIR of its own, and a random uid in group 0 (`setpriv`), inside a private
mount namespace (`unshare -m`) so that nothing outside the test sees the mounts.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO
from .conftest import Proxy
from .conftest import run_entrypoint
from .upstream import Upstream
from .upstream import chat_completion

RANDOM_UID = 12345
APP_FILES = ["entrypoint.sh", "config.yaml", "VERSION", "addon"]


def copy_app(dest: Path) -> Path:
    """The files the Dockerfile copies, readable by anyone and writable by no one else."""
    dest.mkdir()
    for name in APP_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o555 if path.is_dir() or os.access(path, os.X_OK) else 0o444)
    return dest


def blocking_ancestor(path: Path) -> Path | None:
    """The outermost directory above `path` that other users cannot enter (e.g. /root), if any."""
    for parent in reversed(path.parents):
        if not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def isolation_wrapper(app: Path, hold: Path) -> list[str]:
    """A command prefix: private mounts, the app read-only, then exec as RANDOM_UID in group 0.

    The interpreter may live where a random uid cannot reach (pyenv under /root, mode 0700): then a
    tmpfs covers that directory in this namespace only, and the interpreter is bound back at its path.
    """
    lines = ["set -eu"]
    for i, needed in enumerate(sorted({Path(sys.base_prefix), Path(sys.prefix)})):
        blocker = blocking_ancestor(needed)
        if blocker is None:
            continue
        keep = hold / str(i)
        keep.mkdir(parents=True)
        lines += [
            f"mount --bind '{needed}' '{keep}'",
            f"mountpoint -q '{blocker}' || mount -t tmpfs -o mode=0755,size=1m tmpfs '{blocker}'",
            f"mkdir -p '{needed}'",
            f"mount --bind '{keep}' '{needed}'",
        ]
    lines += [
        f"mount --bind '{app}' '{app}'",
        f"mount -o remount,bind,ro '{app}'",
        f'exec setpriv --reuid {RANDOM_UID} --regid 0 --clear-groups "$@"',
    ]
    return ["unshare", "-m", "--propagation", "private", "bash", "-c", "\n".join(lines), "bash"]


def get(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def answer_with_think(upstream: Upstream) -> None:
    async def handler(req, reply):
        await reply.json(200, chat_completion("<think>secret plan</think>Hello"))

    upstream.reset(handler)


def private_dirs(tmpdir: Path) -> list[Path]:
    return [p for p in tmpdir.iterdir() if p.name.startswith("cot-proxy.")]


@pytest.fixture
def reachable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory every uid can enter (pytest's own tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="cot-proxy-container-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_random_uid_read_only_tree_no_home(
    tmp_path: Path, reachable_dir: Path, upstream: Upstream
) -> None:
    app = copy_app(reachable_dir / "app")
    tmpdir = reachable_dir / "tmp"  # the container's --tmpfs /tmp
    tmpdir.mkdir()
    tmpdir.chmod(0o1777)
    as_root = os.geteuid() == 0
    # Without root (no namespaces, no uid change) the current uid is the "random" one.
    wrapper = isolation_wrapper(app, tmp_path / "hold") if as_root else None
    answer_with_think(upstream)
    proxy = Proxy(
        {"TARGET_BASE_URL": f"{upstream.url}/v1", "HOME": "/nonexistent", "TMPDIR": str(tmpdir)},
        tmp_path / "proxy.log",
        entrypoint=app / "entrypoint.sh",
        wrapper=wrapper,
    )
    try:
        proxy.wait_ready()
        assert get(f"{proxy.url}/health")[0] == 200
        status, body = get(f"{proxy.url}/v1/chat/completions", b'{"model": "m", "messages": []}')
        assert status == 200, body
        assert b"Hello" in body and b"secret plan" not in body
        assert "Permission denied" not in proxy.log() and "Traceback" not in proxy.log()
    finally:
        proxy.stop()

    assert not Path("/nonexistent").exists()
    [run_dir] = private_dirs(tmpdir)
    info = run_dir.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    if as_root:
        assert (info.st_uid, info.st_gid) == (RANDOM_UID, 0)
    # mitmproxy's CA is all that was written, and only there
    assert sorted(p.name for p in run_dir.iterdir()) == ["mitmproxy"]
    assert (run_dir / "mitmproxy" / "mitmproxy-ca.pem").is_file()
    assert not list(app.rglob("__pycache__"))


def test_every_start_and_every_worker_gets_its_own_confdir(
    tmp_path: Path, upstream: Upstream
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {"TARGET_BASE_URL": f"{upstream.url}/v1", "HOME": str(home), "TMPDIR": str(tmpdir)}
    seen: list[str] = []
    for workers, log in [("2", "a.log"), ("1", "b.log")]:
        expected = ["metrics", "worker-0", "worker-1"] if workers == "2" else ["mitmproxy"]
        proxy = Proxy({**env, "WORKERS": workers}, tmp_path / log)
        try:
            proxy.wait_ready()
            assert get(f"{proxy.url}/health")[0] == 200
            (new_dir,) = [d for d in private_dirs(tmpdir) if d.name not in seen]
            seen.append(new_dir.name)
            # The port opens with the first worker up; the other may not have made its confdir.
            deadline = time.monotonic() + 15
            while (contents := sorted(p.name for p in new_dir.iterdir())) != expected:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            proxy.stop()
        assert contents == expected
    # The workers' supervisor removes its directory when it exits; a single mitmdump is exec'd
    # and leaves its CA behind (in a container, on the tmpfs).
    assert [d.name for d in private_dirs(tmpdir)] == [seen[1]]
    assert list(home.iterdir()) == []  # HOME is never written


def test_unwritable_tmpdir_fails_fast_with_one_line(tmp_path: Path) -> None:
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/v1", "TMPDIR": str(tmp_path / "missing")}, tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"cot-proxy: cannot create a directory under {tmp_path / 'missing'}: set TMPDIR to a "
        "writable directory (in a container: --tmpfs /tmp)"
    ]


@pytest.mark.parametrize("name", APP_FILES)
def test_app_files_are_what_the_dockerfile_copies(name: str) -> None:
    # copy_app mirrors the image; if the Dockerfile copies more, this test must learn it
    assert name in (REPO / "Dockerfile").read_text()
