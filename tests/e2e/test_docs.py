"""The documentation's examples, run as written against the demo (`make demo`).

A fenced block preceded by the line `<!-- runs-in-tests -->` in README.md or a page under docs/
is extracted and run here, in its page's order, against demo/upstream.py with the proxy in
front of it (what `make demo` starts); `<!-- runs-in-tests: NAME=VALUE … -->` runs it against a
demo whose proxy has those settings (what `NAME=VALUE … make demo` starts):

- a shell block (`sh`, `bash`) whose lines start with `$ ` is a transcript: each command runs,
  and what it printed must be the lines shown under it (up to the next `$ `), where `…` stands
  for any text, whitespace does not count, and lines starting with `# ` are comments;
- any other shell block runs as a script (bash -euo pipefail) and must exit 0;
- a `python` block runs with the venv's Python and must exit 0.
A ```text block right after a script or a python block, preceded by `<!-- output -->`, is what it
must print (matched as above).

The demo listens on free ports, not on 5000 and 8099: `localhost:5000` and `localhost:8099`
(and `127.0.0.1:…`) in a block are the demo's proxy and upstream. Each page's blocks share a
fresh working directory and HOME (so a config file that one block writes under `~` is read by
the next); PATH has the venv and the Codex CLI and Claude Code installed by `make e2e-tools`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO
from .conftest import Proxy
from .conftest import free_port
from .test_demo import wait_healthy

MARK = re.compile(r"<!-- runs-in-tests(?::((?: [A-Z_]+=\S+)+))? -->")
OUTPUT_MARK = "<!-- output -->"
# Where `make e2e-tools` installs the Codex CLI and Claude Code (npm install --prefix).
NPM_PREFIX = Path(os.environ.get("COT_PROXY_NPM", Path.home() / ".cache" / "cot-proxy" / "npm"))
NPM_BIN = NPM_PREFIX / "node_modules" / ".bin"
# Off for the CLIs under test: no telemetry, error reports or update checks (loopback only).
QUIET_CLIS = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "NO_PROXY": "127.0.0.1,localhost",
}
# Pages that must hold runnable blocks: were the marker or the parser broken, these would run
# nothing and pass.
EXPECTED = {
    "README.md",
    "docs/quick-start.md",
    "docs/recipes/openai-sdk.md",
    "docs/recipes/anthropic-sdk.md",
    "docs/recipes/ollama-sdk.md",
    "docs/recipes/codex.md",
    "docs/recipes/claude-code.md",
    "docs/recipes/litellm.md",
}


@dataclasses.dataclass
class Block:
    page: str
    line: int  # 1-based, of the opening fence
    lang: str
    code: str
    settings: tuple[str, ...]  # NAME=VALUE for the demo's proxy
    output: str | None = None  # a script's or python block's expected output

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def fences(text: str) -> Iterator[tuple[int, str, str, str]]:
    """(line of the opening fence, its info string, the body, the line before the fence)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = re.match(r"^(`{3,})(.*)$", lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.groups()
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        before = lines[i - 1].strip() if i else ""
        yield i + 1, info.strip(), "\n".join(lines[i + 1 : end]), before
        i = end + 1


def blocks_of(path: Path) -> list[Block]:
    page = str(path.relative_to(REPO))
    found: list[Block] = []
    previous: Block | None = None  # the block of the fence before this one, if it runs
    for line, info, body, before in fences(path.read_text()):
        lang = info.split()[0] if info else ""
        block = None
        if before == OUTPUT_MARK:
            assert lang == "text" and previous, f"{page}:{line}: output of no runnable block"
            assert previous.lang == "python" or not transcript(previous.code), f"{page}:{line}"
            previous.output = body
        elif mark := MARK.fullmatch(before):
            assert lang in ("sh", "bash", "python"), f"{page}:{line}: cannot run a {lang!r} block"
            block = Block(page, line, lang, body, tuple((mark[1] or "").split()))
            found.append(block)
        previous = block
    return found


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def matches(expected: str, actual: str) -> bool:
    """`actual` is `expected` with `…` standing for any text; whitespace does not count (JSON
    is shown wrapped and spaced for reading)."""

    def squeeze(text: str) -> str:
        return re.sub(r"\s+", "", text)

    pattern = ".*?".join(re.escape(piece) for piece in squeeze(expected).split("…"))
    return re.fullmatch(pattern, squeeze(actual), re.DOTALL) is not None


def transcript(code: str) -> list[tuple[str, str]]:
    """A `$ ` block as (command, expected output) pairs."""
    steps: list[tuple[str, list[str]]] = []
    continued = False
    for line in code.split("\n"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
            continued = line.endswith("\\")
        elif continued:
            steps[-1] = (steps[-1][0] + "\n" + line, steps[-1][1])
            continued = line.endswith("\\")
        elif steps and not line.startswith("# "):
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


RUNNABLE = {str(p.relative_to(REPO)): b for p in pages() if (b := blocks_of(p))}


@dataclasses.dataclass
class DocsDemo:
    proxy: Proxy
    upstream_port: int

    def localise(self, text: str) -> str:
        for host in ("localhost", "127.0.0.1"):
            text = text.replace(f"{host}:5000", f"{host}:{self.proxy.port}")
            text = text.replace(f"{host}:8099", f"{host}:{self.upstream_port}")
        return text


@pytest.fixture(scope="module")
def demos(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[tuple[str, ...]], DocsDemo]]:
    """demos(settings): the demo, its proxy with these settings. One runs at a time, always on
    the same two ports, as `make demo` restarted with other settings would: a config file that
    an earlier block wrote (Codex's) reaches the proxy of the later one."""
    proxy_port, upstream_port = free_port(), free_port()
    running: list[tuple[tuple[str, ...], DocsDemo]] = []

    def demo(settings: tuple[str, ...]) -> DocsDemo:
        if running and running[-1][0] == settings:
            return running[-1][1]
        if running:
            running.pop()[1].proxy.stop()  # its process group: demo/run.sh and the upstream
            wait_closed(upstream_port)
        env = dict(setting.split("=", 1) for setting in settings)
        proxy = Proxy(
            {**env, "DEMO_UPSTREAM_PORT": str(upstream_port)},
            tmp_path_factory.mktemp("docs-demo") / "demo.log",
            entrypoint=REPO / "demo" / "run.sh",
            port=proxy_port,
        )
        running.append((settings, DocsDemo(proxy, upstream_port)))
        proxy.wait_ready()
        wait_healthy(proxy)
        return running[-1][1]

    try:
        yield demo
    finally:
        for _, each in running:
            each.proxy.stop()


def wait_closed(port: int, timeout: float = 10.0) -> None:
    """Until nothing listens on the port (the stopped demo's upstream has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"port {port} still open after {timeout} s")


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_pages_that_promise_runnable_examples_have_them() -> None:
    assert EXPECTED <= RUNNABLE.keys(), EXPECTED - RUNNABLE.keys()


def test_the_transcript_reader_and_matcher() -> None:
    code = "$ echo a \\\n    b\na …\n# a comment\n$ true"
    assert transcript(code) == [("echo a \\\n    b", "a …"), ("true", "")]
    assert matches("a …", "a b") and matches('{…"x": 1}', '{"y":2,\n  "x":1}')
    assert not matches("a …", "b a") and not matches("Hello", "Hello! more")
    assert MARK.fullmatch("<!-- runs-in-tests -->")[1] is None
    assert MARK.fullmatch("<!-- runs-in-tests: A=b C_D=1 -->")[1] == " A=b C_D=1"
    assert not MARK.fullmatch("<!-- runs-in-tests: a=b -->")


def test_the_cli_tools_are_installed() -> None:
    """`make e2e-tools` (which `make test` runs first) installs them; without them the Codex CLI
    and Claude Code recipes would be untried."""
    for tool in ("codex", "claude"):
        assert (NPM_BIN / tool).exists(), f"{NPM_BIN / tool} missing: run `make e2e-tools`"


@pytest.mark.parametrize("page", sorted(RUNNABLE))
def test_the_examples_run_as_written(
    demos: Callable[[tuple[str, ...]], DocsDemo], page: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **QUIET_CLIS,
        "HOME": str(tmp_path),
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), str(NPM_BIN), os.environ["PATH"]]
        ),
    }
    for block in RUNNABLE[page]:
        docs_demo = demos(block.settings)
        code = docs_demo.localise(block.code)
        steps = transcript(code) if block.lang != "python" else []
        if not steps:
            script = ["bash", "-euo", "pipefail", "-c", code]
            result = run(
                [sys.executable, "-c", code] if block.lang == "python" else script, tmp_path, env
            )
            assert result.returncode == 0, f"{block}:\n{result.stdout}{result.stderr}"
            if block.output is not None:
                assert matches(docs_demo.localise(block.output), result.stdout), (
                    f"{block} printed:\n{result.stdout}\nthe page shows:\n{block.output}"
                )
        for command, expected in steps:
            result = run(["bash", "-c", command], tmp_path, env)
            shown = docs_demo.localise(expected)
            assert matches(shown, result.stdout), (
                f"{block}: `{command}` printed:\n{result.stdout}{result.stderr}\n"
                f"the page shows:\n{shown}"
            )
