"""RequestLog: the one INFO line per request names the method, path, model, outcome and format."""

from __future__ import annotations

import logging

import pytest
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.flow import notes
from cot_proxy.parts.request_log import RequestLog
from tests.addon.flows import chat_flow


def test_the_line_names_the_format_and_the_changes(caplog: pytest.LogCaptureFixture) -> None:
    log = RequestLog()
    with taddons.context(log), caplog.at_level(logging.INFO, "cot_proxy.parts.request_log"):
        flow = chat_flow({"model": "m"}, path="/v1/messages")
        record = notes(flow)
        record.endpoint, record.model = "messages", "m"
        record.changes.append("think strip")
        flow.response = tutils.tresp(status_code=200)
        log.response(flow)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("POST /v1/messages model=m 200 ")
    assert line.endswith("ms format=messages changed: think strip")


def test_no_format_for_other_paths(caplog: pytest.LogCaptureFixture) -> None:
    log = RequestLog()
    with taddons.context(log), caplog.at_level(logging.INFO, "cot_proxy.parts.request_log"):
        flow = chat_flow({}, path="/v1/files")
        flow.response = tutils.tresp(status_code=404)
        log.response(flow)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "format=" not in line and line.startswith("POST /v1/files 404 ")
