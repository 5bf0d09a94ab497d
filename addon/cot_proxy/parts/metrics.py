"""Metrics: records every flow in the Prometheus series (`cot_proxy.series`) served at /metrics.

It reads what the other parts left in the flow's notes, so it runs after them and before the
log line. Only the proxy's own service paths (/health, /metrics) are left out: scrapes and
probes would otherwise outnumber the traffic they watch.
"""

from __future__ import annotations

import time
from typing import Any

from mitmproxy import http

from cot_proxy.flow import FlowNotes
from cot_proxy.flow import notes
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.rules import RuleSet
from cot_proxy.series import Series
from cot_proxy.series import fallback_label
from cot_proxy.series import model_label
from cot_proxy.series import model_names
from cot_proxy.series import upstream_error_kind

SERVICE_PATHS = ("/health", "/health/live", "/metrics")


class Metrics:
    def __init__(self, series: Series, rules: RequestRules) -> None:
        self.series = series
        self.rules = rules
        self._rules_seen: RuleSet | None = None
        self._models: frozenset[str] = frozenset()
        # The series' children by (endpoint, model, status): `labels()` builds its key and takes
        # a lock on every call (4.5 of the 7.4 µs the series cost a request). Bounded as the
        # labels are: known endpoints, the rules' models or "other", HTTP statuses.
        self._children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        record = notes(flow)
        if response.stream and not record.local:
            record.counted_stream = True
            self.series.streams.inc()

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        self._record(flow, notes(flow), str(response.status_code))

    def error(self, flow: http.HTTPFlow) -> None:
        record = notes(flow)
        if record.complete and flow.response is not None:
            # The end marker reached the client: whatever broke after, the answer is whole.
            self._record(flow, record, str(flow.response.status_code))
            return
        server = flow.server_conn
        kind = upstream_error_kind(
            flow.error.msg if flow.error else "",
            timed_out=record.timed_out,
            connected=server.timestamp_tcp_setup is not None,
            tls_wanted=flow.request.scheme == "https",
            tls_done=server.timestamp_tls_setup is not None,
        )
        if kind is not None:
            self.series.upstream_errors.labels(kind).inc()
        self._record(flow, record, "timeout" if record.timed_out else "error")

    def _record(self, flow: http.HTTPFlow, record: FlowNotes, status: str) -> None:
        series = self.series
        if record.counted_stream:
            record.counted_stream = False
            series.streams.dec()
        if record.local and flow.request.path.split("?", 1)[0] in SERVICE_PATHS:
            return
        endpoint = record.endpoint or "other"
        model = model_label(record.model, self._known_models())
        key = (endpoint, model, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                series.requests.labels(endpoint, model, status),
                series.duration.labels(endpoint, model),
                series.first_answer.labels(endpoint, model),
            )
        requests, duration, first_answer_s = children
        requests.inc()
        started = flow.request.timestamp_start
        duration.observe(max(0.0, time.time() - started))
        first_answer = record.first_answer_at
        if first_answer is not None:
            first_answer_s.observe(max(0.0, first_answer - started))
        if record.think_chars and record.think is not None and record.think.mode != "keep":
            series.think_chars.labels(record.think.mode).inc(record.think_chars)
        stream = record.stream
        if stream is not None and (stream.passthrough or stream.cut):  # gave up filtering
            series.fallbacks.labels(fallback_label(stream.fallback_reason)).inc()

    def _known_models(self) -> frozenset[str]:
        rules = self.rules.rules
        if rules is not self._rules_seen:  # the rules were (re)loaded
            self._rules_seen, self._models = rules, model_names(rules)
        return self._models
