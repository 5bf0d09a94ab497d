"""ThinkingControl through RequestRules: X-Thinking, the rule's thinking, the client's knob, and
where server, family and "thinks" come from (never a probe of its own)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mitmproxy.test import taddons

from cot_proxy.detect.detector import Detector
from cot_proxy.flow import notes
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.think_removal import ThinkRemoval
from tests.addon.flows import chat_flow
from tests.addon.parts.test_detection import Parts
from tests.unit.detect.test_detector import FakeTarget


def rules_addon() -> tuple[RequestRules, ThinkRemoval]:
    think = ThinkRemoval()
    return RequestRules(think), think


@pytest.mark.parametrize("value", ["off", " HIGH ", "max"])
def test_header_is_the_setting_and_is_not_forwarded(value: str) -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=q,server=vllm,think_family=qwen3,thinking=on")
        flow = chat_flow({"model": "q", "messages": [], "reasoning_effort": "low"})
        flow.request.headers["X-Thinking"] = value
        rules.request(flow)
        assert flow.response is None
        assert "x-thinking" not in flow.request.headers
        body = flow.request.json()
        assert body["chat_template_kwargs"] == {"enable_thinking": value.strip() != "off"}
        assert "reasoning_effort" not in body


PATHS = {
    "chat": ("/v1/chat/completions", lambda e: e["error"]["code"]),
    "responses": ("/v1/responses", lambda e: e["error"]["code"]),
    "messages": ("/v1/messages", lambda e: e["type"] == "error" and e["error"]["code"]),
    "ollama": ("/api/chat", lambda e: e["code"]),
}


@pytest.mark.parametrize("value", ["", "none", "true", "medium-high"])
@pytest.mark.parametrize("api", PATHS)
def test_an_unknown_header_value_is_a_400_in_the_apis_error_shape(value: str, api: str) -> None:
    rules, think = rules_addon()
    path, code = PATHS[api]
    with taddons.context(rules, think):
        flow = chat_flow({"model": "q", "messages": []}, path=path)
        flow.request.headers["X-Thinking"] = value
        rules.request(flow)
        assert flow.response is not None and flow.response.status_code == 400
        error = flow.response.json()
        assert code(error) == "invalid_thinking"
        assert "X-Thinking must be one of off, on, low, medium, high, max" in json.dumps(error)
        assert notes(flow).local


def test_the_rule_and_a_variant_set_it() -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=gpt-oss-20b,server=vllm,thinking=max")
        flow = chat_flow({"model": "gpt-oss-20b", "messages": []})
        rules.request(flow)
        assert flow.request.json()["reasoning_effort"] == "high"
        assert "thinking max → reasoning_effort=high" in notes(flow).changes


def test_variant_sets_thinking(tmp_path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text(
        "models:\n  - model: qwen3\n    server: vllm\n    variants:\n"
        "      no-think: {thinking: off}\n"
    )
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, rules_file=str(config))
        flow = chat_flow({"model": "qwen3@no-think", "messages": []})
        rules.request(flow)
        body = flow.request.json()
        assert body["model"] == "qwen3"
        assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_the_clients_knob_is_left_where_the_server_is_not_known() -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think):
        raw = b'{"model": "qwen3-8b", "reasoning_effort": "none"}'
        flow = chat_flow(raw)
        rules.request(flow)
        assert flow.request.content == raw


def test_the_knob_by_hand() -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=m,thinking=off,thinking_knob=no_think_suffix")
        flow = chat_flow({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        rules.request(flow)
        assert flow.request.json()["messages"][0]["content"] == "hi /no_think"


# ---- with detection: the server from TARGET_SERVER / the probe, "thinks" from capabilities ------


def ollama_parts(capabilities: list[str]) -> Parts:
    show = {"template": "{{ .Prompt }}", "capabilities": capabilities, "details": {"family": "x"}}
    table: dict[tuple[str, str], Any] = {
        ("GET", "/api/version"): {"version": "0.13.0"},
        ("POST", "/api/show"): show,
    }
    return Parts(FakeTarget(table))


@pytest.mark.parametrize(
    ("caps", "think"), [(["completion"], None), (["completion", "thinking"], True)]
)
async def test_ollama_think_only_for_a_model_whose_capabilities_say_so(caps, think) -> None:
    parts = ollama_parts(caps)
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="auto")
        parts.detection.detector = Detector(parts.target, server="ollama")
        flow = chat_flow({"model": "m", "messages": [], "think": "high"}, path="/api/chat")
        parts.detection.request(flow)
        parts.rules.request(flow)
        if flow.intercepted:
            await flow.wait_for_resume()
        assert flow.request.json().get("think") == think


async def test_what_detection_recorded_is_used_and_no_probe_is_made() -> None:
    parts = Parts()
    with taddons.context(*parts.all()) as tctx:
        parts.configure(tctx, think_family="")
        parts.detection.detector = Detector(parts.target, server="vllm")  # TARGET_SERVER
        flow = chat_flow({"model": "qwen3-8b", "messages": [], "reasoning_effort": "high"})
        parts.rules.request(flow)
        # not auto: no decision is read; the name table says qwen3, the server is TARGET_SERVER
        assert flow.request.json()["chat_template_kwargs"] == {"enable_thinking": True}
        assert parts.target.asked == []


# ---- the budget (issue 21, part 4) --------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "0", "-3", "1.5", "lots"])
@pytest.mark.parametrize("api", PATHS)
def test_a_bad_budget_header_is_a_400_in_the_apis_error_shape(value: str, api: str) -> None:
    rules, think = rules_addon()
    path, code = PATHS[api]
    with taddons.context(rules, think):
        flow = chat_flow({"model": "q", "messages": []}, path=path)
        flow.request.headers["X-Think-Budget"] = value
        rules.request(flow)
        assert flow.response is not None and flow.response.status_code == 400
        assert code(flow.response.json()) == "invalid_think_budget"
        assert notes(flow).local


def test_the_budget_header_beats_the_rule_and_the_client() -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=q,server=vllm,think_budget=64")
        body = {"model": "q", "messages": [], "thinking_budget_tokens": 8}
        flow = chat_flow(body)
        flow.request.headers["X-Think-Budget"] = " 32 "
        rules.request(flow)
        assert "x-think-budget" not in flow.request.headers
        sent = flow.request.json()
        assert sent["thinking_token_budget"] == 32 and "thinking_budget_tokens" not in sent
        plan = notes(flow).budget
        assert plan is not None and plan.how == "native" and plan.tokens == 32
        flow = chat_flow(body)
        rules.request(flow)
        assert flow.request.json()["thinking_token_budget"] == 64


def test_a_clients_budget_on_ollama_is_held_by_the_proxy() -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=q,server=ollama;model=v,server=vllm")
        for model, how in (("q", "proxy"), ("v", "none")):
            flow = chat_flow({"model": model, "messages": [{"role": "user", "content": "Hi"}],
                              "thinking": {"type": "enabled", "budget_tokens": 100}},
                             path="/v1/messages")  # fmt: skip
            rules.request(flow)
            plan = notes(flow).budget
            assert plan is not None and plan.how == how  # vLLM's Messages: not continued
            thinking = flow.request.json()["thinking"]
            assert ("budget_tokens" in thinking) == (how == "none")  # not held: left as sent
        flow = chat_flow({"model": "q", "messages": [{"role": "user", "content": "Hi"}],
                          "thinking_budget_tokens": 100})  # fmt: skip
        rules.request(flow)
        plan = notes(flow).budget
        assert plan is not None and plan.how == "proxy" and plan.server == "ollama"
        assert "thinking_budget_tokens" not in flow.request.json()


def test_no_budget_no_plan() -> None:
    rules, think = rules_addon()
    with taddons.context(rules, think):
        flow = chat_flow({"model": "q", "messages": []})
        rules.request(flow)
        assert notes(flow).budget is None
