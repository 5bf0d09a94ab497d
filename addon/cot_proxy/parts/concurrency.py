"""Concurrency: at most max_concurrent_requests requests in flight per process; beyond, a JSON 429.

An LLM server that queues (llama.cpp slots, one GPU) is better served by a client that backs off
than by a proxy that forwards everything at once: the 429 says so, with `Retry-After`. Local
answers (/health, /health/live, /metrics, 401, 413) never count and are never limited: they run
before this part, or are exempt by path.
"""

from __future__ import annotations

import logging

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import answer_error
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import in_range

logger = logging.getLogger(__name__)

NEVER_LIMITED = frozenset({"/health", "/health/live", "/metrics"})
RETRY_AFTER_SECONDS = 1


class Concurrency:
    def __init__(self) -> None:
        self.in_flight: set[str] = set()  # flow ids admitted and not yet answered

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "max_concurrent_requests")

    def configure(self, updated: set[str]) -> None:
        in_range(updated, "max_concurrent_requests")

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        if flow.request.path.split("?", 1)[0] in NEVER_LIMITED:
            return
        limit = ctx.options.max_concurrent_requests
        if limit and len(self.in_flight) >= limit:
            self._refuse(flow, limit)
            return
        self.in_flight.add(flow.id)

    def response(self, flow: http.HTTPFlow) -> None:
        self.in_flight.discard(flow.id)

    def error(self, flow: http.HTTPFlow) -> None:
        self.in_flight.discard(flow.id)

    @staticmethod
    def _refuse(flow: http.HTTPFlow, limit: int) -> None:
        logger.warning(
            "%s %s: %d requests in flight (%s); answered 429",
            flow.request.method,
            flow.request.path.split("?", 1)[0],
            limit,
            env_name("max_concurrent_requests"),
        )
        response = answer_error(
            flow,
            429,
            f"This proxy is already handling {limit} requests "
            f"({env_name('max_concurrent_requests')}); retry in {RETRY_AFTER_SECONDS} s",
            "rate_limit_error",
            "too_many_concurrent_requests",
        )
        response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
