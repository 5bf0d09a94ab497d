"""The in-process store of the reasoning memory: its byte bound (LRU) and its TTL."""

from __future__ import annotations

import asyncio

import pytest

from cot_proxy.memory.store import MemoryStore
from cot_proxy.memory.store import entry_size
from cot_proxy.memory.store import parse_store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_comes_back_until_its_ttl_and_not_after():
    clock = Clock()
    store = MemoryStore(max_bytes=1 << 20, ttl=60, clock=clock)
    store.put({"k": "thought"})
    clock.now += 59.9
    assert store.get(["k", "other"]) == {"k": "thought"}
    clock.now += 0.2
    assert store.get(["k"]) == {}
    assert len(store) == 0 and store.size == 0


def test_the_ttl_counts_from_the_last_write():
    clock = Clock()
    store = MemoryStore(ttl=10, clock=clock)
    store.put({"k": "a"})
    clock.now += 8
    store.put({"k": "b"})
    clock.now += 8
    assert store.get(["k"]) == {"k": "b"}


def test_the_bound_drops_the_least_recently_used_first():
    one = entry_size("k0", "x" * 100)
    store = MemoryStore(max_bytes=3 * one)
    for i in range(3):
        store.put({f"k{i}": "x" * 100})
    assert store.get(["k0"]) == {"k0": "x" * 100}  # k0 is now the most recently used
    store.put({"k3": "x" * 100})
    assert store.get(["k0", "k1", "k2", "k3"]).keys() == {"k0", "k2", "k3"}
    assert store.size <= store.max_bytes


def test_the_size_counts_utf8_bytes_and_stays_exact():
    store = MemoryStore(max_bytes=1 << 20)
    store.put({"a": "é" * 10})
    assert store.size == entry_size("a", "é" * 10) == 1 + 20 + 96
    store.put({"a": "x"})  # replaced: the old size goes
    assert store.size == entry_size("a", "x")


def test_an_entry_bigger_than_the_store_is_not_kept_and_evicts_nothing():
    store = MemoryStore(max_bytes=500)
    store.put({"small": "x"})
    store.put({"big": "x" * 1000})
    assert store.get(["small", "big"]) == {"small": "x"}


def test_many_writes_never_pass_the_bound():
    store = MemoryStore(max_bytes=10_000)
    for i in range(2000):
        store.put({f"key{i}": "y" * (i % 300)})
        assert store.size <= 10_000
    assert store.size == sum(entry_size(k, v) for k, (_, v, _) in store._entries.items())


def test_expire_drops_the_old_entries():
    clock = Clock()
    store = MemoryStore(ttl=5, clock=clock)
    store.put({"a": "1"})
    clock.now += 3
    store.put({"b": "2"})
    clock.now += 3
    assert store.expire() == 1
    assert store.get(["a", "b"]) == {"b": "2"}


def test_aget_and_close():
    store = MemoryStore()
    store.put({"a": "1"})
    assert asyncio.run(store.aget(["a"])) == {"a": "1"}
    asyncio.run(store.close())
    assert len(store) == 0


@pytest.mark.parametrize(
    "value",
    ["", "memory", " memory ", "redis://127.0.0.1:6379/0", "rediss://h:6380", "unix:///tmp/r.sock"],
)
def test_good_store_values(value):
    assert parse_store(value) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://:secret@host", "not one with http"),
        ("127.0.0.1:6379", "no scheme"),
        ("redis://host:notaport", "not a valid URL"),
        ("redis://", "names no host"),
    ],
)
def test_bad_store_values_never_echo_the_url(value, says):
    problem = parse_store(value)
    assert problem is not None and says in problem
    assert "secret" not in problem


def test_expired_entries_leave_memory_at_a_later_write():
    clock = Clock()
    store = MemoryStore(ttl=10, clock=clock)
    store.put({f"old{i}": "x" for i in range(5)})
    clock.now += 30
    store.put({"new": "y"})  # within a minute of the start: no sweep yet
    assert len(store) == 6
    clock.now += 31  # a minute on: every entry but the one written now is past its time
    store.put({"newer": "z"})
    assert len(store) == 1 and store.size == entry_size("newer", "z")
