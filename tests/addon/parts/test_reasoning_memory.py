"""ReasoningMemory through the whole addon's hooks (no network): the owner taken before the
gateway swaps the credential, nothing added for Anthropic's own API, nothing on saved flows,
the options checked at start."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.addon import CotProxy
from cot_proxy.flow import notes
from cot_proxy.memory.store import MemoryStore
from cot_proxy.parts.reasoning_memory import ReasoningMemory
from tests.addon.flows import chat_flow

THOUGHT = "secret plan of A"


def _answer(flow: http.HTTPFlow, body: dict[str, Any]) -> None:
    flow.response = tutils.tresp(status_code=200, content=json.dumps(body).encode())
    flow.response.headers["content-type"] = "application/json"


def _conversation(
    proxy: CotProxy,
    key: str,
    path: str,
    turn_one: dict[str, Any],
    turn_two: dict[str, Any],
    answer: dict[str, Any],
) -> http.HTTPFlow:
    """Turn 1 answered with `answer`, then turn 2 sent; the flow of turn 2 (request rewritten)."""
    for body in (turn_one, turn_two):
        flow = chat_flow(body, path=path)
        flow.request.headers["authorization"] = f"Bearer {key}"
        proxy.requestheaders(flow)
        proxy.request(flow)
        _answer(flow, answer)
        proxy.responseheaders(flow)
        proxy.response(flow)
    return flow


CHAT_ANSWER = {
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": f"<think>{THOUGHT}</think>Ok.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
        }
    ]
}
TURN_ONE = {"model": "mem", "messages": [{"role": "user", "content": "q"}]}
TURN_TWO = {
    "model": "mem",
    "messages": [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "Ok.",
            "tool_calls": CHAT_ANSWER["choices"][0]["message"]["tool_calls"],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "r"},
    ],
}


async def test_the_owner_is_the_client_credential_not_the_target_key(monkeypatch):
    monkeypatch.setenv("TARGET_API_KEY", "sk-target-shared")
    proxy = CotProxy()
    with taddons.context(proxy) as tctx:
        tctx.configure(
            proxy,
            target_base_url="http://upstream:8080/v1/",
            llm_params="model=mem,history_restore=true",
        )
        a = _conversation(proxy, "key-a", "/v1/chat/completions", TURN_ONE, TURN_TWO, CHAT_ANSWER)
        assert a.request.headers["authorization"] == "Bearer sk-target-shared"
        assert a.request.json()["messages"][1]["reasoning_content"] == THOUGHT
        assert "history: restored 1 turns" in notes(a).change_list()
        b = _conversation(
            proxy,
            "key-b",
            "/v1/chat/completions",
            TURN_ONE,
            TURN_TWO,
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Ok."}}]},
        )
        assert "reasoning_content" not in b.request.json()["messages"][1]


async def test_nothing_is_added_for_anthropics_own_api():
    proxy = CotProxy()
    answer = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": THOUGHT, "signature": "sig"},
            {"type": "text", "text": "Ok."},
        ],
    }
    one: Any = {"model": "mem", "max_tokens": 5, "messages": [{"role": "user", "content": "q"}]}
    two = {
        **one,
        "messages": [
            *one["messages"],
            {"role": "assistant", "content": [{"type": "text", "text": "Ok."}]},
            {"role": "user", "content": "more"},
        ],
    }
    for target, restored in (("https://api.anthropic.com", False), ("http://vllm:8000", True)):
        with taddons.context(proxy) as tctx:
            tctx.configure(
                proxy, target_base_url=target, llm_params="model=mem,history_restore=true"
            )
            flow = _conversation(proxy, "key-a", "/v1/messages", one, two, answer)
            content = flow.request.json()["messages"][1]["content"]
            assert (content[0]["type"] == "thinking") is restored, target


async def test_nothing_of_the_memory_is_on_a_saved_flow():
    proxy = CotProxy()
    with taddons.context(proxy) as tctx:
        tctx.configure(
            proxy,
            target_base_url="http://upstream:8080/v1/",
            llm_params="model=mem,history_restore=true",
        )
        flow = _conversation(
            proxy, "key-a", "/v1/chat/completions", TURN_ONE, TURN_TWO, CHAT_ANSWER
        )
        saved = json.dumps(copy.deepcopy(flow.metadata))
        assert THOUGHT not in saved and "key-a" not in saved
        assert "restored 1 turns" in saved  # the change list is all it says


async def test_without_the_rule_key_nothing_is_kept():
    proxy = CotProxy()
    memory = next(part for part in proxy.parts if isinstance(part, ReasoningMemory))
    with taddons.context(proxy) as tctx:
        tctx.configure(proxy, target_base_url="http://upstream:8080/v1/", llm_params="model=mem")
        flow = _conversation(
            proxy, "key-a", "/v1/chat/completions", TURN_ONE, TURN_TWO, CHAT_ANSWER
        )
        assert "reasoning_content" not in flow.request.json()["messages"][1]
        assert isinstance(memory.store, MemoryStore) and len(memory.store) == 0


@pytest.mark.parametrize(
    ("environ", "options", "says"),
    [
        ({"REASONING_STORE": "mysql://db"}, {}, "REASONING_STORE must be memory or a redis://"),
        ({}, {"reasoning_store_max_mb": 0}, "REASONING_STORE_MAX_MB must be a whole number of MiB"),
        ({}, {"reasoning_store_ttl": 0}, "REASONING_STORE_TTL must be a whole number of seconds"),
    ],
)
def test_bad_settings_are_refused(
    started: None, environ: dict[str, str], options: dict[str, int], says: str
) -> None:
    memory = ReasoningMemory(*_parts(), environ=environ)
    with taddons.context(memory) as tctx:
        with pytest.raises(exceptions.OptionsError, match=says):
            tctx.configure(memory, **(options or {"reasoning_store_ttl": 60}))


def test_redis_url_makes_a_redis_store() -> None:
    memory = ReasoningMemory(*_parts(), environ={"REASONING_STORE": "redis://127.0.0.1:1/0"})
    with taddons.context(memory) as tctx:
        tctx.configure(memory, reasoning_store_ttl=60)
        assert memory.store is not None and memory.store.asynchronous


def _parts() -> tuple[Any, Any, Any]:
    from cot_proxy.parts.router import Router
    from cot_proxy.parts.think_removal import ThinkRemoval
    from cot_proxy.rules import RuleSet

    return ThinkRemoval(), Router(), lambda: RuleSet([])


class SlowSharedStore:
    """An asynchronous store (as Redis is) that answers after a pause."""

    asynchronous = True

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        self.lookups = 0

    def get(self, keys: list[str]) -> dict[str, str]:
        raise AssertionError("a shared store is awaited")

    async def aget(self, keys: list[str]) -> dict[str, str]:
        self.lookups += 1
        await asyncio.sleep(0.01)
        return {k: self.entries[k] for k in keys if k in self.entries}

    def put(self, items: dict[str, str]) -> None:
        self.entries.update(items)

    async def close(self) -> None:
        pass


async def test_a_shared_store_holds_the_flow_until_the_rules_are_applied():
    proxy = CotProxy()
    memory = next(part for part in proxy.parts if isinstance(part, ReasoningMemory))
    store = memory.store = SlowSharedStore()
    with taddons.context(proxy) as tctx:
        tctx.configure(
            proxy,
            target_base_url="http://upstream:8080/v1/",
            llm_params="model=mem,history_restore=true,temperature=0.5",
        )
        one = chat_flow(TURN_ONE, path="/v1/chat/completions")
        proxy.requestheaders(one)
        proxy.request(one)
        assert not one.intercepted  # nothing in its history to look up
        _answer(one, CHAT_ANSWER)
        proxy.responseheaders(one)
        proxy.response(one)
        assert len(store.entries) == 1
        two = chat_flow(TURN_TWO, path="/v1/chat/completions")
        proxy.requestheaders(two)
        proxy.request(two)
        assert two.intercepted and "temperature" not in two.request.json()  # not settled yet
        await asyncio.wait_for(two.wait_for_resume(), 5)
        sent = two.request.json()
        assert sent["messages"][1]["reasoning_content"] == THOUGHT and sent["temperature"] == 0.5
        assert store.lookups == 1
