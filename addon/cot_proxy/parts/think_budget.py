"""ThinkBudget: routes the flows whose thinking budget the proxy holds to the budget relay.

The request rules decide per request how its budget is held (`parts/thinking.py` →
`cot_proxy.budget.plan`, into the flow's notes). A budget the server holds (`native`) is only
counted here. A budget the proxy holds sends the flow to the relay (`cot_proxy.budget.relay`),
a small HTTP server on 127.0.0.1 that this part starts in `running`: the relay sends the
request to the real target itself and answers with one answer, which comes back through
mitmproxy like any other (so the think filter, the log and the metrics see it). A request
without a budget is never touched: one `notes(flow).budget is None` test.

Runs after the router (the flow's destination is pinned first, and then moved to the relay);
a flow whose rules settle late (it waited for detection) is routed by `route` from there.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from cot_proxy.budget.relay import TOKEN_HEADER
from cot_proxy.budget.relay import Job
from cot_proxy.budget.relay import Relay
from cot_proxy.flow import notes
from cot_proxy.parts.router import Router
from cot_proxy.parts.target_tls import TargetTls
from cot_proxy.series import Series

logger = logging.getLogger(__name__)
RELAY_HOST = "127.0.0.1"


class ThinkBudget:
    def __init__(self, router: Router, tls: TargetTls, series: Series | None = None) -> None:
        self.router = router
        self.tls = tls
        self.series = series
        self.relay = Relay()
        # flow id → (relay token, the request's scheme, host, port), until its answer comes
        self._routed: dict[str, tuple[str, str, str, int]] = {}

    async def running(self) -> None:
        if self.relay.port == 0:
            await self.relay.start()
            logger.debug("think budget relay on %s:%d", RELAY_HOST, self.relay.port)

    async def done(self) -> None:
        await self.relay.stop()

    def request(self, flow: http.HTTPFlow) -> None:
        if notes(flow).budget is not None:
            self.route(flow)

    def route(self, flow: http.HTTPFlow) -> None:
        record = notes(flow)
        plan = record.budget
        if plan is None or flow.response is not None or record.local:
            return
        if plan.how == "native":
            self._count(flow, "native")
            return
        target = self.router.target
        if plan.how != "proxy" or target is None or record.endpoint is None:
            return
        if not self.relay.port:
            logger.warning("think budget: the relay is not running; budget not held")
            return
        think = record.think
        tags = think.tags[0] if think is not None and think.tags else None
        job = Job(
            target=target,
            ssl_context=self.tls.ssl_context() if target.scheme == "https" else None,
            tokens=plan.tokens,
            message=plan.message,
            server=plan.server,
            endpoint=record.endpoint,
            tags=tags,
            implicit=bool(think and think.implicit_start),
            report=lambda outcome, used: self._report(flow, outcome, used),
        )
        token = self.relay.register(job)
        request = flow.request
        self._routed[flow.id] = (token, request.scheme, request.host, request.port)
        host_header = request.host_header
        request.scheme = "http"
        request.port = self.relay.port
        request.host = RELAY_HOST
        if host_header:
            request.host_header = host_header  # the target's, as the client's request had it
        request.headers[TOKEN_HEADER] = token

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.id in self._routed:
            self._restore(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.id in self._routed:
            self.relay.forget(self._restore(flow))  # it may never have reached the relay

    def _restore(self, flow: http.HTTPFlow) -> str:
        """The request as sent to the target again (the log, mitmweb and saved flows show the
        target, not the relay); the relay token."""
        token, scheme, host, port = self._routed.pop(flow.id)
        request = flow.request
        host_header = request.host_header
        request.scheme, request.port, request.host = scheme, port, host
        if host_header:
            request.host_header = host_header
        request.headers.pop(TOKEN_HEADER, None)
        return token

    def _report(self, flow: http.HTTPFlow, outcome: str, used: int) -> None:
        if outcome == "forced":
            line = f"think budget: forced at {used} tokens"
            notes(flow).changes.append(line)
            logger.info("%s (%s)", line, notes(flow).model or "no model")
        self._count(flow, outcome)

    def _count(self, flow: http.HTTPFlow, outcome: str) -> None:
        notes(flow).budget_outcome = outcome
        if self.series is not None:
            self.series.think_budget.labels(outcome).inc()
