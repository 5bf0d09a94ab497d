"""seams.dispatch: mitmproxy's hook dispatch on a shorter path, the same calls and errors."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from mitmproxy import exceptions
from mitmproxy import hooks
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from cot_proxy.seams import dispatch


class Recorder:
    def __init__(self, name: str, calls: list[tuple[str, str, Any]], **behaviour: Any) -> None:
        self.name = name
        self.calls = calls
        self.behaviour = behaviour
        self.addons: list[object] = behaviour.get("nested", [])

    def update(self, flows: list[Any]) -> None:
        self.calls.append((self.name, "update", flows[0].id))
        if self.behaviour.get("raises"):
            raise ValueError(f"{self.name} failed")
        if self.behaviour.get("halts"):
            raise exceptions.AddonHalt()


class AsyncRecorder(Recorder):
    async def update(self, flows: list[Any]) -> None:  # type: ignore[override]
        self.calls.append((self.name, "async update", flows[0].id))


class Silent:
    """No hooks at all."""


class Holder:
    """No hooks of its own, only the addons nested in it, like mitmproxy's script addon."""

    name = "holder"

    def __init__(self) -> None:
        self.addons: list[object] = []


class NotCallable:
    update = "not a handler"


def chain(calls: list[tuple[str, str, Any]]) -> list[object]:
    return [
        Silent(),
        Recorder("a", calls),
        Silent(),
        Recorder("b", calls, raises=True),
        Recorder("outer", calls, nested=[AsyncRecorder("inner", calls), Silent()]),
        NotCallable(),
        Recorder("c", calls, halts=True),
        Recorder("never", calls),
    ]


async def run(fast: bool, caplog: pytest.LogCaptureFixture) -> tuple[list[Any], list[str]]:
    calls: list[tuple[str, str, Any]] = []
    with taddons.context() as tctx:
        manager = tctx.master.addons
        manager.chain = chain(calls)
        if fast:
            dispatch.install(manager)
        flow = tflow.tflow()
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            await manager.trigger_event(hooks.UpdateHook([flow]))
            await manager.trigger_event(hooks.RunningHook())  # no handler anywhere
        records = [r for r in caplog.records if r.levelno >= logging.ERROR]
        errors = [re.sub(" at 0x[0-9a-f]+", "", r.getMessage()) for r in records]
    return [(name, hook) for name, hook, _ in calls], errors


async def test_the_same_handlers_run_in_the_same_order_with_the_same_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow = await run(False, caplog)
    fast = await run(True, caplog)
    assert fast == slow
    calls, errors = fast
    assert calls == [
        ("a", "update"),
        ("b", "update"),
        ("outer", "update"),
        ("inner", "async update"),
        ("c", "update"),
    ]
    assert any("b failed" in e for e in errors)
    assert any("not callable" in e for e in errors)


async def test_install_is_done_once_and_each_handler_gets_the_flow() -> None:
    calls: list[tuple[str, str, Any]] = []
    with taddons.context() as tctx:
        manager = tctx.master.addons
        manager.chain = [Recorder("a", calls), Recorder("b", calls)]
        dispatch.install(manager)
        installed = manager.trigger_event
        dispatch.install(manager)
        assert manager.trigger_event is installed
        flow = tflow.tflow()
        await manager.trigger_event(hooks.UpdateHook([flow]))
    assert calls == [("a", "update", flow.id), ("b", "update", flow.id)]


async def test_a_changed_chain_is_indexed_again() -> None:
    """The handler index follows the chain: an addon added, removed, or reloaded the way
    mitmproxy's script addon reloads one (remove, then register a new nested addon)."""
    calls: list[tuple[str, str, Any]] = []
    with taddons.context() as tctx:
        manager = tctx.master.addons
        manager.chain = []
        script = Holder()
        manager.add(Recorder("a", calls), script)
        dispatch.install(manager)
        flow = tflow.tflow()

        async def names() -> list[str]:
            calls.clear()
            await manager.trigger_event(hooks.UpdateHook([flow]))
            return [name for name, _, _ in calls]

        assert await names() == ["a"]
        manager.add(Recorder("added", calls))  # appended in place
        assert await names() == ["a", "added"]
        manager.remove(manager.chain[0])  # a new list
        assert await names() == ["added"]
        # The reload: the old nested addon goes, a new one with a handler comes, the chain
        # list itself is untouched.
        reloaded = AsyncRecorder("reloaded", calls)
        manager.register(reloaded)
        script.addons = [reloaded]
        assert await names() == ["reloaded", "added"]
        manager.remove(reloaded)
        script.addons = []
        assert await names() == ["added"]
