"""Conformance fixtures: one real llama-server (tiny model), a recording relay, a proxy per mode."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..e2e.conftest import Proxy
from ..e2e.conftest import stop_all
from .compare import Tally
from .llama import LlamaServer
from .llama import built_cache
from .relay import Relay
from .tiny_model import ensure_model

MODES = ("strip", "reasoning", "inline", "keep")
TALLIES: dict[str, Tally] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with `--reasoning-format none`; every request brings its grammar and seed."""
    cache = built_cache()
    home = tmp_path_factory.mktemp("llama")
    server = LlamaServer(cache, ensure_model(cache), home / "llama-server.log", [])
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture
def llama_with_grammar(
    relay: Relay, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., LlamaServer]]:
    """Factory: another llama-server whose default grammar (and reasoning format) is the one
    given, with the relay (and so every proxy) pointed at it until the next one or the end of the
    test. For /v1/messages, whose converter in llama-server drops `grammar`, `seed` and
    `reasoning_format`."""
    started: list[LlamaServer] = []
    main_port = relay.target_port

    def start(grammar: str, reasoning_format: str = "none") -> LlamaServer:
        cache = built_cache()
        home = tmp_path_factory.mktemp("llama-grammar")
        (home / "default.gbnf").write_text(grammar)
        args = [
            "--grammar-file",
            str(home / "default.gbnf"),
            "--reasoning-format",
            reasoning_format,
        ]
        server = LlamaServer(cache, ensure_model(cache), home / "llama-server.log", args)
        started.append(server)
        relay.target_port = server.wait_ready().port
        return server

    try:
        yield start
    finally:
        relay.target_port = main_port
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def relay(llama: LlamaServer) -> Iterator[Relay]:
    server = Relay(llama.port).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxies(relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Proxy]]:
    """One proxy per THINK_MODE, all in front of the relay (and so of llama-server)."""
    started: dict[str, Proxy] = {}
    try:
        for mode in MODES:
            home = tmp_path_factory.mktemp(f"proxy-{mode}")
            env = {
                "TARGET_BASE_URL": f"{relay.url}/v1/",
                "THINK_MODE": mode,
                "API_REQUEST_TIMEOUT": "60",
            }
            started[mode] = Proxy(env, home / "proxy.log")
        for proxy in started.values():
            proxy.wait_ready()
        yield started
    finally:
        stop_all(started.values())


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    """The category counts of one test; all are printed at the end of the run."""
    return TALLIES.setdefault(request.node.nodeid, Tally())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("conformance: differences from llama.cpp's own parse")
        for nodeid, tally in TALLIES.items():
            terminalreporter.write_line(nodeid)
            terminalreporter.write_line(tally.report())
