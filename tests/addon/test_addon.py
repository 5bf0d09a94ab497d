"""CotProxy: the parts run in order, and the -s shim loads it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.addon import CotProxy
from cot_proxy.flow import METADATA_KEY
from cot_proxy.flow import notes
from cot_proxy.parts.metrics import Metrics
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


def _buffered_think_answer(flow: http.HTTPFlow) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": THOUGHT}}]}
    flow.response = tutils.tresp(status_code=200, content=json.dumps(body).encode())
    flow.response.headers["content-type"] = "application/json"


THOUGHT = "<think>plan</think>Hello"


def _run_hooks(proxy: CotProxy, flow: http.HTTPFlow) -> None:
    response, flow.response = flow.response, None
    proxy.requestheaders(flow)
    proxy.request(flow)
    flow.response = response
    proxy.responseheaders(flow)
    proxy.response(flow)


async def test_a_flow_read_from_a_file_is_not_traffic(caplog: pytest.LogCaptureFixture) -> None:
    proxy = CotProxy()
    with taddons.context(proxy) as tctx, caplog.at_level(logging.INFO):
        tctx.configure(proxy, target_base_url="http://upstream:8080/v1/")
        flow = chat_flow({"model": "m", "messages": []})
        _buffered_think_answer(flow)
        saved = {"endpoint": "chat", "model": "m", "changes": ["x"], "think_chars": 4}
        flow.metadata[METADATA_KEY] = saved
        flow.live = False  # as mitmproxy's load_flow hands it over
        _run_hooks(proxy, flow)
        assert flow.metadata[METADATA_KEY] is saved  # the saved record stays
        assert flow.response.text and THOUGHT in flow.response.text  # nothing filtered again
        assert flow.request.path == "/v1/chat/completions"  # nor routed
        assert not [r for r in caplog.records if "POST /v1/chat/completions" in r.getMessage()]
        metrics = next(part for part in proxy.parts if isinstance(part, Metrics))
        assert b"cot_proxy_requests_total{" not in metrics.series.render()
        flow.live = True  # replayed from the UI: traffic again
        _run_hooks(proxy, flow)
        assert notes(flow).change_list() == ["think strip: 4 chars"]


async def test_a_replayed_flow_starts_with_new_notes() -> None:
    proxy = CotProxy()
    with taddons.context(proxy) as tctx:
        tctx.configure(proxy, target_base_url="http://upstream:8080/v1/")
        flow = chat_flow({"model": "m", "messages": []})
        message = {"role": "assistant", "content": "Hi", "reasoning_content": "plan"}
        body = {"choices": [{"index": 0, "message": message}]}
        for _ in range(2):  # the second time replayed: the same flow through the hooks again
            flow.response = tutils.tresp(status_code=200, content=json.dumps(body).encode())
            flow.response.headers["content-type"] = "application/json"
            _run_hooks(proxy, flow)
            assert notes(flow).change_list() == ["think strip"]  # the reasoning field went
