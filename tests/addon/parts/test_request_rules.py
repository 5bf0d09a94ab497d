"""RequestRules: JSON bodies validated, the model's rule applied, the notes written."""

from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from cot_proxy.flow import notes
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.series import Series
from tests.addon.flows import chat_flow


def rules_addon() -> tuple[RequestRules, ThinkRemoval]:
    think = ThinkRemoval()
    return RequestRules(think), think


def test_invalid_json_answered_locally():
    rules, think = rules_addon()
    with taddons.context(rules, think):
        flow = chat_flow(b'{"model": ')
        rules.request(flow)
        assert flow.response and flow.response.status_code == 400
        assert flow.response.json()["error"]["code"] == "invalid_json"
        assert notes(flow).local


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x"])
def test_other_content_types_untouched(content_type):
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=m,temperature=0.1")
        flow = chat_flow(b'{"model": "m"', content_type=content_type)
        rules.request(flow)
        assert flow.response is None
        assert flow.request.content == b'{"model": "m"'


def test_rule_applied_and_think_config_recorded():
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(
            rules,
            llm_params="model=qwen3-*,temperature=0.6,think_mode=reasoning,upstream_model_name=Q",
        )
        flow = chat_flow({"model": "qwen3-8b", "temperature": 0, "messages": []})
        rules.request(flow)
        body = flow.request.json()
        assert body["temperature"] == 0.6 and body["model"] == "Q"
        assert notes(flow).think.mode == "reasoning"
        assert notes(flow).endpoint == "chat"
        assert "temperature=0.6" in notes(flow).changes


def test_no_rule_means_body_bytes_untouched():
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=other,temperature=0.6")
        raw = b'{"model":   "m", "temperature": 1}'
        flow = chat_flow(raw)
        rules.request(flow)
        assert flow.request.content == raw


def test_live_rule_change_applies_and_bad_change_is_rolled_back(started):
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=m,temperature=0.1")
        tctx.configure(rules, llm_params="model=m,temperature=0.2")
        flow = chat_flow({"model": "m"})
        rules.request(flow)
        assert flow.request.json()["temperature"] == 0.2
        with pytest.raises(exceptions.OptionsError, match="group 1"):
            tctx.configure(rules, llm_params="temperature=0.3")
        assert tctx.options.llm_params == "model=m,temperature=0.2"
        flow = chat_flow({"model": "m"})
        rules.request(flow)
        assert flow.request.json()["temperature"] == 0.2


def test_reloads_counted_by_result_not_the_first_load(started):
    series = Series()
    think = ThinkRemoval()
    rules = RequestRules(think, series)
    reloads = series.rule_reloads
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=a,temperature=0.1")
        assert reloads.labels("ok")._value.get() == 0  # the first load is no reload
        tctx.configure(rules, llm_params="model=b,temperature=0.2")
        assert reloads.labels("ok")._value.get() == 1
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(rules, llm_params="temperature=0.3")
        assert reloads.labels("error")._value.get() == 1
        assert rules.rules.match("b") is not None  # the old rules stay


@pytest.mark.parametrize("value", ["reasoning", " KEEP ", "strip"])
def test_think_mode_header_sets_the_mode_and_is_not_forwarded(value):
    rules, think = rules_addon()
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=m,think_mode=strip,temperature=0.1")
        flow = chat_flow(b'{"model": "m"}')
        flow.request.headers["X-Think-Mode"] = value
        rules.request(flow)
        assert flow.response is None
        assert "x-think-mode" not in flow.request.headers
        record = notes(flow)
        assert record.think is not None and record.think.mode == value.strip().lower()
        assert json.loads(flow.request.content or b"")["temperature"] == 0.1  # the rule applies


def test_think_mode_header_without_json_body():
    rules, think = rules_addon()
    with taddons.context(rules, think):
        flow = chat_flow(b"", content_type="text/plain")
        flow.request.headers["X-Think-Mode"] = "keep"
        rules.request(flow)
        assert notes(flow).think is not None and notes(flow).think.mode == "keep"


@pytest.mark.parametrize("value", ["", "inline-ish", "strip,keep"])
def test_unknown_think_mode_header_is_a_json_400(value):
    rules, think = rules_addon()
    with taddons.context(rules, think):
        flow = chat_flow(b'{"model": "m"}')
        flow.request.headers["X-Think-Mode"] = value
        rules.request(flow)
        assert flow.response and flow.response.status_code == 400
        error = flow.response.json()["error"]
        assert error["code"] == "invalid_think_mode"
        assert "X-Think-Mode must be one of strip, reasoning, keep, inline" in error["message"]
        assert notes(flow).local
