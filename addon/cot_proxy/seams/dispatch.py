"""mitmproxy's hook dispatch, the same calls on a shorter path.

`AddonManager.trigger_event` (mitmproxy/addonmanager.py) runs, for every addon in the chain and
every hook, hook or not: a `safecall()` context manager, an `invoke_addon` coroutine, and, for
each handler it finds, `event.args()` (a `dataclasses.fields` walk). Each flow hook is followed
by an `update` hook for the same flow, which no addon of mitmdump's trimmed chain handles. With
the trimmed chain (`seams.addon_chain`) that is about 8 events of ~8 addons per small request.

`fast_trigger` calls the same handlers, in the same order, with the same arguments, and the
same error handling (`safecall`, `AddonHalt`), but only for the addons that have a handler for
the hook: which those are is indexed once per hook name (`Handlers`) and indexed again whenever
the chain changes (another list, another length, or an addon registered or removed, which is how
mitmproxy's script reload and addons that manage addons change nested ones). The arguments are
built once per event. An addon with a handler goes through mitmproxy's own `_iter_hooks`, so a
hook attribute that is not callable still fails as it did. Verified on mitmproxy 12.3.1;
tests/addon/test_dispatch.py compares it with mitmproxy's own on the same chain. Upstream: no
issue asks for it yet; an `AddonManager` that indexes each hook's handlers once per chain change
would retire it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any

from mitmproxy import addonmanager
from mitmproxy import exceptions
from mitmproxy import hooks

Trigger = Callable[[hooks.Hook], Coroutine[Any, Any, None]]


def _has_handler(addon: object, name: str) -> bool:
    """Whether `addon` or an addon nested in it (its `addons`) has a truthy `name` attribute."""
    for each in addonmanager.traverse([addon]):
        if getattr(each, name, None):
            return True
    return False


class Handlers:
    """The addons of `manager`'s chain that have a handler for each hook, in chain order."""

    def __init__(self, manager: addonmanager.AddonManager) -> None:
        self.manager = manager
        self.changes = 0  # addons registered or removed (`install` counts them)
        self._seen: tuple[list[Any], int, int] | None = None
        self._by_hook: dict[str, list[object]] = {}

    def of(self, name: str) -> list[object]:
        chain = self.manager.chain
        seen = self._seen
        if seen is None or seen[0] is not chain or seen[1] != len(chain) or seen[2] != self.changes:
            self._seen = (chain, len(chain), self.changes)
            self._by_hook = {}
        found = self._by_hook.get(name)
        if found is None:
            found = self._by_hook[name] = [a for a in chain if _has_handler(a, name)]
        return found


def fast_trigger(manager: addonmanager.AddonManager, handlers: Handlers | None = None) -> Trigger:
    """`manager.trigger_event`, on a shorter path (see the module's docstring)."""
    index = handlers if handlers is not None else Handlers(manager)

    async def trigger_event(event: hooks.Hook) -> None:
        args: list[Any] | None = None
        for addon in index.of(event.name):
            try:
                with addonmanager.safecall():
                    for _, func in manager._iter_hooks(addon, event):
                        if args is None:
                            args = event.args()
                        result = func(*args)
                        if result is not None and inspect.isawaitable(result):
                            await result
            except exceptions.AddonHalt:
                return

    return trigger_event


def _counted(method: Callable[..., Any], handlers: Handlers) -> Callable[..., Any]:
    @functools.wraps(method)
    def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        finally:
            handlers.changes += 1  # what it did is seen by the next event, whatever it raised

    return counted


def install(manager: addonmanager.AddonManager) -> None:
    """Dispatch `manager`'s hooks through `fast_trigger` (once)."""
    if getattr(manager, "_cot_proxy_fast_trigger", False):
        return
    handlers = Handlers(manager)
    manager.register = _counted(manager.register, handlers)  # type: ignore[method-assign]
    manager.remove = _counted(manager.remove, handlers)  # type: ignore[method-assign]
    manager.trigger_event = fast_trigger(manager, handlers)  # type: ignore[method-assign,assignment]
    manager._cot_proxy_fast_trigger = True  # type: ignore[attr-defined]
