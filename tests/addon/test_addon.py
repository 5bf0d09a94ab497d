"""CotProxy: the parts run in order, and the -s shim loads it."""

from __future__ import annotations

from pathlib import Path

from mitmproxy.test import taddons

from cot_proxy.addon import CotProxy
from tests.addon.flows import chat_flow


async def test_cot_proxy_runs_the_parts_in_order_and_stops_at_a_local_answer():
    proxy = CotProxy()
    with taddons.context(proxy) as tctx:
        tctx.configure(
            proxy, target_base_url="http://upstream:8080/v1/", llm_params="model=m,temperature=0.5"
        )
        flow = chat_flow({"model": "m"}, path="/chat/completions")
        proxy.request(flow)
        assert flow.request.path == "/v1/chat/completions"  # router ran after the rules
        assert flow.request.json()["temperature"] == 0.5
        bad = chat_flow(b"{", path="/chat/completions")
        proxy.request(bad)
        assert bad.response.status_code == 400
        assert bad.request.path == "/chat/completions"  # the router did not run


def test_main_script_loads_one_addon():
    with taddons.context() as tctx:
        module = tctx.script(str(Path(__file__).resolve().parents[2] / "addon" / "main.py"))
        assert [type(a).__name__ for a in module.addons] == ["CotProxy"]
