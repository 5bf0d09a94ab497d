"""The house rules of the package, checked by machine so that they hold between reviews.

- no import cycle inside `cot_proxy` (imports for type checking only do not count);
- no file of the package over 350 lines;
- the pure modules (all but `addon.py`, `parts/`, `flow.py`, `options.py`, `seams/` and the
  content view) import nothing from mitmproxy, not even through another module of ours;
- every module has a test file named after it, or stands in TESTED_BY with the suite that tests it
  (as mitmproxy's `test/filename_matching.py` asks of its own modules);
- every option declared once, in `cot_proxy.settings` (only `options.declare` calls `add_option`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "addon" / "cot_proxy"
MAX_LINES = 350
# Modules that talk to mitmproxy by design (README, "Rooms").
MITMPROXY_SIDE = ("addon", "flow", "options", "contentview", "parts.", "seams.")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module loads: not those under `if TYPE_CHECKING:`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def imports_of(name: str) -> tuple[set[str], bool]:
    """(modules of ours it imports at load time, whether it imports mitmproxy itself)."""
    tree = ast.parse(MODULES[name].read_text())
    ours: set[str] = set()
    mitmproxy = False
    for node in _runtime_imports(tree):
        targets = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = name.split(".")[: -node.level] if name in MODULES else []
                base = ".".join(["cot_proxy", *package, *([base] if base else [])])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            mitmproxy |= target == "mitmproxy" or target.startswith("mitmproxy.")
            if target.startswith("cot_proxy."):
                short = target.removeprefix("cot_proxy.")
                if short in MODULES and not name.startswith(short + "."):
                    ours.add(short)  # (a module's own package is loading it already)
    # Importing a.b.c loads a and a.b first (a module of a package needs no edge to it).
    for short in list(ours):
        pieces = short.split(".")
        parents = (".".join(pieces[:i]) for i in range(1, len(pieces)))
        ours.update(p for p in parents if not name.startswith(p + "."))
    ours.discard(name)
    return ours, mitmproxy


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node][0]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


@pytest.mark.parametrize("name", sorted(MODULES), ids=str)
def test_no_file_over_the_limit(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines (at most {MAX_LINES}): split it"


def pure(name: str) -> bool:
    return not any(name == m or name.startswith(m) for m in MITMPROXY_SIDE) and name != ""


def reaches_mitmproxy(name: str, seen: set[str] | None = None) -> list[str] | None:
    """The chain of our modules through which `name` loads mitmproxy, if any."""
    seen = seen if seen is not None else set()
    seen.add(name)
    ours, direct = GRAPH[name]
    if direct:
        return [name, "mitmproxy"]
    for nxt in sorted(ours - seen):
        if chain := reaches_mitmproxy(nxt, seen):
            return [name, *chain]
    return None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if pure(n)), ids=str)
def test_pure_modules_import_no_mitmproxy(name: str) -> None:
    chain = reaches_mitmproxy(name)
    assert chain is None, "a pure module loads mitmproxy: " + " → ".join(chain or [])


def test_the_checks_see_what_they_look_for() -> None:
    # The graph is read right: known edges and known mitmproxy users are seen.
    assert "think" in GRAPH["stream"][0] or "think" in GRAPH["channel"][0]
    assert GRAPH["flow"][1] and not GRAPH["think"][1]
    assert any(pure(n) for n in MODULES) and not pure("parts.router")


# Modules without a test file of their own name, and the file that tests them (through the module
# that uses them, or together with the others of a theme).
TESTED_BY = {
    "apierror": "tests/addon/parts/test_gateway.py",
    "budget.native": "tests/unit/budget/test_plan.py",
    "budget.relay": "tests/e2e/test_think_budget.py",
    "budget.session": "tests/unit/budget/test_chat.py",
    "contentview": "tests/e2e/test_saved_flows.py",
    "detect.decision": "tests/unit/detect/test_detector.py",
    "detect.http": "tests/unit/detect/test_detector.py",
    "filters": "tests/unit/test_inline.py",
    "formats._api": "tests/unit/formats/test_formats.py",
    "formats.choices": "tests/unit/formats/test_chat.py",
    "formats.choices_stream": "tests/unit/test_stream.py",
    "formats.registry": "tests/unit/formats/test_formats.py",
    "formats.messages_blocks": "tests/unit/formats/test_messages.py",
    "formats.messages_stream": "tests/unit/formats/test_messages.py",
    "formats.responses_events": "tests/unit/formats/test_responses_unnumbered.py",
    "formats.responses_items": "tests/unit/formats/test_responses.py",
    "formats.responses_modes": "tests/unit/formats/test_responses.py",
    "formats.responses_output": "tests/unit/formats/test_responses.py",
    "formats.responses_stream": "tests/unit/formats/test_responses.py",
    "formats.textparts": "tests/unit/formats/test_messages.py",
    "framing": "tests/unit/test_eventstream.py",
    "memory.redis_store": "tests/e2e/test_reasoning_memory_redis.py",
    "memory.tap": "tests/unit/memory/test_recall.py",
    "settings_row": "tests/unit/test_settings.py",
    "parts.flow_marks": "tests/e2e/test_saved_flows.py",
    "parts.listening": "tests/e2e/test_workers.py",
    "parts.metrics_endpoint": "tests/e2e/test_metrics.py",
    "parts.startup": "tests/addon/test_options.py",
    "parts.target_tls": "tests/addon/parts/test_health.py",
    "parts.timeouts": "tests/e2e/test_core.py",
    "probe": "tests/addon/parts/test_health.py",
    "rules.ruleset": "tests/unit/rules/test_variants.py",
    "seams.connections": "tests/addon/test_seams.py",
    "seams.error_pages": "tests/addon/test_seams.py",
    "seams.listening": "tests/addon/test_seams.py",
    "seams.logs": "tests/addon/test_seams.py",
    "seams.request_size": "tests/e2e/test_limits.py",
    "seams.signals": "tests/e2e/test_shutdown.py",
    "sse_event": "tests/unit/test_sse.py",
    "suffix": "tests/unit/formats/test_choices_request.py",
    "tags": "tests/unit/test_think.py",
    "think_config": "tests/unit/test_think.py",
    "think_held": "tests/unit/test_think.py",
    "thinking.knobs.anthropic": "tests/unit/thinking/test_knobs.py",
    "thinking.knobs.effort": "tests/unit/thinking/test_knobs.py",
    "thinking.knobs.suffix": "tests/unit/thinking/test_knobs.py",
    "thinking.knobs.template": "tests/unit/thinking/test_knobs.py",
    "tls": "tests/addon/parts/test_health.py",
    "version": "tests/e2e/test_container.py",
}
TEST_FILES = {p.name: p for p in (ROOT / "tests").rglob("test_*.py")}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n and MODULES[n].stem != "__init__"))
def test_every_module_has_its_tests(name: str) -> None:
    if f"test_{MODULES[name].stem}.py" in TEST_FILES:
        assert name not in TESTED_BY, f"{name} has a test file of its own: drop it from TESTED_BY"
        return
    assert name in TESTED_BY, (
        f"{name}: add tests/…/test_{MODULES[name].stem}.py, or a TESTED_BY row"
    )
    assert (ROOT / TESTED_BY[name]).is_file(), TESTED_BY[name]


def test_tested_by_names_only_modules() -> None:
    assert set(TESTED_BY) <= set(MODULES)


def test_options_are_declared_from_the_table_only() -> None:
    # Every option is a row of cot_proxy.settings; a part declares it with options.declare(), which
    # alone calls loader.add_option (tests/addon/test_options.py checks what the addon declares).
    callers = sorted(
        name
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "add_option"
    )
    assert callers == ["options"], f"declare options in cot_proxy.settings, not in {callers}"
