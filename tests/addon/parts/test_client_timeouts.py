"""ClientTimeouts: which limit applies when, and the options' validation."""

from __future__ import annotations

import pytest
from mitmproxy.exceptions import OptionsError
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from cot_proxy.parts.client_timeouts import ClientTimeouts


async def test_no_limit_while_a_request_is_in_flight():
    part = ClientTimeouts()
    with taddons.context(part):
        flow = tflow.tflow()
        part.client_connected(flow.client_conn)
        client = part.clients[flow.client_conn.id]
        assert client.timer is not None and not client.answered  # the header timeout
        part.requestheaders(flow)
        assert client.timer is None  # in flight: neither limit
        part.response(flow)
        assert client.timer is not None and client.answered  # now the idle timeout
        part.client_disconnected(flow.client_conn)
        assert part.clients == {}


@pytest.mark.parametrize("option", ["client_header_timeout", "client_idle_timeout"])
def test_positive_seconds_only(started, option):
    part = ClientTimeouts()
    with taddons.context(part) as tctx:
        tctx.configure(part, **{option: 5})
        with pytest.raises(
            OptionsError,
            match=r"CLIENT_\w+_TIMEOUT must be a whole number of seconds above 0, not .0.",
        ):
            tctx.configure(part, **{option: 0})
