"""Flows for calling the parts' hooks directly (mitmproxy's tflow/tutils builders)."""

from __future__ import annotations

import json

from mitmproxy import http
from mitmproxy.test import tflow
from mitmproxy.test import tutils


def chat_flow(
    body: object, path: str = "/v1/chat/completions", content_type: str = "application/json"
) -> http.HTTPFlow:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = tutils.treq(method=b"POST", path=path.encode(), content=raw)
    request.headers["content-type"] = content_type
    return tflow.tflow(req=request)


def answer(flow: http.HTTPFlow) -> http.Response:
    """The flow's response, which the hook under test must have set."""
    assert flow.response is not None
    return flow.response


def sse_response(flow: http.HTTPFlow, status: int = 200, **headers: str) -> None:
    flow.response = tutils.tresp(status_code=status, content=b"")
    flow.response.headers.clear()
    flow.response.headers["content-type"] = "text/event-stream"
    flow.response.headers["content-length"] = "123"
    for name, value in headers.items():
        flow.response.headers[name.replace("_", "-")] = value
