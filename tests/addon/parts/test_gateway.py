"""Gateway: client keys checked in constant time, the target key swapped in."""

from __future__ import annotations

import pytest
from mitmproxy.test import taddons

from cot_proxy.parts.gateway import Gateway
from tests.addon.flows import chat_flow


@pytest.mark.parametrize(
    "authorization, allowed",
    [
        ("Bearer k1", True),
        ("bearer k2", True),
        ("Bearer  k1 ", True),
        ("Bearer k3", False),
        ("Bearer k", False),
        ("Bearer ", False),
        ("k1", False),
        ("Basic k1", False),
        ("", False),
    ],
)
def test_gateway_keys(authorization, allowed):
    gateway = Gateway({"PROXY_API_KEYS": "k1, k2,,"})
    with taddons.context(gateway):
        flow = chat_flow({"model": "m"})
        if authorization:
            flow.request.headers["authorization"] = authorization
        gateway.request(flow)
        if allowed:
            assert flow.response is None
            assert flow.request.headers["authorization"] == authorization  # passed on unchanged
        else:
            assert flow.response.status_code == 401
            assert flow.response.json()["error"]["code"] == "invalid_api_key"


def test_gateway_off_by_default_and_target_key_swap():
    with taddons.context():
        open_gateway = Gateway({})
        flow = chat_flow({"model": "m"})
        open_gateway.request(flow)
        assert flow.response is None and "authorization" not in flow.request.headers

        swapping = Gateway({"TARGET_API_KEY": "sk-target"})
        flow = chat_flow({"model": "m"})
        flow.request.headers["authorization"] = "Bearer client"
        flow.request.headers["x-api-key"] = "client"
        flow.request.headers["api-key"] = "client"
        swapping.request(flow)
        assert flow.request.headers["authorization"] == "Bearer sk-target"
        assert "x-api-key" not in flow.request.headers and "api-key" not in flow.request.headers
