"""RequestLog: one INFO line per request; DEBUG adds bodies. Credentials never reach the log."""

from __future__ import annotations

import logging
import time

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import notes
from cot_proxy.options import declare

logger = logging.getLogger(__name__)

BODY_LOG_LIMIT = 4096


class RequestLog:
    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "log_bodies")

    def request(self, flow: http.HTTPFlow) -> None:
        if ctx.options.log_bodies and flow.response is None and flow.request.raw_content:
            logger.debug(
                "%s %s request body: %s",
                flow.request.method,
                flow.request.path,
                truncated(flow.request.raw_content),
            )

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        if ctx.options.log_bodies and not response.stream and response.raw_content:
            logger.debug("%s response body: %s", flow.request.path, truncated(response.raw_content))
        self._log(flow, str(response.status_code))

    def error(self, flow: http.HTTPFlow) -> None:
        record = notes(flow)
        message = flow.error.msg if flow.error else "unknown"
        if record.complete and flow.response is not None:
            # The client has the whole answer (its end marker went out); what broke after, the
            # client leaving first as SDKs do, is no error of this request.
            logger.debug(
                "%s: connection ended after the stream's end: %s", flow.request.path, message
            )
            self._log(flow, str(flow.response.status_code))
            return
        status = "timeout" if record.timed_out else "error"
        self._log(flow, f"{status} ({message})")

    def _log(self, flow: http.HTTPFlow, outcome: str) -> None:
        record = notes(flow)
        started = flow.request.timestamp_start
        duration_ms = (time.time() - started) * 1000 if started else 0.0
        parts: list[str] = [flow.request.method, flow.request.path]
        if record.model:
            parts.append(f"model={record.model}")
        parts.append(outcome)
        parts.append(f"{duration_ms:.0f}ms")
        if record.endpoint:
            parts.append(f"format={record.endpoint}")
        changes = record.change_list()
        if changes:
            parts.append("changed: " + "; ".join(changes))
        logger.info(" ".join(parts))


def truncated(body: bytes) -> str:
    text = body[:BODY_LOG_LIMIT].decode("utf-8", "replace")
    return text + (f"… ({len(body)} bytes)" if len(body) > BODY_LOG_LIMIT else "")
