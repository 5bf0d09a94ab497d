"""Dispatching hooks only to the mitmproxy addons this proxy uses, by trimming the addon chain.

mitmproxy calls every hook of every flow on every addon in its chain
(`AddonManager.trigger_event`, one `safecall` and one `traverse` per addon and hook, hook or
not), and mitmdump's chain holds ~35 of them (`mitmproxy/addons/__init__.py: default_addons`,
`tools/dump.py`, `tools/web/master.py`). Most do nothing for a reverse proxy in front of an
API. mitmproxy has no public way to leave a default addon out while keeping its options (which
must stay declared: mitmproxy refuses unknown `--set` names, and the Startup part errors on
deferred ones). So once everything is loaded and configured (our `running`), this replaces
`ctx.master.addons.chain` by the addons in use (`addonmanager.py`):

- the ones we always need (`ALWAYS`: the proxy server, layers, TLS, scripts, h2c stripping,
  mitmweb's own addons) and, under mitmweb, client and server replay, which its UI uses;
- the ones whose options say they act (`IN_USE`): any option of theirs set away from its
  default (`modify_headers`, `map_local`, `save_stream_file` by `-w`, …), with a few whose
  default acts (`block`, `dumper`, `update_alt_svc`);
- any addon this table does not know (a newer mitmproxy's): kept.

The others stay registered (`addons.get`, their commands and options keep working) and, through
this module, still get every `configure` and the final `done`; only their flow hooks stop. One
that an option change later puts in use (mitmweb's options editor, the `set` command) goes back
into the chain at its place. What was left out is logged once at DEBUG.

Upstream: no issue or pull request asks for a way to leave default addons out of mitmdump (the
nearest is issue #2713, mitmproxy's performance tracker; a custom `Master` is the library way).
Verified on mitmproxy 12.3.1; tests/addon/parts/test_addon_chain.py checks the table against
the chains of mitmdump and mitmweb (a new addon fails it), tests/e2e/test_addon_chain.py that a
trimmed addon's option still acts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import hooks

from cot_proxy.seams import dispatch

logger = logging.getLogger(__name__)

ALWAYS = frozenset(
    {
        "proxyserver",
        "nextlayer",
        "tlsconfig",
        "scriptloader",  # our own addon (and any other -s script) lives under it
        "disableh2c",  # no option: it always strips h2c upgrades a client may send
        # mitmweb's own: its UI's flow list, events, intercept, auth and static export
        "webaddon",
        "webauth",
        "intercept",
        "staticviewer",
        "view",
        "eventstore",
    }
)
WEB_UI = frozenset({"clientplayback", "serverplayback"})
"""Kept under mitmweb: its UI replays flows through their commands, options unset."""

InUse = Callable[[Any], bool]


def _set(*names: str) -> InUse:
    """In use when any of these options differs from its default."""
    return lambda options: any(options.has_changed(n) for n in names)


def _never(options: Any) -> bool:
    return False


def _not_only_reverse(options: Any) -> bool:
    """DNS addons: only for a mode that carries DNS (entrypoint.sh gives reverse:http(s) only)."""
    return not all(mode.startswith("reverse:http") for mode in options.mode)


IN_USE: dict[str, InUse] = {
    # hooks that act only when their options are set
    "blocklist": _set("block_list"),
    "anticache": _set("anticache"),
    "anticomp": _set("anticomp"),
    "proxyauth": _set("proxyauth"),
    "clientplayback": _set("client_replay"),
    "serverplayback": _set("server_replay"),
    "mapremote": _set("map_remote"),
    "maplocal": _set("map_local"),
    "modifybody": _set("modify_body"),
    "modifyheaders": _set("modify_headers"),
    "stickyauth": _set("stickyauth"),
    "stickycookie": _set("stickycookie"),
    "save": _set("save_stream_file"),
    "savehar": _set("hardump"),
    "upstreamauth": _set("upstream_auth"),
    # hooks whose default acts
    "block": lambda o: bool(o.block_global or o.block_private),
    "dumper": lambda o: o.flow_detail > 0,
    "updatealtsvc": lambda o: not o.keep_alt_svc_header,
    # mitm.it is served only to a request whose Host is onboarding_host: in reverse mode the
    # Host header becomes the target's unless keep_host_header is set.
    "onboarding": lambda o: bool(o.onboarding and o.keep_host_header),
    "stripdnshttpsrecords": _not_only_reverse,
    "dnsresolver": _not_only_reverse,
    # no flow hooks (configure, load, running, done, commands): dispatching to them is waste
    "termlog": _never,
    "core": _never,
    "browser": _never,
    "commandhistory": _never,
    "comment": _never,
    "cut": _never,
    "export": _never,
    "keepserving": _never,
    "readfilestdin": _never,
    "errorcheck": _never,
}


def name_of(addon: object) -> str:
    return str(getattr(addon, "name", type(addon).__name__.lower()))


def in_use(addon: object, options: Any, web: bool) -> bool:
    name = name_of(addon)
    if name in ALWAYS or name not in IN_USE or (web and name in WEB_UI):
        return True
    return IN_USE[name](options)


def decide(chain: Sequence[object], options: Any) -> tuple[list[object], list[object]]:
    """(kept, left out), each in chain order."""
    web = any(name_of(a) == "webaddon" for a in chain)
    kept = [a for a in chain if in_use(a, options, web)]
    out = [a for a in chain if not any(a is k for k in kept)]
    return kept, out


class AddonChain:
    """Trims mitmproxy's addon chain at `running` and serves the left-out addons' `configure`/`done`."""

    def __init__(self) -> None:
        self.order: list[object] = []
        self.left_out: list[object] = []
        self.trimmed = False

    def trim(self) -> list[str]:
        manager = ctx.master.addons
        if not isinstance(getattr(manager, "chain", None), list):
            raise RuntimeError("mitmproxy's AddonManager has no chain list: seams/addon_chain.py")
        self.order = list(manager.chain)
        kept, self.left_out = decide(self.order, ctx.options)
        # A new list: mitmproxy may be iterating the old one (we are called from its running).
        manager.chain = kept
        self.trimmed = True
        dispatch.install(manager)
        names = [name_of(a) for a in self.left_out]
        logger.debug(
            "mitmproxy addons left out of the hook dispatch (still configured): %s",
            ", ".join(names) or "none",
        )
        return names

    def configure(self, updated: set[str]) -> None:
        if not self.trimmed:
            return
        manager = ctx.master.addons
        for addon in list(self.left_out):
            with addonmanager.safecall():
                manager.invoke_addon_sync(addon, hooks.ConfigureHook(updated))
        back = [a for a in self.left_out if in_use(a, ctx.options, web=False)]
        if back:
            self.left_out = [a for a in self.left_out if not any(a is b for b in back)]
            current = manager.chain
            wanted = [*current, *back]
            ordered = [a for a in self.order if any(a is w for w in wanted)]
            ordered += [a for a in current if not any(a is o for o in self.order)]
            manager.chain = ordered
            logger.info(
                "mitmproxy addon(s) back in the chain, an option put them in use: %s",
                ", ".join(name_of(a) for a in back),
            )

    async def done(self) -> None:
        if not self.trimmed:
            return
        manager = ctx.master.addons
        for addon in self.left_out:
            with addonmanager.safecall():
                await manager.invoke_addon(addon, hooks.DoneHook())
