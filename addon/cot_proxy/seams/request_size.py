"""Refusing a request body as it arrives, once it passes max_request_bytes, whatever its framing.

A body without Content-Length (chunked) is buffered by mitmproxy in full before the `request`
hook, so checking it there lets a client make the proxy hold gigabytes. A body whose declared
Content-Length is past the limit is refused as soon as its headers are in (mitmproxy calls the
check then too), before a byte of it is read: an answer set in `requestheaders` would go out
only once the whole body had been read (or, with `Expect: 100-continue`, after mitmproxy told
the client to send it), and the connection would wait for an upload nobody reads. mitmproxy's own
`body_size_limit` stops reading at the limit, but it is one limit for both directions: it
would also kill answers larger than the upload limit. So `HttpStream.check_body_size`, which
mitmproxy calls after each network chunk of a request body it buffers, is wrapped to apply
our limit to request bodies only, the way mitmproxy applies its own (error hook, then a 413 to
the client through `make_error_response`, which `seams.error_pages` makes JSON).
Upstream: the option pair came with PR #4633 (limits in the proxy core) and serves both
directions by design (issue #5060 asked the same of stream_large_bodies and was closed); a
request-only `body_size_limit` upstream would remove this seam (no issue filed yet).

Guarded by tests/e2e/test_limits.py::test_huge_chunked_upload_is_413_within_bounded_memory and
tests/e2e/test_security.py::test_a_declared_oversized_body_is_413_at_once_and_closed.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import flow as mitmproxy_flow
from mitmproxy import http
from mitmproxy.proxy.layers.http import ErrorCode
from mitmproxy.proxy.layers.http import HttpErrorHook
from mitmproxy.proxy.layers.http import HttpStream
from mitmproxy.proxy.layers.http import ResponseProtocolError
from mitmproxy.proxy.layers.http import SendHttp

from cot_proxy.seams import TESTED_MITMPROXY

TOO_LARGE = "cot-proxy: the request body exceeds max_request_bytes"

_original_check = HttpStream.check_body_size
_limit: int | None = None


def _too_large(stream: Any) -> bool:
    """The body read so far, or the length it declares, is past our limit."""
    assert _limit is not None
    if len(stream.request_body_buf) > _limit:
        return True
    declared = stream.flow.request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > _limit


def _check_body_size(self: Any, request: bool) -> Any:
    if request and _limit is not None and _too_large(self):
        self.flow.error = mitmproxy_flow.Error(TOO_LARGE)
        yield HttpErrorHook(self.flow)
        yield SendHttp(
            ResponseProtocolError(self.stream_id, TOO_LARGE, ErrorCode.REQUEST_TOO_LARGE),
            self.context.client,
        )
        self.client_state = self.state_errored
        self.request_body_buf.clear()  # nothing of it is kept
        self.flow.live = False
        return True
    return (yield from _original_check(self, request))


def limit_request_bodies(limit: int) -> None:
    """From now on, a request body is refused as soon as more than `limit` bytes of it are read."""
    global _limit
    if not callable(getattr(HttpStream, "check_body_size", None)):
        raise RuntimeError(
            "mitmproxy's private HttpStream.check_body_size seam is gone; "
            f"cot-proxy is tested with mitmproxy{TESTED_MITMPROXY}"
        )
    _limit = limit
    HttpStream.check_body_size = _check_body_size  # type: ignore[method-assign]


def uninstall() -> None:
    global _limit
    _limit = None
    HttpStream.check_body_size = _original_check  # type: ignore[method-assign]


def refused(flow: http.HTTPFlow) -> bool:
    """Was this flow's request body refused by `limit_request_bodies`?"""
    return flow.error is not None and flow.error.msg == TOO_LARGE
