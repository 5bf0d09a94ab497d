"""Client timeouts: close a client that sends no complete request headers in time, or idles too long.

Per client connection: from connect until its first request headers are complete, the header
timeout applies; after an answer ends, while no request is in flight, the idle timeout. While a
request is in flight (from its complete headers until its answer ends, however long the target
thinks) neither applies: that is `API_REQUEST_TIMEOUT`'s job (`parts/timeouts.py`).

Both are measured from the connection's last activity as mitmproxy records it (`seams.connections`),
so a client that keeps sending bytes, each within the limit, is not cut. On a kept-alive connection
the next request's partial headers count as idle time (mitmproxy reports a request only once its
headers are complete). mitmproxy's tcp_timeout stays above both (entrypoint.sh).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from dataclasses import field

from mitmproxy import addonmanager
from mitmproxy import connection
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import in_range
from cot_proxy.seams import connections

logger = logging.getLogger(__name__)

OPTIONS = ("client_header_timeout", "client_idle_timeout")


@dataclass
class _Client:
    in_flight: set[str] = field(default_factory=set)
    answered: bool = False  # one answer ended: between requests now, the idle timeout applies
    timer: asyncio.TimerHandle | None = None


class ClientTimeouts:
    def __init__(self) -> None:
        self.clients: dict[str, _Client] = {}

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "client_header_timeout", "client_idle_timeout")

    def configure(self, updated: set[str]) -> None:
        in_range(updated, *OPTIONS)

    def done(self) -> None:
        for client in self.clients.values():
            if client.timer:
                client.timer.cancel()
        self.clients.clear()

    def client_connected(self, conn: connection.Client) -> None:
        client = self.clients[conn.id] = _Client()
        self._schedule(conn.id, client, ctx.options.client_header_timeout)

    def client_disconnected(self, conn: connection.Client) -> None:
        client = self.clients.pop(conn.id, None)
        if client and client.timer:
            client.timer.cancel()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        client = self.clients.get(flow.client_conn.id)
        if client is None:
            return
        client.in_flight.add(flow.id)
        if client.timer:
            client.timer.cancel()
            client.timer = None

    def response(self, flow: http.HTTPFlow) -> None:
        self._ended(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._ended(flow)

    def _ended(self, flow: http.HTTPFlow) -> None:
        client = self.clients.get(flow.client_conn.id)
        if client is None or flow.id not in client.in_flight:
            return
        client.in_flight.discard(flow.id)
        client.answered = True
        if not client.in_flight:
            self._schedule(flow.client_conn.id, client, ctx.options.client_idle_timeout)

    def _schedule(self, client_id: str, client: _Client, delay: float) -> None:
        if client.timer:
            client.timer.cancel()
        client.timer = asyncio.get_running_loop().call_later(delay, self._check, client_id)

    def _check(self, client_id: str) -> None:
        client = self.clients.get(client_id)
        if client is None:
            return
        client.timer = None
        if client.in_flight:
            return  # a request started meanwhile: no client limit while it runs
        option = "client_idle_timeout" if client.answered else "client_header_timeout"
        seconds = getattr(ctx.options, option)
        last_activity = connections.client_last_activity(client_id)
        if last_activity is None:
            return  # the connection is already going away
        remaining = last_activity + seconds - time.time()
        if remaining > 0:
            self._schedule(client_id, client, remaining)  # bytes arrived since: wait on
            return
        what = "idle between requests" if client.answered else "without complete request headers"
        logger.info(
            "client silent %d s %s (%s); closing the connection", seconds, what, env_name(option)
        )
        if not connections.close_client(client_id, f"cot-proxy: {env_name(option)}"):
            logger.debug("client connection already closed")
