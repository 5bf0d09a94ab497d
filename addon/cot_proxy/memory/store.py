"""Where the reasoning memory keeps its entries: key → reasoning text, each for a while.

Two stores, one interface (`ReasoningStore`):
- `MemoryStore` (REASONING_STORE=memory, the default): this process only, a bounded LRU
  (REASONING_STORE_MAX_MB of keys and text, the least recently used dropped first), every entry
  for REASONING_STORE_TTL seconds. Synchronous: a lookup costs no wait.
- `cot_proxy.memory.redis_store.RedisStore` (REASONING_STORE=redis://…): shared by every worker and
  replica. Asynchronous, within a time budget.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

ENTRY_OVERHEAD = 96  # bytes counted per entry beyond its key and text (the dict, the tuple)
DEFAULT_MAX_MB = 64
DEFAULT_TTL = 3600
PURGE_EVERY = 60.0  # seconds between sweeps of the expired entries (at a write)


class ReasoningStore(Protocol):
    """What the memory part asks of a store."""

    @property
    def asynchronous(self) -> bool:
        """True: use `aget` (awaited within a budget); False: `get` answers at once."""
        ...

    def get(self, keys: list[str]) -> dict[str, str]: ...

    async def aget(self, keys: list[str]) -> dict[str, str]: ...

    def put(self, items: dict[str, str]) -> None:
        """Remember `items`; never waits, never raises (a shared store writes in the background)."""
        ...

    async def close(self) -> None: ...


def entry_size(key: str, value: str) -> int:
    return len(key) + len(value.encode("utf-8", "surrogatepass")) + ENTRY_OVERHEAD


class MemoryStore:
    """A bounded LRU of this process, each entry kept `ttl` seconds."""

    asynchronous = False

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_MB << 20,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str, int]] = OrderedDict()
        self.size = 0  # bytes counted, `entry_size` of every entry
        self._purged_at = clock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, keys: list[str]) -> dict[str, str]:
        now = self._clock()
        found: dict[str, str] = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            expires, value, size = entry
            if expires <= now:
                del self._entries[key]
                self.size -= size
                continue
            self._entries.move_to_end(key)
            found[key] = value
        return found

    async def aget(self, keys: list[str]) -> dict[str, str]:
        return self.get(keys)

    def put(self, items: dict[str, str]) -> None:
        now = self._clock()
        if now - self._purged_at >= PURGE_EVERY:  # what is past its time leaves memory too
            self._purged_at = now
            self.expire()
        expires = now + self.ttl
        for key, value in items.items():
            size = entry_size(key, value)
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= old[2]
            if size > self.max_bytes:
                continue  # bigger than the whole store: not kept
            self._entries[key] = (expires, value, size)
            self.size += size
        self._evict()

    def _evict(self) -> None:
        while self.size > self.max_bytes and self._entries:
            _, (_, _, size) = self._entries.popitem(last=False)
            self.size -= size

    def expire(self) -> int:
        """Drop the entries past their time (the LRU drops the oldest anyway); how many."""
        now = self._clock()
        gone = [k for k, (expires, _, _) in self._entries.items() if expires <= now]
        for key in gone:
            self.size -= self._entries.pop(key)[2]
        return len(gone)

    async def close(self) -> None:
        self._entries.clear()
        self.size = 0


def parse_store(value: str) -> str | None:
    """REASONING_STORE's problem, or None when it is `memory` (or empty) or a redis:// URL."""
    value = value.strip()
    if value in ("", "memory"):
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        # Not echoed: a URL may hold a password.
        scheme = value.split("://", 1)[0] if "://" in value else "no scheme"
        return f"must be memory or a redis://, rediss:// or unix:// URL, not one with {scheme[:12]}"
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        return f"is not a valid URL ({e})"
    if parts.scheme != "unix" and not parts.hostname:
        return "names no host"
    return None
