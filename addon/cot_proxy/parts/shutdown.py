"""Shutdown: on SIGTERM, stop taking work, let the flows in flight finish, then exit 0.

The first signal closes the listening port (new connections are refused; with WORKERS the
kernel sends them to the other workers), answers any new request on a kept-alive connection
with a JSON 503 (`/health` too, so load balancers stop sending; `/health/live` stays 200), and
waits up to shutdown_grace_seconds for the flows in flight. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import json
import logging

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import answer_locally
from cot_proxy.flow import error_for
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import in_range
from cot_proxy.seams import connections
from cot_proxy.seams import signals

logger = logging.getLogger(__name__)

LIVE_PATH = "/health/live"
HEALTH_PATH = "/health"
# After the last flow's `response` hook, its final bytes (the chunked terminator) still go out.
FLUSH_SECONDS = 0.2
# How long closing the connections left at the end may take (a few event loop turns).
CLOSE_SECONDS = 1.0


class Shutdown:
    def __init__(self) -> None:
        self.draining = False
        self.in_flight: set[str] = set()
        self._drain: asyncio.Task[None] | None = None

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "shutdown_grace_seconds")

    def configure(self, updated: set[str]) -> None:
        in_range(updated, "shutdown_grace_seconds")

    def running(self) -> None:
        signals.on_stop_signal(self._signalled)

    def done(self) -> None:
        if self._drain is not None:
            self._drain.cancel()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.in_flight.add(flow.id)

    def request(self, flow: http.HTTPFlow) -> None:
        if not self.draining or flow.response or flow.error or not flow.live:
            return
        path = flow.request.path.split("?", 1)[0]
        if path == LIVE_PATH:
            return  # the process is alive: an orchestrator must not restart it mid-drain
        if path == HEALTH_PATH:
            body = json.dumps({"status": "unhealthy", "error": "shutting down"}).encode()
        else:
            body = error_for(
                flow,
                "This proxy is shutting down; retry on a new connection",
                "upstream_error",
                "shutting_down",
            )
        answer_locally(flow, 503, body).headers["connection"] = "close"

    def response(self, flow: http.HTTPFlow) -> None:
        self.in_flight.discard(flow.id)

    def error(self, flow: http.HTTPFlow) -> None:
        self.in_flight.discard(flow.id)

    def _signalled(self) -> None:
        if self.draining:
            logger.warning(
                "second stop signal: stopping now, %d flows still open", len(self.in_flight)
            )
            if self._drain is not None:
                self._drain.cancel()
            self._drain = asyncio.get_running_loop().create_task(self._close_then_stop())
            return
        self.draining = True
        self._drain = asyncio.get_running_loop().create_task(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        grace = ctx.options.shutdown_grace_seconds
        logger.info(
            "stop signal: no new connections; waiting up to %d s for %d flows in flight",
            grace,
            len(self.in_flight),
        )
        ctx.options.update(server=False)  # mitmproxy closes its listening sockets
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.in_flight:
            logger.warning(
                "%s (%d s) ran out with %d flows still open; cutting them",
                env_name("shutdown_grace_seconds"),
                grace,
                len(self.in_flight),
            )
        else:
            logger.info("all flows finished; stopping")
            await asyncio.sleep(FLUSH_SECONDS)
        await self._close_then_stop()

    async def _close_then_stop(self) -> None:
        """Close the client connections still open (streams cut, idle keep-alives), then stop.

        Left open, mitmproxy's end of the event loop cancels them, which some Python 3.12
        releases log as a CancelledError traceback per connection (seams/connections.py).
        """
        for client_id in connections.client_ids():
            connections.close_client(client_id, "cot-proxy: stopping")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_SECONDS
        while connections.client_ids() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        signals.stop_now()
