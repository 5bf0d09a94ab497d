"""Timeouts: 504 when the target sends no response headers in time; ends streams that go silent.

Silence is measured from mitmproxy's own record of the connection's last activity
(`seams.connections`), so the stream's chunks pass through without any per-chunk work here.
The JSON 502/504 bodies are mitmproxy's own error answers, reshaped (`seams.error_pages`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import api_of
from cot_proxy.flow import notes
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import in_range
from cot_proxy.seams import connections
from cot_proxy.seams import error_pages

logger = logging.getLogger(__name__)


class Timeouts:
    def __init__(self) -> None:
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "api_request_timeout")
        # Before the servers listen: the first request may already need a JSON error.
        error_pages.install()

    def configure(self, updated: set[str]) -> None:
        in_range(updated, "api_request_timeout")

    def done(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        error_pages.uninstall()

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None:
            self._schedule(flow, ctx.options.api_request_timeout)

    def response(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)
        if flow.response is not None:
            return  # mid-stream: the status line is long gone, the connection just ends
        if notes(flow).local:
            return  # refused by the proxy itself (body_limit's 413): its answer stands
        if notes(flow).timed_out:
            seconds = ctx.options.api_request_timeout
            answer = error_pages.ErrorAnswer(
                504,
                f"The target sent no response within {seconds} s ({env_name('api_request_timeout')})",
                "upstream_error",
                "target_timeout",
                api_of(flow),
            )
        else:
            # Connect, DNS or TLS failure, or the target closed the connection: mitmproxy answers 502.
            target = f"{flow.request.scheme}://{flow.request.host}:{flow.request.port}"
            message = flow.error.msg if flow.error else "unknown error"
            answer = error_pages.ErrorAnswer(
                502,
                f"Cannot get an answer from the target {target}: {message}",
                "upstream_error",
                "target_unreachable",
                api_of(flow),
            )
        error_pages.answer_with(answer)

    def _schedule(self, flow: http.HTTPFlow, delay: float) -> None:
        self._timers[flow.id] = asyncio.get_running_loop().call_later(delay, self._check, flow)

    def _disarm(self, flow: http.HTTPFlow) -> None:
        timer = self._timers.pop(flow.id, None)
        if timer:
            timer.cancel()

    def _check(self, flow: http.HTTPFlow) -> None:
        self._timers.pop(flow.id, None)
        if not flow.live:
            return
        seconds = ctx.options.api_request_timeout
        last_activity = connections.last_activity(flow)
        if last_activity is not None:
            remaining = last_activity + seconds - time.time()
            if remaining > 0:
                # Bytes moved since: sleep on until the new deadline.
                self._schedule(flow, remaining)
                return
        notes(flow).timed_out = True
        phase = "mid-stream" if flow.response else "before response headers"
        logger.warning(
            "%s %s: target silent for %d s %s; closing the upstream connection",
            flow.request.method,
            flow.request.path,
            seconds,
            phase,
        )
        if not connections.cancel_upstream(flow):
            logger.error(
                "could not cancel the upstream connection of a timed-out request (mitmproxy changed?)"
            )
