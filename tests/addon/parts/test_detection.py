"""Detection: auto families applied by RequestRules, the first request held for its probe,
GET /cot-proxy/models answered locally, the options checked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from cot_proxy.detect.detector import Detector
from cot_proxy.flow import notes
from cot_proxy.parts.detection import Detection
from cot_proxy.parts.gateway import Gateway
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.router import Router
from cot_proxy.parts.target_tls import TargetTls
from cot_proxy.parts.think_removal import ThinkRemoval
from tests.addon.flows import answer
from tests.addon.flows import chat_flow
from tests.fixtures.detect import props_with
from tests.fixtures.detect import template
from tests.unit.detect.test_detector import FakeTarget

MISTRAL = props_with(template("mistralai-Ministral-3-14B-Reasoning-2512"))
TABLE: dict[tuple[str, str], Any] = {
    ("GET", "/props"): MISTRAL,
    ("GET", "/props?model=magi"): MISTRAL,
    ("GET", "/props?model=qwen"): props_with(template("Qwen3.5-4B")),
    ("GET", "/v1/models"): {"object": "list", "data": [{"id": "magi", "owned_by": "llamacpp"}]},
}


class Parts:
    def __init__(self, target: FakeTarget | None = None) -> None:
        self.router = Router()
        self.tls = TargetTls()
        self.think = ThinkRemoval()
        self.detection = Detection(self.router, self.tls, Gateway({}), self.think)
        self.rules = RequestRules(self.think, None, self.detection)
        self.detection.rules = lambda: self.rules.rules
        self.target = target or FakeTarget(dict(TABLE))

    def all(self) -> list[object]:
        return [self.router, self.tls, self.think, self.detection, self.rules]

    def configure(self, tctx: Any, **options: Any) -> None:
        tctx.configure(self.router, target_base_url="http://127.0.0.1:9/v1/")
        for name, value in options.items():
            part: object = self.think
            if name in ("llm_params", "rules_file"):
                part = self.rules
            elif name in ("target_server", "detect_ttl_seconds"):
                part = self.detection
            tctx.configure(part, **{name: value})
        self.detection.detector = Detector(self.target)

    async def send(self, body: dict[str, Any]) -> Any:
        flow = chat_flow(body)
        self.detection.request(flow)
        self.rules.request(flow)
        if flow.intercepted:
            await flow.wait_for_resume()
        return flow


async def test_auto_family_detected_before_the_first_request_goes_on():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="auto")
        flow = await parts.send({"model": "magi", "messages": []})
        record = notes(flow)
        assert record.think is not None and record.think.tags == (("[THINK]", "[/THINK]"),)
        assert any("family mistral (template" in c for c in record.changes)
        # the second request is not held, and the decision is not announced again
        again = chat_flow({"model": "magi", "messages": []})
        parts.rules.request(again)
        assert not again.intercepted
        assert notes(again).think == record.think and notes(again).changes == []


async def test_implicit_start_from_the_template():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="auto")
        think = notes(await parts.send({"model": "qwen", "messages": []})).think
        assert think is not None and think.implicit_start and think.end_markers == ("<tool_call>",)


async def test_without_auto_nothing_is_probed():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx)
        flow = await parts.send({"model": "magi", "messages": []})
        assert notes(flow).think.tags == (("<think>", "</think>"),)
        assert parts.target.asked == []


async def test_rule_keys_win_and_rules_can_ask_for_auto():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(
            tctx,
            llm_params="model=magi,think_family=auto,think_implicit_start=true;model=qwen,think_family=glm",
        )
        magi = notes(await parts.send({"model": "magi", "messages": []})).think
        assert magi is not None and magi.tags == (("[THINK]", "[/THINK]"),) and magi.implicit_start
        qwen = notes(await parts.send({"model": "qwen", "messages": []})).think
        assert qwen is not None and qwen.end_markers == ("<tool_call>",) and not qwen.implicit_start
        assert all("qwen" not in path for _, path, *_ in parts.target.asked)


async def test_the_probe_uses_the_upstream_name_and_the_rule_server():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(
            tctx,
            llm_params="model=alias,think_family=auto,upstream_model_name=magi,server=llamacpp",
        )
        flow = await parts.send({"model": "alias", "messages": []})
        assert notes(flow).think.tags == (("[THINK]", "[/THINK]"),)
        assert flow.request.json()["model"] == "magi"
        assert [path for _, path, *_ in parts.target.asked] == ["/props?model=magi"]


async def test_a_reload_refreshes_in_the_background():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="auto")
        await parts.send({"model": "magi", "messages": []})
        parts.target.table[("GET", "/props?model=magi")] = props_with(template("GLM-4.6"))
        tctx.configure(parts.rules, llm_params="model=other,temperature=1")  # a new rule set
        stale = await parts.send({"model": "magi", "messages": []})
        assert not stale.intercepted
        assert notes(stale).think.tags == (("[THINK]", "[/THINK]"),)
        await asyncio.sleep(0.01)
        fresh = await parts.send({"model": "magi", "messages": []})
        assert notes(fresh).think.end_markers == ("<tool_call>",)


async def test_models_endpoint():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="auto", llm_params="model=fixed,think_family=seed")
        await parts.send({"model": "qwen", "messages": []})
        flow = tflow.tflow()
        flow.request.path = "/cot-proxy/models"
        parts.detection.request(flow)
        assert flow.intercepted and notes(flow).local
        await flow.wait_for_resume()
        body = answer(flow).json()
        assert body["server"] == "llamacpp"
        models = {m["model"]: m for m in body["models"]}
        assert models["qwen"]["family"] == "qwen3_5" and models["qwen"]["source"] == "template"
        assert models["magi"]["family"] == "mistral"  # listed by the target, decided now
        listing = await parts.detection.listing({})
        assert {m["model"] for m in listing["models"]} == {"qwen", "magi"}


async def test_rule_family_shown_as_rule():
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="auto", llm_params="model=magi,think_family=seed")
        listing = await parts.detection.listing({})
        (magi,) = listing["models"]
        assert (magi["family"], magi["source"], magi["why"]) == ("seed", "rule", "rule magi")
        body = json.dumps(listing)
        assert "Bearer" not in body


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("target_server", "llama", "TARGET_SERVER must be one of auto, llamacpp, ollama"),
        ("detect_ttl_seconds", 0, "DETECT_TTL_SECONDS must be a whole number of seconds above 0"),
    ],
)
def test_options_checked(started, option, value, message):
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        with pytest.raises(exceptions.OptionsError, match=message):
            tctx.configure(parts.detection, **{option: value})
