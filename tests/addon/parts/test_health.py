"""Health: /health answered locally from a probe that does not block the hook."""

from __future__ import annotations

from mitmproxy.test import taddons
from mitmproxy.test import tflow

from cot_proxy.parts.health import Health
from cot_proxy.parts.router import Router
from cot_proxy.parts.target_tls import TargetTls
from tests.addon.flows import answer


async def test_health_ignores_other_paths():
    router = Router()
    tls = TargetTls()
    health = Health(router, tls)
    with taddons.context(router, tls, health) as tctx:
        tctx.configure(router, target_base_url="http://127.0.0.1:9/v1/")
        flow = tflow.tflow()
        flow.request.path = "/v1/health"
        health.request(flow)
        assert flow.response is None and not flow.intercepted


async def test_health_waits_for_the_probe_without_blocking():
    router = Router()
    tls = TargetTls()
    health = Health(router, tls)
    with taddons.context(router, tls, health) as tctx:
        tctx.configure(
            router, target_base_url="http://127.0.0.1:9/v1/"
        )  # nothing listens on port 9
        flow = tflow.tflow()
        flow.request.path = "/health"
        health.request(flow)
        assert flow.intercepted and flow.response is None  # the hook returned at once
        await flow.wait_for_resume()
        assert answer(flow).status_code == 503
        assert answer(flow).json()["status"] == "unhealthy"


async def test_health_live_answers_at_once_without_probing():
    router = Router()
    tls = TargetTls()
    health = Health(router, tls)
    with taddons.context(router, tls, health) as tctx:
        tctx.configure(router, target_base_url="http://127.0.0.1:9/v1/")
        flow = tflow.tflow()
        flow.request.path = "/health/live"
        health.request(flow)
        assert not flow.intercepted
        assert answer(flow).status_code == 200
        assert answer(flow).json() == {"status": "alive"}
