"""Detection: the target's server kind and each model's tag family, read from the target.

TARGET_SERVER (auto) says which server the target is; THINK_FAMILY=auto (or a rule's
`think_family: auto`) makes each model's family the one detected (`cot_proxy.detect`). The
first request for a model whose family is not known yet waits for its probe (intercepted, at
most the probe timeout); every later one uses what is known, refreshed in the background after
DETECT_TTL_SECONDS and after a rule reload. GET /cot-proxy/models says what was decided.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.detect import http as detect_http
from cot_proxy.detect.decision import Decision
from cot_proxy.detect.detector import LIST_LIMIT
from cot_proxy.detect.detector import Detector
from cot_proxy.detect.servers import AUTO
from cot_proxy.detect.servers import SERVER_NAMES
from cot_proxy.flow import answer_locally
from cot_proxy.flow import notes
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import in_range
from cot_proxy.options import reject
from cot_proxy.parts.gateway import SECRET_HEADERS
from cot_proxy.parts.gateway import Gateway
from cot_proxy.parts.router import Router
from cot_proxy.parts.target_tls import TargetTls
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.routing import Target
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.think_families import FAMILIES
from cot_proxy.think_families import ThinkFamily

logger = logging.getLogger(__name__)

MODELS_PATH = "/cot-proxy/models"
PROBE_TIMEOUT = 2.0  # seconds: the longest a probe may hold start-up work or a request
NEW_PROBES = 8  # models GET /cot-proxy/models reads at once (an Ollama may list hundreds)


# The options the detector is built from.
_DETECTOR_OPTIONS = {"target_base_url", "target_server", "detect_ttl_seconds"}


class Detection:
    def __init__(
        self, router: Router, tls: TargetTls, gateway: Gateway, think: ThinkRemoval
    ) -> None:
        self.router = router
        self.tls = tls
        self.gateway = gateway
        self.think = think
        self.rules: Callable[[], RuleSet] = lambda: RuleSet([])  # set by CotProxy
        self.detector: Detector | None = None
        self._rules_seen: RuleSet | None = None
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._announced: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "target_server", "detect_ttl_seconds")

    def configure(self, updated: set[str]) -> None:
        if "target_server" in updated and ctx.options.target_server not in (AUTO, *SERVER_NAMES):
            names = ", ".join((AUTO, *SERVER_NAMES))
            reject(
                f"{env_name('target_server')} must be one of {names}, not {ctx.options.target_server!r}"
            )
        elif in_range(updated, "detect_ttl_seconds") and updated & _DETECTOR_OPTIONS:
            self.detector = None  # built again, with the new settings, at its next use

    def running(self) -> None:
        if self._wanted():
            self._detector().start(self._target_headers())

    def done(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ---- used by RequestRules ---------------------------------------------------------------

    def hold(self, flow: http.HTTPFlow, rule: ModelRule | None, then: Callable[[], object]) -> bool:
        """Whether the flow waits for its model's probe; `then` runs once the family is known
        (and holds the flow itself when it returns True: it resumes it then)."""
        name = self._auto_model(flow, rule)
        if name is None:
            return False
        detector = self._detector()
        headers = self._client_headers(flow)
        if detector.cached(name, headers) is not None:
            return False
        flow.intercept()
        hint = rule.server if rule is not None else None
        self._spawn(self._wait(flow, detector, name, hint, headers, then))
        return True

    def family(self, flow: http.HTTPFlow, rule: ModelRule | None) -> ThinkFamily | None:
        """The detected tag settings for the flow's model when auto applies to it (None: the
        defaults). The first flow that uses a decision notes it in its change list."""
        name = self._auto_model(flow, rule)
        if name is None:
            return None
        decision = self._detector().cached(name)
        if decision is None:
            return None
        if name not in self._announced:
            if len(self._announced) >= LIST_LIMIT * 4:
                self._announced.clear()
            self._announced.add(name)
            notes(flow).changes.append(f"{name}: {decision.describe()}")
        return decision.preset()

    def decision(self, flow: http.HTTPFlow, rule: ModelRule | None) -> Decision | None:
        """What detection recorded for the flow's model when auto applies to it (never a
        probe: None when nothing is known yet)."""
        name = self._auto_model(flow, rule)
        return self._detector().cached(name) if name is not None else None

    def server(self) -> str | None:
        """The target's server kind as far as it is known now (TARGET_SERVER, the host, the
        start-up probe); None when it is not, or there is no target yet."""
        if self.detector is None and self.router.target is None:
            return None
        return self._detector().server

    async def _wait(
        self,
        flow: http.HTTPFlow,
        detector: Detector,
        name: str,
        hint: str | None,
        headers: Mapping[str, str],
        then: Callable[[], object],
    ) -> None:
        try:
            await detector.decide(name, hint, headers)
        except Exception:  # never leave the flow waiting
            logger.exception("cot-proxy: detecting the family of %s failed", name)
        held = False
        try:
            held = bool(then())
        except Exception:
            logger.exception("cot-proxy: applying the rules to a request for %s failed", name)
        finally:
            if not held:  # else `then` resumes it (the reasoning memory's lookup)
                flow.resume()

    def _auto_model(self, flow: http.HTTPFlow, rule: ModelRule | None) -> str | None:
        """The name the target knows the flow's model by, when its family is to be detected."""
        model = notes(flow).model
        if not model or not self._auto(rule):
            return None
        self._check_rules()
        name = rule.upstream_model_name if rule and rule.upstream_model_name else model
        self._seen[name] = None
        self._seen.move_to_end(name)
        while len(self._seen) > LIST_LIMIT:
            self._seen.popitem(last=False)
        return name

    def _auto(self, rule: ModelRule | None) -> bool:
        if rule is not None and rule.think_family is not None:
            return rule.think_family == AUTO
        return self.think.auto

    def _wanted(self) -> bool:
        return self.think.auto or any(r.think_family == AUTO for r in self.rules())

    def _check_rules(self) -> None:
        rules = self.rules()
        if rules is not self._rules_seen:
            if self._rules_seen is not None and self.detector is not None:
                self.detector.stale()  # reloaded: every family is read again at its next use
            self._rules_seen = rules

    # ---- the detector -----------------------------------------------------------------------

    def _detector(self) -> Detector:
        if self.detector is None:
            target = self.router.target
            assert target is not None
            root = target.path_prefix.removesuffix("/v1")
            self.detector = Detector(
                self._fetcher(target),
                root=root,
                models_path=target.upstream_path("/v1/models"),
                server=ctx.options.target_server,
                host=target.host,
                timeout=PROBE_TIMEOUT,
                ttl=float(ctx.options.detect_ttl_seconds),
            )
        return self.detector

    def _fetcher(self, target: Target) -> Any:
        async def fetch(
            method: str, path: str, body: bytes | None, headers: Mapping[str, str]
        ) -> detect_http.Answer:
            return await detect_http.request(
                target, method, path, body=body, headers=headers, ssl_context=self.tls.ssl_context()
            )

        return fetch

    def _target_headers(self) -> dict[str, str]:
        key = self.gateway.target_key
        return {"authorization": f"Bearer {key}"} if key else {}

    def _client_headers(self, flow: http.HTTPFlow) -> dict[str, str]:
        """The credential the target gets with this request (the gateway has set it by now)."""
        return {n: v for n in SECRET_HEADERS if (v := flow.request.headers.get(n))}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- GET /cot-proxy/models --------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.request.method not in ("GET", "HEAD"):
            return
        if flow.request.path.split("?", 1)[0] != MODELS_PATH:
            return
        notes(flow).local = True  # no other part touches it
        flow.intercept()
        self._spawn(self._answer(flow, self._client_headers(flow)))

    async def _answer(self, flow: http.HTTPFlow, headers: Mapping[str, str]) -> None:
        try:
            body = await self.listing(headers)
            answer_locally(flow, 200, json.dumps(body).encode())
        except Exception as e:  # never leave the flow waiting
            logger.exception("cot-proxy: %s failed", MODELS_PATH)
            answer_locally(flow, 500, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
        finally:
            flow.resume()

    async def listing(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """{"server", "server_why", "models": [...]} for every model seen or listed upstream."""
        detector = self._detector()
        try:
            listed = await asyncio.wait_for(detector.listed(headers), PROBE_TIMEOUT)
        except TimeoutError:
            listed = []
        rules = self.rules()
        names = list(dict.fromkeys([*self._seen, *listed]))[:LIST_LIMIT]
        probes = asyncio.Semaphore(NEW_PROBES)  # the rest wait for their turn, a few at a time
        entries = await asyncio.gather(
            *(self._entry(detector, rules, n, headers, probes) for n in names)
        )
        facts = detector.facts
        return {
            "server": detector.server,
            "server_why": facts.why if facts else "not probed yet",
            "models": list(entries),
        }

    async def _entry(
        self,
        detector: Detector,
        rules: RuleSet,
        name: str,
        headers: Mapping[str, str],
        probes: asyncio.Semaphore,
    ) -> dict[str, Any]:
        rule = rules.match(name)
        named = rule.think_family if rule is not None else None
        if named is None and not self.think.auto:
            named = ctx.options.think_family.strip() or None
        if named is not None and named != AUTO:
            why = (
                f"rule {rule.pattern}" if rule is not None and rule.think_family else "THINK_FAMILY"
            )
            preset = FAMILIES[named]
            return Decision(name, named, "rule", None, preset.implicit_start, why).summary()
        if not self._auto(rule):
            return Decision(name, None, "default", None, False, "no family set").summary()
        decision = detector.cached(name, headers)
        if decision is None:
            async with probes:
                hint = rule.server if rule is not None else None
                decision = await detector.decide(name, hint, headers)
        return decision.summary()
