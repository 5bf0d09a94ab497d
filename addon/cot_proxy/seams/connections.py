"""A flow's connection as mitmproxy's proxy server holds it: silence, and cancelling upstream.

mitmproxy has no per-request upstream timeout, and `flow.kill()` cannot stop a flow in transit
(issue #4711). To time out a silent target we cancel the task that reads the upstream socket:
`Proxyserver.connections[client id].transports[server conn].handler`; and we read how long the
connection has been silent from the same handler's `timeout_watchdog.last_activity` (what
mitmproxy's own tcp_timeout uses), so streamed chunks need no per-chunk bookkeeping of ours.

mitmproxy's only client timeout is that one tcp_timeout, for every phase of a connection, and
there is no public way to close an established client connection (`Client.error` only refuses
one in `client_connected`). For the header and idle timeouts (`parts/client_timeouts.py`) we
read the client's silence the same way and close it as mitmproxy's own `on_timeout` does: by
cancelling the task that reads the client socket. Issue #4711 (no kill for a connection).
On stopping, every client connection is closed that way first (`client_ids`): one still open
when mitmproxy ends its event loop is cancelled there, which Python 3.12.1 (3.13 is fixed) logs as a
CancelledError traceback (asyncio's StreamReaderProtocol callback).

Guarded by the timeout tests in tests/e2e/test_core.py, the slow-client tests in
tests/e2e/test_limits.py and the drain tests in tests/e2e/test_shutdown.py.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx
from mitmproxy import http


def _handler(client_id: str) -> Any:
    try:
        return ctx.master.addons.get("proxyserver").connections[client_id]
    except (AttributeError, KeyError):
        return None


def _connection_handler(flow: http.HTTPFlow) -> Any:
    return _handler(flow.client_conn.id)


def last_activity(flow: http.HTTPFlow) -> float | None:
    """When (time.time()) bytes last moved on the flow's connections; None if unknown."""
    return client_last_activity(flow.client_conn.id)


def client_last_activity(client_id: str) -> float | None:
    """When (time.time()) bytes last moved on this client's connections; None if unknown."""
    handler = _handler(client_id)
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


def client_ids() -> list[str]:
    """The client connections mitmproxy holds open now."""
    try:
        held = ctx.master.addons.get("proxyserver").connections
    except AttributeError:
        return []
    return [key for key in held if isinstance(key, str)]  # TCP clients; UDP ones are tuples


def close_client(client_id: str, reason: str) -> bool:
    """Close a client connection, as mitmproxy's tcp_timeout does; False if it is gone."""
    handler = _handler(client_id)
    try:
        task = handler.transports[handler.client].handler
    except (AttributeError, KeyError):
        return False
    if task is None:
        return False
    task.cancel(reason)
    return True
