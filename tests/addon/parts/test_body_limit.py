"""BodyLimit: a JSON 413 for bodies over the limit that reach the `request` hook.

Behind `seams.request_size` none does (a declared length is refused on its headers, a counted
one as it arrives: tests/e2e/test_security.py, tests/e2e/test_limits.py); this is the check that
holds without it.
"""

from __future__ import annotations

from mitmproxy.test import taddons

from cot_proxy.parts.body_limit import BodyLimit
from tests.addon.flows import answer
from tests.addon.flows import chat_flow


def test_body_limit_by_size():
    limit = BodyLimit()
    with taddons.context(limit) as tctx:
        tctx.configure(limit, max_request_bytes=10)
        chunked = chat_flow(b"x" * 11)
        del chunked.request.headers["content-length"]
        limit.request(chunked)
        assert answer(chunked).status_code == 413
        assert chunked.response.headers["connection"] == "close"
        exact = chat_flow(b"x" * 10)
        limit.request(exact)
        assert exact.response is None
