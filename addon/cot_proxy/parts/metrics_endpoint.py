"""MetricsEndpoint: GET /metrics, answered locally in Prometheus text format.

Open by default, like /health (it runs before the gateway); with metrics_require_key
(METRICS_REQUIRE_KEY=true) the scraper must present one of the gateway keys (PROXY_API_KEYS).
"""

from __future__ import annotations

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import notes
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import reject
from cot_proxy.parts.gateway import Gateway
from cot_proxy.series import CONTENT_TYPE
from cot_proxy.series import Series

METRICS_PATH = "/metrics"


class MetricsEndpoint:
    def __init__(self, series: Series, gateway: Gateway) -> None:
        self.series = series
        self.gateway = gateway

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "metrics_require_key")

    def configure(self, updated: set[str]) -> None:
        if "metrics_require_key" in updated and ctx.options.metrics_require_key:
            if not self.gateway.client_keys:
                # Asked for a protected endpoint, it would be open: refuse rather than pretend.
                reject(f"{env_name('metrics_require_key')}=true needs PROXY_API_KEYS to be set")

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.request.method not in ("GET", "HEAD"):
            return
        if flow.request.path.split("?", 1)[0] != METRICS_PATH:
            return
        notes(flow).local = True  # no other part touches it, whatever the answer
        if ctx.options.metrics_require_key and self.gateway.deny(flow):
            return
        flow.response = http.Response.make(
            200, self.series.render(), {"Content-Type": CONTENT_TYPE}
        )
