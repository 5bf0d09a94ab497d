"""The reasoning memory in Redis (REASONING_STORE=redis://…): shared by every worker and replica.

Lookups are awaited within `budget` seconds (50 ms) per request; writes go out in the
background after the answer, at most `max_pending` at a time (more are dropped: an answer is
never held for its memory). Redis down or slow costs one warning line per `warn_every` seconds,
never a failed request: the lookup finds nothing and the request goes on as it is; for `PAUSE`
seconds after a failure the store is not asked at all (a Redis that does not answer would
otherwise cost every request the whole budget). Entries are
`SET` with `EX` (the TTL); Redis's own `maxmemory` bounds its size.

The redis package's asyncio client; no mitmproxy import.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

LOOKUP_BUDGET = 0.05  # seconds a request may wait for its lookup
WRITE_TIMEOUT = 2.0
MAX_PENDING = 64
WARN_EVERY = 60.0
PAUSE = 2.0  # seconds without lookups or writes after a failure: no 50 ms wait per request then


class RedisStore:
    asynchronous = True

    def __init__(
        self,
        url: str,
        ttl: float,
        budget: float = LOOKUP_BUDGET,
        max_pending: int = MAX_PENDING,
        warn_every: float = WARN_EVERY,
        clock: Callable[[], float] = time.monotonic,
        client: Any = None,
    ) -> None:
        if client is None:
            import redis.asyncio

            client = redis.asyncio.from_url(
                url, socket_connect_timeout=1.0, socket_timeout=WRITE_TIMEOUT
            )
        self.client = client
        self.where = where_of(url)
        self.ttl = max(1, int(ttl))
        self.budget = budget
        self.max_pending = max_pending
        self.warn_every = warn_every
        self._clock = clock
        self._warned_at: float | None = None
        self._failed_at: float | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.failures = 0

    def _paused(self) -> bool:
        return self._failed_at is not None and self._clock() - self._failed_at < PAUSE

    def _warn(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        now = self._failed_at = self._clock()
        if self._warned_at is not None and now - self._warned_at < self.warn_every:
            return
        self._warned_at = now
        reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)[:200]
        logger.warning(
            "cot-proxy: reasoning store (redis) %s failed (%s); requests go on without restore "
            "(next warning in %ds at the earliest)",
            what,
            reason or type(exc).__name__,
            int(self.warn_every),
        )

    def get(self, keys: list[str]) -> dict[str, str]:
        raise NotImplementedError("RedisStore is asynchronous: use aget")

    async def aget(self, keys: list[str]) -> dict[str, str]:
        if not keys or self._paused():
            return {}
        try:
            values = await asyncio.wait_for(self.client.mget(keys), self.budget)
        except Exception as e:  # down, slow, refused: never the request's failure
            self._warn("lookup", e)
            return {}
        found: dict[str, str] = {}
        for key, value in zip(keys, values, strict=False):
            if isinstance(value, bytes):
                found[key] = value.decode("utf-8", "replace")
            elif isinstance(value, str):
                found[key] = value
        return found

    def put(self, items: dict[str, str]) -> None:
        if not items or self._paused():
            return
        if len(self._pending) >= self.max_pending:
            return  # bounded: this answer is not remembered
        try:
            task = asyncio.get_running_loop().create_task(self._write(items))
        except RuntimeError:  # no loop (tests calling from outside one)
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, items: dict[str, str]) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, ex=self.ttl)
                await asyncio.wait_for(pipe.execute(), WRITE_TIMEOUT)
        except Exception as e:
            self._warn("write", e)

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        try:
            await self.client.aclose()
        except Exception:  # closing a client whose server is gone
            logger.debug("closing the redis client failed", exc_info=True)


def where_of(url: str) -> str:
    """The store's place for the log: scheme, host, port and database, never a password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
