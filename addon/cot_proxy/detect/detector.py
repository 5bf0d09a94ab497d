"""Detector: asks the target what it is and what each model speaks, once, with a deadline, and
remembers the answers (bounded, for `ttl` seconds).

Pure asyncio, no mitmproxy import: the requests go through a `Fetch` the caller binds to the
target (tests pass a fake). Nothing here raises to the caller: a failed probe is a `Decision`
with `failed` set, from the name table or the default.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from cot_proxy.detect import decision as decide
from cot_proxy.detect import servers as srv
from cot_proxy.detect.decision import Decision
from cot_proxy.detect.http import Answer
from cot_proxy.detect.servers import ServerFacts

logger = logging.getLogger(__name__)

# (method, path, JSON body or None, extra headers) → the answer; raises on no answer.
Fetch = Callable[[str, str, bytes | None, Mapping[str, str]], Awaitable[Answer]]

RETRY_SECONDS = 30.0  # a failed probe is tried again after this long (or the TTL, if shorter)
CACHE_LIMIT = 512  # models remembered; the least recently decided go first
LIST_LIMIT = 256  # models named in GET /cot-proxy/models
_SERVER_PATHS = (
    srv.PROPS,
    srv.OLLAMA_VERSION,
    srv.SGLANG_MODEL_INFO,
    srv.LMSTUDIO_MODELS,
    srv.VLLM_VERSION,
)


@dataclasses.dataclass
class _Entry:
    decision: Decision
    expires: float


class Detector:
    def __init__(
        self,
        fetch: Fetch,
        *,
        root: str = "",
        models_path: str = srv.MODELS,
        server: str = srv.AUTO,
        host: str = "",
        timeout: float = 2.0,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.root = root  # the target's base path without /v1: where /props, /api/* live
        self.models_path = models_path
        self.setting = server
        self.host = host
        self.timeout = timeout
        self.ttl = ttl
        self.clock = clock
        self.facts: ServerFacts | None = None
        if server != srv.AUTO:
            self.facts = ServerFacts(server, "TARGET_SERVER")
        elif host in srv.KNOWN_HOSTS:
            self.facts = ServerFacts(srv.KNOWN_HOSTS[host], f"the target host is {host}")
        self._failed_at: float | None = None
        self._failed_bare = False  # the last server probe went without a credential
        self._server_task: asyncio.Task[ServerFacts] | None = None
        self._cache: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        self._inflight: dict[str, asyncio.Task[Decision]] = {}

    # ---- the server -------------------------------------------------------------------------

    @property
    def server(self) -> str | None:
        return self.facts.kind if self.facts else None

    def start(self, headers: Mapping[str, str]) -> None:
        """Probe the server in the background (needs a running loop); a no-op when known."""
        if self.facts is None or self.facts.kind is None:
            self._probe_server(headers)
        else:
            logger.info("cot-proxy: target server: %s (%s)", self.facts.kind, self.facts.why)

    async def server_facts(self, headers: Mapping[str, str]) -> ServerFacts:
        """The server's facts: known, being probed (joined), or probed now after a failure."""
        if self.facts is not None and self.facts.kind is not None:
            return self.facts
        task = self._server_task
        if task is None:
            recent = self._failed_at is not None and self.clock() - self._failed_at < RETRY_SECONDS
            # a probe that failed without a credential is tried again as soon as there is one
            if recent and not (self._failed_bare and headers):
                assert self.facts is not None
                return self.facts
            task = self._probe_server(headers)
        return await asyncio.shield(task)

    def _probe_server(self, headers: Mapping[str, str]) -> asyncio.Task[ServerFacts]:
        if self._server_task is None:
            self._failed_bare = not headers
            self._server_task = asyncio.get_running_loop().create_task(self._run_server(headers))
        return self._server_task

    async def _run_server(self, headers: Mapping[str, str]) -> ServerFacts:
        try:
            paths = [self.root + p for p in _SERVER_PATHS] + [self.models_path]
            results = await asyncio.gather(*(self._get(p, headers) for p in paths))
            answers = dict(zip((*_SERVER_PATHS, srv.MODELS), results, strict=True))
            facts = srv.fingerprint(answers)
        except Exception as e:  # never let the probe die unseen
            facts = ServerFacts(None, f"probe failed: {type(e).__name__}: {e}")
        finally:
            self._server_task = None
        was_failing = self._failed_at is not None
        if facts.kind is None:
            if not was_failing:
                logger.warning(
                    "cot-proxy: target server not recognised (%s); families by model name "
                    "until a probe succeeds",
                    facts.why,
                )
            self._failed_at = self.clock()
        else:
            self._failed_at = None
            logger.info("cot-proxy: target server: %s (%s)", facts.kind, facts.why)
        self.facts = facts
        return facts

    async def _get(self, path: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        """(status, JSON or None) of one GET; (0, None) when there is no answer in time."""
        try:
            answer = await asyncio.wait_for(self.fetch("GET", path, None, headers), self.timeout)
        except (OSError, ValueError, TimeoutError):
            return 0, None
        return answer.status, answer.json()

    # ---- the models -------------------------------------------------------------------------

    def cached(self, model: str, headers: Mapping[str, str] | None = None) -> Decision | None:
        """The decision known for `model` (a stale one is refreshed in the background)."""
        entry = self._cache.get(model)
        if entry is None:
            return None
        if self.clock() >= entry.expires and model not in self._inflight and headers is not None:
            self._start(model, None, headers)
        return entry.decision

    def stale(self) -> None:
        """Every decision is refreshed at its next use (the rules were reloaded)."""
        for entry in self._cache.values():
            entry.expires = 0.0

    def decisions(self) -> list[Decision]:
        return [entry.decision for entry in self._cache.values()]

    async def decide(self, model: str, hint: str | None, headers: Mapping[str, str]) -> Decision:
        """The decision for `model`, probed now if needed: within the timeout, never raising."""
        task = self._inflight.get(model) or self._start(model, hint, headers)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            decision = decide.failed(model, f"no answer within {self.timeout:g} s", self.server)
            if model not in self._cache:  # used until the probe answers (or is retried)
                self._remember(decision)
            return decision

    def _start(
        self, model: str, hint: str | None, headers: Mapping[str, str]
    ) -> asyncio.Task[Decision]:
        task = asyncio.get_running_loop().create_task(self._run_model(model, hint, headers))
        self._inflight[model] = task
        task.add_done_callback(lambda _: self._inflight.pop(model, None))
        return task

    async def _run_model(
        self, model: str, hint: str | None, headers: Mapping[str, str]
    ) -> Decision:
        try:
            decision = await asyncio.wait_for(self._probe_model(model, hint, headers), self.timeout)
        except TimeoutError:
            decision = decide.failed(model, f"no answer within {self.timeout:g} s", self.server)
        except Exception as e:
            decision = decide.failed(model, f"probe failed: {type(e).__name__}: {e}", self.server)
        self._remember(decision)
        return decision

    def _remember(self, decision: Decision) -> None:
        old = self._cache.pop(decision.model, None)
        life = min(self.ttl, RETRY_SECONDS) if decision.failed else self.ttl
        self._cache[decision.model] = _Entry(decision, self.clock() + life)
        while len(self._cache) > CACHE_LIMIT:
            self._cache.popitem(last=False)
        if old is None or dataclasses.replace(old.decision, why="") != dataclasses.replace(
            decision, why=""
        ):
            log = (
                logger.warning
                if decision.failed and (old is None or not old.decision.failed)
                else logger.info
            )
            log("cot-proxy: model %s: %s", decision.model, decision.describe())

    async def _probe_model(
        self, model: str, hint: str | None, headers: Mapping[str, str]
    ) -> Decision:
        kind = hint if hint and hint != srv.AUTO else (await self.server_facts(headers)).kind
        if kind == "llamacpp":
            status, body = await self._get(
                f"{self.root}{srv.PROPS}?model={urllib.parse.quote(model)}", headers
            )
            template = srv.read_props_template(body) if status == 200 else None
            if template is not None:
                return decide.by_template(model, template, kind)
            return self._unanswered(model, kind, f"GET /props: {status or 'no answer'}")
        if kind == "ollama":
            payload = json.dumps({"model": model}).encode()
            try:
                answer = await self.fetch("POST", self.root + srv.OLLAMA_SHOW, payload, headers)
            except (OSError, ValueError) as e:
                return decide.failed(model, f"POST /api/show: {e}", kind)
            show = srv.read_ollama_show(answer.json()) if answer.status == 200 else None
            if show is not None:
                return decide.by_ollama(model, show, kind)
            return self._unanswered(model, kind, f"POST /api/show: {answer.status}")
        if kind == "sglang":
            status, body = await self._get(self.root + srv.SGLANG_MODEL_INFO, headers)
            info = body if status == 200 and isinstance(body, dict) else {}
            return decide.by_name(
                model, srv.names_in_entry(info, "model_path"), kind, "name not in the table"
            )
        if kind in ("vllm", "lmstudio", "openai", "anthropic", None):
            entry = await self._listed_entry(model, kind, headers)
            names = srv.names_in_entry(entry, "root", "id", "arch")
            if kind is None:  # the server probe failed: asked again after RETRY_SECONDS
                why = self.facts.why if self.facts else "server unknown"
                return dataclasses.replace(decide.by_name(model, names, kind, why), failed=True)
            return decide.by_name(model, names, kind, "name not in the table")
        return decide.by_name(model, [], kind, "name not in the table")

    def _unanswered(self, model: str, kind: str, why: str) -> Decision:
        decision = decide.by_name(model, [], kind, why)
        return decision if decision.source == "name" else dataclasses.replace(decision, failed=True)

    async def _listed_entry(
        self, model: str, kind: str | None, headers: Mapping[str, str]
    ) -> Mapping[str, Any] | None:
        known = self.facts.models if self.facts else {}
        if model in known or kind not in ("vllm", "lmstudio"):
            return known.get(model)
        path = self.root + srv.LMSTUDIO_MODELS if kind == "lmstudio" else self.models_path
        status, body = await self._get(path, headers)
        return srv.model_entries(body).get(model) if status == 200 else None

    async def listed(self, headers: Mapping[str, str]) -> list[str]:
        """The models the upstream lists now (Ollama's /api/tags, else /v1/models), bounded."""
        facts = await self.server_facts(headers)
        if facts.kind == "ollama":
            status, body = await self._get(self.root + "/api/tags", headers)
            models = body.get("models") if status == 200 and isinstance(body, dict) else None
            names = [
                m["name"]
                for m in models or []
                if isinstance(m, dict) and isinstance(m.get("name"), str)
            ]
        else:
            path = self.root + srv.LMSTUDIO_MODELS if facts.kind == "lmstudio" else self.models_path
            status, body = await self._get(path, headers)
            names = list(srv.model_entries(body)) if status == 200 else []
        return names[:LIST_LIMIT]
