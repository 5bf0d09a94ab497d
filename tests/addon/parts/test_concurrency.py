"""Concurrency: the in-flight count, the 429 beyond it, and the paths never limited."""

from __future__ import annotations

import pytest
from mitmproxy.exceptions import OptionsError
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from cot_proxy.flow import notes
from cot_proxy.parts.concurrency import Concurrency


def test_limit_counts_flows_until_they_end():
    part = Concurrency()
    with taddons.context(part) as tctx:
        tctx.configure(part, max_concurrent_requests=2)
        first, second, third = tflow.tflow(), tflow.tflow(), tflow.tflow()
        part.request(first)
        part.request(second)
        part.request(third)
        assert first.response is None and second.response is None
        assert third.response is not None and third.response.status_code == 429
        assert third.response.headers["retry-after"] == "1"
        assert notes(third).local
        part.response(third)  # a refused flow frees nothing it never took
        assert len(part.in_flight) == 2
        part.error(first)
        fourth = tflow.tflow()
        part.request(fourth)
        assert fourth.response is None


@pytest.mark.parametrize("path", ["/health", "/health/live?x=1", "/metrics"])
def test_health_and_metrics_never_limited(path):
    part = Concurrency()
    with taddons.context(part) as tctx:
        tctx.configure(part, max_concurrent_requests=1)
        part.request(tflow.tflow())
        flow = tflow.tflow()
        flow.request.path = path
        part.request(flow)
        assert flow.response is None


def test_zero_is_unlimited_and_negative_refused(started):
    part = Concurrency()
    with taddons.context(part) as tctx:
        flows = [tflow.tflow() for _ in range(50)]
        for flow in flows:
            part.request(flow)
        assert all(flow.response is None for flow in flows)
        with pytest.raises(OptionsError, match="MAX_CONCURRENT_REQUESTS must be"):
            tctx.configure(part, max_concurrent_requests=-1)
