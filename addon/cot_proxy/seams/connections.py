"""A flow's connection as mitmproxy's proxy server holds it: silence, and cancelling upstream.

mitmproxy has no per-request upstream timeout, and `flow.kill()` cannot stop a flow in transit
(issue #4711). To time out a silent target we cancel the task that reads the upstream socket:
`Proxyserver.connections[client id].transports[server conn].handler`; and we read how long the
connection has been silent from the same handler's `timeout_watchdog.last_activity` (what
mitmproxy's own tcp_timeout uses), so streamed chunks need no per-chunk bookkeeping of ours.

Guarded by the timeout tests in tests/e2e/test_core.py.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx
from mitmproxy import http


def _connection_handler(flow: http.HTTPFlow) -> Any:
    try:
        return ctx.master.addons.get("proxyserver").connections[flow.client_conn.id]
    except (AttributeError, KeyError):
        return None


def last_activity(flow: http.HTTPFlow) -> float | None:
    """When (time.time()) bytes last moved on the flow's connections; None if unknown."""
    handler = _connection_handler(flow)
    watchdog = getattr(handler, "timeout_watchdog", None)
    activity = getattr(watchdog, "last_activity", None)
    return activity if isinstance(activity, float) else None


def cancel_upstream(flow: http.HTTPFlow) -> bool:
    """Abort the flow's upstream connection; mitmproxy then runs the `error` hook."""
    try:
        io = _connection_handler(flow).transports[flow.server_conn]
    except (AttributeError, KeyError):
        return False
    if io.handler is None:
        return False
    io.handler.cancel("cot-proxy: target timed out")
    return True
