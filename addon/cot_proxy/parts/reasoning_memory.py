"""ReasoningMemory: remembers the reasoning of each answer delivered for a model whose rule has
`history_restore: true`, and puts it back into later requests whose history lacks it.

Per flow: the owner digest of the client's credential, taken at the request headers (before the
gateway may replace the credential: `parts/gateway.py`); at the request, the history's turns that
lack reasoning are looked up (`cot_proxy.memory.restore`) and put back in the request rules'
`_settle`, just before the rule's history rewrite (`apply`); at the response, the answer's turns
(`cot_proxy.memory.recall`, fed by the think removal's filters) are written to the store.
A shared store (Redis) is awaited with the flow intercepted, within its lookup budget; its
writes go out in the background. Nothing of it is logged, counted by label or kept on the flow's
notes (which a saved flow keeps): the text and the keys live in this part's per-flow maps only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import notes
from cot_proxy.history_presets import RESTORES
from cot_proxy.memory.keys import entry_key
from cot_proxy.memory.keys import owner_of
from cot_proxy.memory.recall import ENDPOINTS
from cot_proxy.memory.recall import Recall
from cot_proxy.memory.restore import Turn
from cot_proxy.memory.restore import lacking
from cot_proxy.memory.store import MemoryStore
from cot_proxy.memory.store import ReasoningStore
from cot_proxy.memory.store import parse_store
from cot_proxy.options import declare
from cot_proxy.options import in_range
from cot_proxy.options import reject
from cot_proxy.parts.router import Router
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.series import Series
from cot_proxy.think import ThinkConfig
from cot_proxy.think_families import ThinkFamily

logger = logging.getLogger(__name__)

OPTIONS = ("reasoning_store_max_mb", "reasoning_store_ttl")
# Anthropic's own API verifies thinking signatures: nothing is added to a history sent there.
ANTHROPIC_HOSTS = ("api.anthropic.com",)

Found = tuple[list[Turn], list[str], dict[str, str]]


class ReasoningMemory:
    def __init__(
        self,
        think: ThinkRemoval,
        router: Router,
        rules: Callable[[], RuleSet],
        series: Series | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # REASONING_STORE is read from the environment, never from argv: a URL may hold a password.
        self.environ = os.environ if environ is None else environ
        self.think = think
        self.router = router
        self.rules = rules
        self.series = series
        # The default until configure says otherwise (REASONING_STORE, its size and TTL).
        self.store: ReasoningStore | None = MemoryStore()
        self._rules_seen: RuleSet | None = None
        self._active = False  # some rule has history_restore: true
        # Per flow, never on its notes: (owner digest, model); the lookups; the answer's recall.
        self._owners: weakref.WeakKeyDictionary[http.HTTPFlow, str] = weakref.WeakKeyDictionary()
        self._who: weakref.WeakKeyDictionary[http.HTTPFlow, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._found: weakref.WeakKeyDictionary[http.HTTPFlow, Found] = weakref.WeakKeyDictionary()
        self._recalls: weakref.WeakKeyDictionary[http.HTTPFlow, Recall] = (
            weakref.WeakKeyDictionary()
        )
        self._tasks: set[asyncio.Task[None]] = set()
        think.recall_for = self.recall_for

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, *OPTIONS)

    def configure(self, updated: set[str]) -> None:
        if not updated & set(OPTIONS) or not in_range(updated, *OPTIONS):
            return
        url = self.environ.get("REASONING_STORE", "").strip()
        size, ttl = ctx.options.reasoning_store_max_mb, ctx.options.reasoning_store_ttl
        problem = parse_store(url)
        if problem is not None:
            reject(f"REASONING_STORE {problem}")
        elif url in ("", "memory"):
            self._replace(MemoryStore(size << 20, ttl))
        else:
            from cot_proxy.memory.redis_store import RedisStore

            self._replace(RedisStore(url, ttl))

    def _replace(self, store: ReasoningStore) -> None:
        old, self.store = self.store, store
        if old is not None:
            self._spawn(old.close())

    def running(self) -> None:
        where = getattr(self.store, "where", None)
        if where is not None:
            logger.info("reasoning memory: shared store %s (history_restore)", where)

    async def done(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.store is not None:
            await self.store.close()

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop yet (start-up): nothing to close
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wanted(self) -> bool:
        """Whether any rule or family preset wants the memory (`wants`, `history_presets`): then
        every request's owner is taken at its request headers, before the gateway may replace
        the credential."""
        rules = self.rules()
        if rules is not self._rules_seen:
            self._rules_seen = rules
            self._active = RESTORES or any(self.wants(rule) for rule in _with_variants(rules))
        return self._active

    # -- request ------------------------------------------------------------------------------

    @staticmethod
    def wants(rule: ModelRule | None) -> bool:
        """Whether requests under `rule` are remembered and restored (`history_restore`)."""
        return rule is not None and bool(rule.history_restore)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self._wanted():
            self._owners[flow] = owner_of(flow.request.headers)

    def hold(
        self,
        flow: http.HTTPFlow,
        body: dict[str, Any],
        rule: ModelRule | None,
        then: Callable[[], object],
        detected: ThinkFamily | None = None,
        restore: bool | None = None,
    ) -> bool:
        """Called by the request rules once the rule and the model's family are known. Without
        history_restore (the rule's, or `restore` as the family preset says): False, nothing done. Else the flow's owner and model are noted for its
        answer, and the history's turns without reasoning looked up; a shared store is awaited
        with the flow intercepted (True: `then` runs after, and the flow is resumed)."""
        store = self.store
        wanted = self.wants(rule) if restore is None else restore  # a family preset's
        if not wanted or store is None:
            return False
        record = notes(flow)
        if record.endpoint not in ENDPOINTS or not record.model or self._anthropic(record):
            return False
        owner = self._owners.pop(flow, None)
        if owner is None:  # not taken at the request headers: the gateway may have replaced it
            return False
        self._who[flow] = (owner, record.model)
        config = self.think.config_for(rule, detected)
        starts = tuple(dict.fromkeys((*(start for start, _ in config.tags), "<think>")))
        turns = lacking(body, record.endpoint, starts, config.reasoning_field)
        if not turns:
            return False
        keys = [entry_key(owner, record.model, turn.print) for turn in turns]
        if not store.asynchronous:
            self._found[flow] = (turns, keys, store.get(keys))
            return False
        flow.intercept()
        self._spawn(self._lookup(flow, store, turns, keys, then))
        return True

    async def _lookup(
        self,
        flow: http.HTTPFlow,
        store: ReasoningStore,
        turns: list[Turn],
        keys: list[str],
        then: Callable[[], object],
    ) -> None:
        try:
            try:
                found = await store.aget(keys)  # within the store's budget, never raises
            except Exception:
                logger.exception("cot-proxy: the reasoning memory lookup failed")
                found = {}
            self._found[flow] = (turns, keys, found)
            then()
        except Exception:
            logger.exception("cot-proxy: applying the rules after the reasoning lookup failed")
        finally:
            flow.resume()

    def _anthropic(self, record: Any) -> bool:
        target = self.router.target
        return (
            record.endpoint == "messages"
            and target is not None
            and (target.host.lower() in ANTHROPIC_HOSTS)
        )

    def apply(self, flow: http.HTTPFlow) -> list[str]:
        """Put the reasoning found back into the request body (before the rule's history
        rewrite); what changed, for the log line."""
        found = self._found.pop(flow, None)
        if found is None:
            return []
        turns, keys, values = found
        hits = 0
        for turn, key in zip(turns, keys, strict=True):
            reasoning = values.get(key)
            if reasoning:
                turn.put(reasoning)
                hits += 1
        if self.series is not None:
            if hits:
                self.series.history_restored.labels("hit").inc(hits)
            if len(turns) > hits:
                self.series.history_restored.labels("miss").inc(len(turns) - hits)
        return [f"history: restored {hits} turns"] if hits else []

    # -- response -----------------------------------------------------------------------------

    def recall_for(self, flow: http.HTTPFlow, config: ThinkConfig) -> Recall | None:
        """The recall the think removal feeds for this answer; None when nothing is remembered."""
        who = self._who.get(flow)
        if who is None:
            return None
        recall = self._recalls[flow] = Recall(notes(flow).endpoint or "", config.mode)
        return recall

    def response(self, flow: http.HTTPFlow) -> None:
        recall = self._recalls.pop(flow, None)
        who = self._who.pop(flow, None)
        response = flow.response
        if recall is None or who is None or self.store is None or response is None:
            return
        stream = notes(flow).stream
        if response.status_code >= 400 or (
            stream is not None and (stream.cut or stream.passthrough or not stream.done_sent)
        ):
            return  # not a whole answer: the client cannot send it back as it was
        owner, model = who
        items = {entry_key(owner, model, turn): text for turn, text in recall.turns()}
        if items:
            self.store.put(items)

    def error(self, flow: http.HTTPFlow) -> None:
        for held in (self._owners, self._who, self._found, self._recalls):
            held.pop(flow, None)


def _with_variants(rules: RuleSet) -> list[ModelRule]:
    every: list[ModelRule] = []
    for rule in rules:
        every.append(rule)
        every.extend(rule.variants.values())
    return every
