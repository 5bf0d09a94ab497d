"""RulesReload: a change is read once it holds still; a bad file is reported once, rules kept."""

from __future__ import annotations

import logging

from mitmproxy.test import taddons

from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.rules_reload import RulesReload
from cot_proxy.parts.think_removal import ThinkRemoval
from tests.addon.flows import chat_flow

RULE = "models:\n  - model: m\n    params: {{temperature: {t}}}\n"


def temperature(rules: RequestRules) -> object:
    flow = chat_flow(b'{"model": "m", "messages": []}')
    rules.request(flow)
    return flow.request.json().get("temperature")


def test_poll_reloads_a_settled_change_and_reports_a_bad_file_once(tmp_path, caplog):
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(t=0.1))
    think = ThinkRemoval()
    rules = RequestRules(think)
    reload = RulesReload(rules)
    with taddons.context(rules, reload, think) as tctx:
        tctx.configure(rules, rules_file=str(path))
        reload.poll()
        assert temperature(rules) == 0.1

        path.write_text(RULE.format(t=0.75))
        reload.poll()  # just changed: maybe half-written, wait for it to hold still
        assert temperature(rules) == 0.1
        reload.poll()
        assert temperature(rules) == 0.75

        caplog.set_level(logging.INFO)
        path.write_text("models: [")
        for _ in range(4):
            reload.poll()
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "not reloaded" in errors[0].getMessage()
        assert temperature(rules) == 0.75

        reload.on_sighup()  # a signal always reads it again, and reports again
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2

        path.unlink()
        reload.poll()
        reload.poll()
        assert "not reloaded" in caplog.records[-1].getMessage()
        assert temperature(rules) == 0.75
