"""mitmproxy's addons that the proxy does not use get no hooks; one whose option is set still acts.

See cot_proxy.seams.addon_chain. The rest of the e2e suite runs on the trimmed chain.
"""

from __future__ import annotations

import json
import re

from .test_core import curl
from .test_core import curl_json

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def left_out(log: str) -> set[str]:
    match = re.search(r"addons left out of the hook dispatch \(still configured\): (.*)", log)
    assert match, log
    return set(match.group(1).split(", "))


def test_user_set_options_of_trimmed_addons_still_act(start_proxy, upstream, tmp_path):
    local = tmp_path / "local.json"
    local.write_text('{"from": "map_local"}')
    args = ["--set", "modify_headers=/~q/X-Test/1", "--set", f"map_local=|/v1/local|{local}"]
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "DEBUG": "true"}, args=args)
    post = ("-H", "Content-Type: application/json", "-d", json.dumps(CHAT))
    status, _, _ = curl_json(*post, f"{proxy.url}/v1/chat/completions")
    assert status == 200
    assert upstream.received[-1].headers["x-test"] == "1"  # modify_headers
    assert json.loads(curl(f"{proxy.url}/v1/local").stdout) == {"from": "map_local"}  # map_local

    out = left_out(proxy.log())
    assert not out & {"modifyheaders", "maplocal", "proxyserver", "scriptloader"}, out
    assert {"mapremote", "modifybody", "save", "dumper", "core", "onboarding"} <= out, out
    assert "Addon error" not in proxy.log()
