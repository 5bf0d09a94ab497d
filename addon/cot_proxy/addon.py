"""CotProxy: the one addon mitmproxy loads. It runs the parts (`parts/`), in order, for each hook.

Order matters: /health and /metrics are answered before anything else looks at the flow (and
before the gateway keys, so they stay open; /metrics asks the gateway itself when told to); the
request rules run on the client's path before the router rewrites it; the metrics, the flow marks
and the request log see every flow last, once the others are done.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

from mitmproxy import addonmanager
from mitmproxy import connection
from mitmproxy import http

from cot_proxy.flow import fresh_notes
from cot_proxy.flow import notes
from cot_proxy.parts.addon_chain import AddonChain
from cot_proxy.parts.body_limit import BodyLimit
from cot_proxy.parts.client_timeouts import ClientTimeouts
from cot_proxy.parts.concurrency import Concurrency
from cot_proxy.parts.detection import Detection
from cot_proxy.parts.flow_marks import FlowMarks
from cot_proxy.parts.gateway import Gateway
from cot_proxy.parts.health import Health
from cot_proxy.parts.listening import Listening
from cot_proxy.parts.metrics import Metrics
from cot_proxy.parts.metrics_endpoint import MetricsEndpoint
from cot_proxy.parts.reasoning_memory import ReasoningMemory
from cot_proxy.parts.request_log import RequestLog
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.router import Router
from cot_proxy.parts.rules_reload import RulesReload
from cot_proxy.parts.shutdown import Shutdown
from cot_proxy.parts.startup import Startup
from cot_proxy.parts.target_tls import TargetTls
from cot_proxy.parts.think_budget import ThinkBudget
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.parts.timeouts import Timeouts
from cot_proxy.series import Series

FlowHook = Callable[[http.HTTPFlow], None]
ClientHook = Callable[[connection.Client], None]


class CotProxy:
    """Runs the parts below, in order, for each hook.

    mitmproxy dispatches every hook to every addon through its addon manager, at a few µs a
    call; registering each part as an addon of its own cost about 7% of a small request
    (bench/). Here each hook is one dispatch. A part that answers a request itself (its flow's
    notes say `local`) ends the request hook for the parts after it. Unlike separate addons,
    a part that raises also ends that hook for the parts after it (mitmproxy logs the error).

    A flow read from a file (`mitmweb -r`, `mitmdump -nr`, File → Open) runs through the same
    hooks, but it is not traffic: no part sees it, so its saved notes stay, and it is neither
    logged nor counted. mitmproxy marks live flows `live` from their request headers on; a
    loaded one never is. A replayed flow is live again, and starts with new notes.
    """

    def __init__(self) -> None:
        router = Router()
        tls = TargetTls()
        think = ThinkRemoval()
        gateway = Gateway()
        series = Series()
        detection = Detection(router, tls, gateway, think)
        rules = RequestRules(think, series, detection)
        detection.rules = lambda: rules.rules
        budget = ThinkBudget(router, tls, series)
        rules.settled = budget.route
        memory = rules.memory = ReasoningMemory(think, router, lambda: rules.rules, series)
        self.parts: list[object] = [
            Startup(),
            AddonChain(),
            Listening(),
            tls,
            Shutdown(),
            Health(router, tls),
            MetricsEndpoint(series, gateway),
            BodyLimit(),
            gateway,
            detection,
            rules,
            Concurrency(),
            RulesReload(rules),
            router,
            budget,
            think,
            # After the think removal (its response feeds the memory); it takes the client's
            # credential at the request headers, before the gateway may replace it.
            memory,
            Timeouts(),
            ClientTimeouts(),
            Metrics(series, rules),
            FlowMarks(think),
            RequestLog(),
        ]
        self._requestheaders: list[FlowHook] = self._methods("requestheaders")
        self._request: list[FlowHook] = self._methods("request")
        self._responseheaders: list[FlowHook] = self._methods("responseheaders")
        self._response: list[FlowHook] = self._methods("response")
        self._error: list[FlowHook] = self._methods("error")
        self._client_connected: list[ClientHook] = self._methods("client_connected")
        self._client_disconnected: list[ClientHook] = self._methods("client_disconnected")
        # Flows read from a file, while their hooks run (`error` comes after `live` is cleared
        # on live flows too, so the mark is taken at the request headers).
        self._loaded: weakref.WeakSet[http.HTTPFlow] = weakref.WeakSet()

    def _methods(self, name: str) -> list[Any]:
        return [getattr(part, name) for part in self.parts if hasattr(part, name)]

    def load(self, loader: addonmanager.Loader) -> None:
        for load in self._methods("load"):
            load(loader)

    def configure(self, updated: set[str]) -> None:
        for configure in self._methods("configure"):
            configure(updated)

    async def running(self) -> None:
        for running in self._methods("running"):
            result = running()
            if inspect.isawaitable(result):
                await result

    async def done(self) -> None:
        for done in self._methods("done"):
            result = done()
            if inspect.isawaitable(result):
                await result

    def client_connected(self, client: connection.Client) -> None:
        for hook in self._client_connected:
            hook(client)

    def client_disconnected(self, client: connection.Client) -> None:
        for hook in self._client_disconnected:
            hook(client)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not flow.live:
            self._loaded.add(flow)
            return
        self._loaded.discard(flow)  # replayed after it was loaded
        fresh_notes(flow)
        for hook in self._requestheaders:
            hook(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow in self._loaded:
            return
        record = notes(flow)
        for hook in self._request:
            if record.local:
                return
            hook(flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow in self._loaded:
            return
        for hook in self._responseheaders:
            hook(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        if flow in self._loaded:
            return
        for hook in self._response:
            hook(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow in self._loaded:
            return
        for hook in self._error:
            hook(flow)
