"""Router: the destination is pinned and the base path prefixed."""

from __future__ import annotations

import logging

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.parts.router import Router
from tests.addon.flows import chat_flow


@pytest.mark.parametrize(
    "base, path, expected",
    [
        ("http://upstream:8080/v1/", "/v1/chat/completions?x=1", "/v1/chat/completions?x=1"),
        ("http://upstream:8080/x/v1/", "/chat/completions", "/x/v1/chat/completions"),
    ],
)
def test_router_pins_target_and_prefix(base, path, expected):
    router = Router()
    with taddons.context(router) as tctx:
        tctx.configure(router, target_base_url=base)
        flow = chat_flow({"model": "m"}, path=path)
        flow.request.headers["host"] = "elsewhere.example:1234"
        flow.request.host = "elsewhere.example"
        flow.request.port = 1234
        flow.request.headers["accept-encoding"] = "gzip, br"
        router.request(flow)
        assert (flow.request.scheme, flow.request.host, flow.request.port) == (
            "http",
            "upstream",
            8080,
        )
        assert flow.request.path == expected
        assert flow.request.headers["host"] == "upstream:8080"
        assert flow.request.headers["accept-encoding"] == "identity"


def test_router_leaves_answered_flows_alone():
    router = Router()
    with taddons.context(router) as tctx:
        tctx.configure(router, target_base_url="http://upstream:8080/v1/")
        flow = chat_flow({"model": "m"})
        flow.response = tutils.tresp()
        router.request(flow)
        assert flow.request.path == "/v1/chat/completions"
        assert flow.request.host != "upstream"


def test_router_rejects_bad_url_and_keeps_old(started):
    router = Router()
    with taddons.context(router) as tctx:
        tctx.configure(router, target_base_url="http://good:1/v1")
        with pytest.raises(exceptions.OptionsError, match="must start with http"):
            tctx.configure(router, target_base_url="good:1/v1")
        assert tctx.options.target_base_url == "http://good:1/v1"
        assert router.target and router.target.host == "good"


def test_bad_option_at_startup_logs_one_line(caplog):
    router = Router()
    with taddons.context(router) as tctx:
        caplog.set_level(logging.ERROR)
        tctx.configure(router, target_base_url="nope")
        assert "cot-proxy: TARGET_BASE_URL 'nope' must start with http" in caplog.text
