"""Which of mitmproxy's addons get the hooks (cot_proxy.seams.addon_chain), on mitmdump's and mitmweb's chains."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mitmproxy import master
from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster
from mitmproxy.tools.web.master import WebMaster

from cot_proxy.parts.addon_chain import AddonChain
from cot_proxy.seams import addon_chain

# What entrypoint.sh sets that concerns mitmproxy's own addons.
ENTRYPOINT = {"block_global": False, "flow_detail": 0, "mode": ["reverse:http://127.0.0.1:8000"]}


async def started(master_cls: type[master.Master], **opts: object) -> master.Master:
    m = master_cls(options.Options(), with_termlog=False)
    m.options.update_known(**{**ENTRYPOINT, **opts})  # mitmweb has no flow_detail
    return m


@pytest.fixture
async def dump() -> AsyncIterator[master.Master]:
    m = await started(DumpMaster)
    yield m
    m._legacy_log_events.uninstall()


def names(addons: list[object]) -> list[str]:
    return [addon_chain.name_of(a) for a in addons]


@pytest.mark.parametrize("master_cls", [DumpMaster, WebMaster])
async def test_every_addon_of_mitmdump_and_mitmweb_is_known(master_cls):
    m = await started(master_cls)
    known = addon_chain.ALWAYS | addon_chain.IN_USE.keys()
    unknown = [n for n in names(m.addons.chain) if n not in known]
    m._legacy_log_events.uninstall()
    assert not unknown, f"decide whether these need the hooks: {unknown}"


async def test_mitmdump_as_the_entrypoint_starts_it_keeps_only_the_proxy(dump):
    kept, out = addon_chain.decide(dump.addons.chain, dump.options)
    proxy = ["disableh2c", "proxyserver", "scriptloader", "nextlayer", "tlsconfig", "updatealtsvc"]
    assert names(kept) == proxy
    unused = {"modifyheaders", "maplocal", "save", "dumper", "block", "onboarding", "core"}
    assert unused <= set(names(out))
    assert len(kept) + len(out) == len(dump.addons.chain)


@pytest.mark.parametrize(
    ("option", "value", "addon"),
    [
        ("modify_headers", ["/~q/X-Test/1"], "modifyheaders"),
        ("map_local", ["|/x|/tmp"], "maplocal"),
        ("save_stream_file", "/tmp/flows.mitm", "save"),  # -w
        ("hardump", "/tmp/flows.har", "savehar"),
        ("flow_detail", 1, "dumper"),
        ("block_global", True, "block"),
        ("block_private", True, "block"),
        ("keep_alt_svc_header", False, "updatealtsvc"),
        ("upstream_auth", "u:p", "upstreamauth"),
        ("mode", ["reverse:http://127.0.0.1:8000", "dns@5353"], "dnsresolver"),
    ],
)
async def test_an_addon_whose_option_is_set_stays(option, value, addon):
    m = await started(DumpMaster, **{option: value})
    kept, _ = addon_chain.decide(m.addons.chain, m.options)
    m._legacy_log_events.uninstall()
    assert addon in names(kept)


async def test_mitmweb_keeps_what_its_ui_needs():
    m = await started(WebMaster)
    kept, out = addon_chain.decide(m.addons.chain, m.options)
    m._legacy_log_events.uninstall()
    ui = {"webaddon", "view", "eventstore", "intercept", "clientplayback", "serverplayback"}
    assert ui <= set(names(kept))
    assert "modifyheaders" in names(out)


async def test_left_out_addons_are_still_configured_and_come_back_when_set(dump):
    part = AddonChain()
    dump.addons.add(part)  # in the chain, as our addon is (under the script loader)
    original = list(dump.addons.chain)
    part.running()
    assert "maplocal" not in names(dump.addons.chain)
    assert names(part.chain.left_out)[0] == "core"

    dump.options.update(modify_headers=["/~q/X-Test/1"])
    modifyheaders = dump.addons.get("modifyheaders")
    assert modifyheaders.replacements  # configured while out of the chain
    chain = dump.addons.chain
    assert modifyheaders in chain  # and back, at its place
    assert [a for a in original if a in chain] == chain
    assert modifyheaders not in part.chain.left_out

    await part.done()  # the left-out ones get theirs (clientplayback's is async)
