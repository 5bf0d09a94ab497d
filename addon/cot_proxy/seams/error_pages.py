"""JSON bodies, and a 504, for the errors mitmproxy answers itself (HTTP/1 clients).

mitmproxy's public API can neither shape the body of the 502 it sends when the target is
unreachable nor produce a 504: setting `flow.response` in the `error` hook is ignored on the
wire. Upstream: PR #7999 ("allow error hook to override 502 responses", unmerged), issue #4854.

1. `mitmproxy.proxy.layers.http._http1.make_error_response` is looked up as a module global
   when called; `install()` replaces it so that HTTP/1 error answers are JSON.
2. The `error` hook and that call run in the same asyncio task, so a ContextVar set in the hook
   (`answer_with`) tells the replacement which status and message to use.

Guarded by the JSON 502/504 tests in tests/e2e/test_core.py.
"""

from __future__ import annotations

import contextvars
import dataclasses
from typing import TYPE_CHECKING

from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy.layers.http import _http1

from cot_proxy.apierror import error_body_for
from cot_proxy.apierror import error_body_for_status
from cot_proxy.seams import TESTED_MITMPROXY

if TYPE_CHECKING:
    from cot_proxy.formats._api import EndpointFormat


@dataclasses.dataclass(frozen=True)
class ErrorAnswer:
    status: int
    message: str
    type: str
    code: str
    api: EndpointFormat | None = None
    """The client's API, whose error shape the body takes (None: OpenAI's)."""


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
        body = error_body_for(answer.api, answer.message, answer.type, answer.code)
    else:
        body = error_body_for_status(status_code, message)
    response = http.Response.make(
        status_code,
        body,
        {"Content-Type": "application/json", "Connection": "close"},
    )
    assembled: bytes = http1.assemble_response(response)
    return assembled


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
