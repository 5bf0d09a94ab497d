"""Health: GET /health, answered locally: is the target answering HTTP within 5 s?
GET /health/live: is this process's event loop running? (200 at once; the target is not touched.)

The probe runs in its own task while the flow waits (intercept/resume), so the hook stays
synchronous and other requests keep flowing while a dead target is probed.
"""

from __future__ import annotations

import asyncio
import json

from mitmproxy import http

from cot_proxy.flow import answer_locally
from cot_proxy.flow import notes
from cot_proxy.parts.router import Router
from cot_proxy.parts.target_tls import TargetTls
from cot_proxy.probe import probe_target
from cot_proxy.version import VERSION

HEALTH_PATH = "/health"
LIVE_PATH = "/health/live"
HEALTH_TIMEOUT = 5.0


class Health:
    def __init__(self, router: Router, tls: TargetTls) -> None:
        self.router = router
        self.tls = tls
        self._probes: set[asyncio.Task[None]] = set()

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.request.method not in ("GET", "HEAD"):
            return
        path = flow.request.path.split("?", 1)[0]
        if path == LIVE_PATH:
            # Liveness only: answering at all proves the loop runs. A slow or dead target
            # must not make an orchestrator restart a proxy that is fine.
            answer_locally(flow, 200, json.dumps({"status": "alive"}).encode())
            return
        if path != HEALTH_PATH:
            return
        notes(flow).local = True  # no other part touches it
        flow.intercept()
        probe = asyncio.get_running_loop().create_task(self._answer(flow))
        self._probes.add(probe)
        probe.add_done_callback(self._probes.discard)

    async def _answer(self, flow: http.HTTPFlow) -> None:
        target = self.router.target
        assert target is not None
        try:
            problem = await probe_target(target, HEALTH_TIMEOUT, self.tls.ssl_context())
        except Exception as e:  # never leave the flow waiting
            problem = f"health check failed: {type(e).__name__}: {e}"
        if problem is None:
            body = {"status": "healthy", "target_url": target.url, "version": VERSION}
            answer_locally(flow, 200, json.dumps(body).encode())
        else:
            body = {"status": "unhealthy", "target_url": target.url, "error": problem}
            answer_locally(flow, 503, json.dumps(body | {"version": VERSION}).encode())
        flow.resume()
