"""The reasoning memory shared by workers (REASONING_STORE=redis://…), with a real redis-server:
turn 1 and turn 2 served by different workers still restore; Redis stopped mid-run costs one
warning line and no failed request."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from cot_proxy.memory.redis_store import RedisStore

from .conftest import free_port
from .test_reasoning_memory import KEY_A
from .test_reasoning_memory import THOUGHT
from .test_reasoning_memory import TOOLS_CHAT
from .test_reasoning_memory import _chat_body
from .test_reasoning_memory import _turn
from .test_workers import children
from .test_workers import wait_until
from .upstream import Received
from .upstream import Reply

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RULES = "model=mem-*,history_restore=true"
WARNING = "reasoning store (redis)"


class Redis:
    """One redis-server on a free 127.0.0.1 port, nothing saved to disk; stopped by its PID."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not listen")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)


@pytest.fixture
def redis(tmp_path) -> Iterator[Redis]:
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.fail("redis-server is not installed (.ci/run installs it)")
    server = Redis(tmp_path)
    yield server
    server.stop()


async def chat_handler(req: Received, reply: Reply) -> None:
    """Turn 1: reasoning in reasoning_content, a text and a tool call that name the conversation
    (its question's number); turn 2: a plain answer."""
    body = req.json()
    if _turn(body) == 2:
        await reply.json(200, _chat_body("It is sunny.", None))
        return
    n = body["messages"][0]["content"].rsplit("(", 1)[1].rstrip(")")
    call = {
        "id": f"call_{n}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    await reply.json(200, _chat_body(f"Looking up ({n}).", [call], reasoning_content=THOUGHT))


def conversation(proxy, upstream, n: int) -> bool:
    """Turn 1 and turn 2 of conversation `n`, each on a new connection (so the kernel may hand
    them to different workers); whether the upstream got turn 2 with its reasoning back."""
    question: Any = [{"role": "user", "content": f"Weather in Paris? ({n})"}]

    def client() -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY_A, max_retries=0, timeout=20)

    first = client().chat.completions.create(model="mem-w", messages=question, tools=TOOLS_CHAT)
    message = first.choices[0].message
    assert message.tool_calls
    assistant = {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [c.model_dump() for c in message.tool_calls],
    }
    second: Any = [
        *question,
        assistant,
        {"role": "tool", "tool_call_id": f"call_{n}", "content": "sunny"},
    ]
    client().chat.completions.create(model="mem-w", messages=second, tools=TOOLS_CHAT)
    return upstream.received[-1].json()["messages"][1].get("reasoning_content") == THOUGHT


def test_the_redis_store_round_trip_and_ttl(redis):
    async def run() -> None:
        store = RedisStore(redis.url, ttl=1)
        store.put({"cot-proxy:reasoning:t:a": "thought é"})
        await asyncio.gather(*store._pending)
        assert await store.aget(["cot-proxy:reasoning:t:a", "missing"]) == {
            "cot-proxy:reasoning:t:a": "thought é"
        }
        await asyncio.sleep(2.1)
        assert await store.aget(["cot-proxy:reasoning:t:a"]) == {}
        await store.close()

    asyncio.run(run())


def test_two_workers_share_the_memory_in_redis(start_proxy, upstream, redis):
    upstream.reset(chat_handler)
    env = {
        "TARGET_BASE_URL": upstream.url,
        "LLM_PARAMS": RULES,
        "WORKERS": "2",
        "REASONING_STORE": redis.url,
    }
    proxy = start_proxy(env)
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    results = [conversation(proxy, upstream, n) for n in range(10)]
    assert all(results), results
    assert WARNING not in proxy.log()
    # counted over both workers (prometheus_client's multiprocess mode)
    metrics = urllib.request.urlopen(f"{proxy.url}/metrics", timeout=10).read().decode()
    assert 'cot_proxy_history_restored_total{result="hit"} 10.0' in metrics
    assert 'cot_proxy_history_restored_total{result="miss"} 0.0' in metrics


def test_without_redis_two_workers_miss_turns_the_other_served(start_proxy, upstream):
    """The control: the same conversations with a memory per process lose some restores, so
    the test above did have turns served by different workers."""
    upstream.reset(chat_handler)
    env = {"TARGET_BASE_URL": upstream.url, "LLM_PARAMS": RULES, "WORKERS": "2"}
    proxy = start_proxy(env)
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    results = [conversation(proxy, upstream, n) for n in range(10)]
    assert not all(results), results


def test_redis_stopped_mid_run_costs_one_warning_and_no_request(start_proxy, upstream, redis):
    upstream.reset(chat_handler)
    env = {"TARGET_BASE_URL": upstream.url, "LLM_PARAMS": RULES, "REASONING_STORE": redis.url}
    proxy = start_proxy(env)
    proxy.wait_log(f"reasoning memory: shared store redis://127.0.0.1:{redis.port}/0")
    assert conversation(proxy, upstream, 0)
    redis.stop()
    started = time.monotonic()
    for n in range(1, 6):
        assert not conversation(proxy, upstream, n)  # answered, without restore
    assert time.monotonic() - started < 10
    proxy.wait_log(WARNING)
    assert proxy.log().count(WARNING) == 1, proxy.log()
    assert THOUGHT not in proxy.log() and KEY_A not in proxy.log()


def test_the_log_names_the_store_without_its_password():
    from cot_proxy.memory.redis_store import where_of

    assert where_of("redis://:s3cret@cache.local:6380/2") == "redis://cache.local:6380/2"
    assert where_of("rediss://user:s3cret@cache.local") == "rediss://cache.local"
    assert where_of("unix:///run/redis.sock") == "unix:/run/redis.sock"


def test_a_bad_store_url_is_refused_at_start(tmp_path):
    from .conftest import run_entrypoint

    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "REASONING_STORE": "http://:pw@host"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "REASONING_STORE must be memory or a redis://" in result.stdout + result.stderr
    assert "pw" not in result.stdout + result.stderr
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "REASONING_STORE_MAX_MB": "-1"}, tmp_path
    )
    assert result.returncode != 0 and "REASONING_STORE_MAX_MB must be" in result.stderr


def test_a_store_that_does_not_answer_costs_the_budget_once_then_nothing():
    class Silent:
        calls = 0

        async def mget(self, keys: list[str]) -> list[None]:
            Silent.calls += 1
            await asyncio.sleep(10)
            return [None]

    now = [100.0]

    async def run() -> None:
        store = RedisStore("redis://127.0.0.1:1/0", ttl=60, client=Silent(), clock=lambda: now[0])
        started = time.monotonic()
        assert await store.aget(["k"]) == {}
        assert 0.04 < time.monotonic() - started < 1.0  # the 50 ms budget
        started = time.monotonic()
        for _ in range(20):
            assert await store.aget(["k"]) == {}
        assert time.monotonic() - started < 0.05 and Silent.calls == 1  # paused
        now[0] += 2.5
        assert await store.aget(["k"]) == {}
        assert Silent.calls == 2 and store.failures == 2

    asyncio.run(run())
