"""BodyLimit: a JSON 413 for bodies over the limit, declared or counted."""

from __future__ import annotations

from mitmproxy.test import taddons

from cot_proxy.parts.body_limit import BodyLimit
from tests.addon.flows import answer
from tests.addon.flows import chat_flow


def test_body_limit_by_declared_length_and_by_size():
    limit = BodyLimit()
    with taddons.context(limit) as tctx:
        tctx.configure(limit, max_request_bytes=10)
        declared = chat_flow(b"x" * 5)
        declared.request.headers["content-length"] = "11"
        limit.requestheaders(declared)
        assert declared.response.status_code == 413
        chunked = chat_flow(b"x" * 11)
        del chunked.request.headers["content-length"]
        limit.requestheaders(chunked)
        assert chunked.response is None
        limit.request(chunked)
        assert answer(chunked).status_code == 413
        exact = chat_flow(b"x" * 10)
        limit.requestheaders(exact)
        limit.request(exact)
        assert exact.response is None
