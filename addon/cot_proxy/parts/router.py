"""Router: sends every request to the configured target and nowhere else, under its base path."""

from __future__ import annotations

import logging

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.options import declare
from cot_proxy.options import reject
from cot_proxy.routing import Target
from cot_proxy.routing import parse_target

logger = logging.getLogger(__name__)


class Router:
    def __init__(self) -> None:
        self.target: Target | None = None

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "target_base_url")

    def configure(self, updated: set[str]) -> None:
        if "target_base_url" in updated:
            try:
                self.target = parse_target(ctx.options.target_base_url)
            except ValueError as e:
                reject(str(e))

    def running(self) -> None:
        modes = list(ctx.options.mode)
        if self.target and not any(self.target.host_header in m for m in modes):
            logger.warning(
                "target_base_url %s does not match --mode %s: requests go to the mode's server",
                self.target.url,
                " ".join(modes),
            )

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or self.target is None:
            return
        target = self.target
        request = flow.request
        # Pin the destination: nothing a client sends (absolute-form target, Host header) may
        # change it. In reverse mode mitmproxy has usually set all of it already; the setters
        # are not free (they re-validate the host), so only fix what differs.
        if request.authority:
            request.authority = ""  # origin-form upstream
        if (request.scheme, request.port, request.host) != (
            target.scheme,
            target.port,
            target.host,
        ):
            request.scheme = target.scheme
            request.port = target.port
            request.host = target.host  # last: also sets the Host header
        elif request.host_header != target.host_header:
            request.host_header = target.host_header
        request.path = target.upstream_path(request.path)
        # The stream filter needs plain bytes.
        request.headers["accept-encoding"] = "identity"
