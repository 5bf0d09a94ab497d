"""Listening: TCP only; with reuse_port, several processes (WORKERS) serve one port."""

from __future__ import annotations

import errno
import logging

from mitmproxy import addonmanager
from mitmproxy import ctx

from cot_proxy.options import declare
from cot_proxy.seams import listening

logger = logging.getLogger(__name__)


class Listening:
    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "reuse_port")
        listening.listen_tcp_only()

    def configure(self, updated: set[str]) -> None:
        if "reuse_port" in updated and ctx.options.reuse_port:
            listening.share_port()

    async def running(self) -> None:
        # entrypoint.sh starts mitmdump with server=false: mitmproxy loads `-s` scripts in a
        # task that can run after it has opened its ports, and requests arriving then would
        # meet a proxy without this addon (no gateway keys, no think removal). Open them now,
        # with every hook in place; a failure to listen is logged as an error, which makes
        # mitmproxy exit 1 at the end of start-up.
        if not ctx.options.server:
            for error in await listening.open_servers():
                logger.error("cot-proxy: %s", cannot_listen(error))


def cannot_listen(error: OSError) -> str:
    """Why the port did not open, in terms of the settings (PORT, LISTEN_HOST)."""
    where = f"{ctx.options.listen_host or '*'}:{ctx.options.listen_port}"
    if error.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is in use; stop what listens there or set PORT to a free one"
    return f"cannot listen on {where} (PORT, LISTEN_HOST): {error.strerror or error}"
