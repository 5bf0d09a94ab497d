"""The one place that reaches into mitmproxy's private API, for errors mitmproxy answers itself.

mitmproxy's public API can neither shape the body of the 502 it sends when the
target is unreachable nor produce a 504 (setting `flow.response` in the `error`
hook is ignored on the wire). Upstream work: mitmproxy PR #7999 ("allow error
hook to override 502 responses", unmerged), issue #4854 (custom error
responses), issue #4711 (`flow.kill()` cannot stop a flow in transit).

Until those land we use three private seams, verified on mitmproxy 12.2.3 and
12.3.1 (requirements.txt pins that range; the JSON 502/504 tests in tests/e2e/test_core.py fail loudly
if any of them moves):

1. `mitmproxy.proxy.layers.http._http1.make_error_response` is looked up as a
   module global when called; we replace it so HTTP/1 error answers are JSON.
2. The `error` hook and that call run in the same asyncio task, so a
   ContextVar set in the hook tells the replacement which status and message
   to use (504 on our timeout, a clear 502 message on connect failure).
3. To time out a silent target we cancel the task that reads the upstream
   socket: `Proxyserver.connections[client id].transports[server conn].handler`,
   and we read how long the connection has been silent from the same handler's
   `timeout_watchdog.last_activity` (what mitmproxy's own tcp_timeout uses).
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
from typing import Any

from mitmproxy import ctx
from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy.layers.http import _http1

from cot_proxy.apierror import error_body
from cot_proxy.apierror import error_body_for_status

logger = logging.getLogger(__name__)

TESTED_MITMPROXY = ">=12.2.3,<12.4"


@dataclasses.dataclass(frozen=True)
class ErrorAnswer:
    status: int
    message: str
    type: str
    code: str


# Set by the `error` hook, read by our make_error_response in the same task.
_pending_answer: contextvars.ContextVar[ErrorAnswer | None] = contextvars.ContextVar(
    "cot_proxy_pending_error_answer", default=None
)
_original_make_error_response = _http1.make_error_response


def _json_error_response(status_code: int, message: str = "") -> bytes:
    answer = _pending_answer.get()
    if answer is not None:
        _pending_answer.set(None)
        status_code = answer.status
        body = error_body(answer.message, answer.type, answer.code)
    else:
        body = error_body_for_status(status_code, message)
    response = http.Response.make(
        status_code,
        body,
        {"Content-Type": "application/json", "Connection": "close"},
    )
    return http1.assemble_response(response)


def install() -> None:
    """Make mitmproxy's own HTTP/1 error answers JSON. Idempotent."""
    if not callable(getattr(_http1, "make_error_response", None)):
        raise RuntimeError(
            "mitmproxy's private _http1.make_error_response seam is gone; "
            f"cot-proxy is tested with mitmproxy{TESTED_MITMPROXY}"
        )
    _http1.make_error_response = _json_error_response


def uninstall() -> None:
    _http1.make_error_response = _original_make_error_response


def answer_with(answer: ErrorAnswer) -> None:
    """Call from the `error` hook: the error response mitmproxy sends next uses this."""
    _pending_answer.set(answer)


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
