"""Compiling a request's setting: precedence, the knobs removed, the change line."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.thinking.compile import Setting
from cot_proxy.thinking.compile import Target
from cot_proxy.thinking.compile import choose
from cot_proxy.thinking.compile import client_setting
from cot_proxy.thinking.compile import compile_thinking

from .test_knobs import BODIES
from .test_knobs import ENDPOINTS

VLLM_QWEN3 = Target("vllm", "qwen3", True)


def test_header_then_rule_then_the_clients_knob() -> None:
    body = {"reasoning_effort": "high"}
    assert choose("off", "low", body, "chat") == Setting("off", "header")
    assert choose(None, "low", body, "chat") == Setting("low", "rule")
    assert choose(None, None, body, "chat") == Setting("high", "reasoning_effort")
    assert choose(None, None, {}, "chat") is None


def test_claude_codes_adaptive_thinking_comes_first() -> None:
    body = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}, "think": False}
    assert client_setting(body, "messages") == Setting("max", "anthropic")


def test_every_other_knob_is_removed_and_the_line_says_so() -> None:
    body: dict[str, Any] = {
        "reasoning_effort": "high",
        "think": True,
        "thinking": {"type": "adaptive"},
        "chat_template_kwargs": {"enable_thinking": True, "x": 1},
    }
    changes = compile_thinking(body, Setting("off", "header"), VLLM_QWEN3, "chat")
    assert body == {"chat_template_kwargs": {"enable_thinking": False, "x": 1}}
    assert changes == [
        "thinking off → chat_template_kwargs.enable_thinking=false, "
        "removed reasoning_effort, think, anthropic"
    ]


def test_the_clients_knob_is_named_in_the_line() -> None:
    # OpenRouter's reasoning object on chat
    body: dict[str, Any] = {"reasoning": {"effort": "low", "summary": "auto"}}
    changes = compile_thinking(body, client_setting(body, "chat"), VLLM_QWEN3, "chat")  # type: ignore[arg-type]
    assert changes == [
        "thinking low (from reasoning_effort) → chat_template_kwargs.enable_thinking=true, "
        "removed reasoning_effort"
    ]
    assert body == {
        "reasoning": {"summary": "auto"},
        "chat_template_kwargs": {"enable_thinking": True},
    }


def test_nothing_to_say_when_the_body_already_says_it() -> None:
    body = {"chat_template_kwargs": {"enable_thinking": False}}
    assert compile_thinking(body, Setting("off", "rule"), VLLM_QWEN3, "chat") == []
    assert body == {"chat_template_kwargs": {"enable_thinking": False}}


def test_a_model_that_cannot_think_gets_no_knob() -> None:
    body: dict[str, Any] = {"think": True, "messages": []}
    changes = compile_thinking(
        body, Setting("on", "think"), Target("ollama", "qwen3", False), "ollama_chat"
    )
    assert body == {"messages": []}
    assert changes == ["thinking on (from think) → no knob, removed think"]


def test_the_knob_named_by_hand_wins() -> None:
    body: dict[str, Any] = {"reasoning_effort": "low"}
    target = Target("vllm", "qwen3", True, knob="thinking")
    compile_thinking(body, Setting("on", "rule"), target, "chat")
    assert body == {"chat_template_kwargs": {"thinking": True}}


def test_an_unknown_server_leaves_the_clients_knob() -> None:
    # the client may well speak the server's language already
    body: dict[str, Any] = {"reasoning_effort": "none"}
    setting = client_setting(body, "chat")
    assert compile_thinking(body, setting, Target(None, "qwen3"), "chat") == []  # type: ignore[arg-type]
    assert body == {"reasoning_effort": "none"}
    # asked for explicitly, the rows of any server apply
    changes = compile_thinking(body, Setting("off", "rule"), Target(None, "qwen3"), "chat")
    assert body == {"chat_template_kwargs": {"enable_thinking": False}}
    assert changes[0].startswith("thinking off → chat_template_kwargs.enable_thinking=false")


def test_no_knob_known_is_said_only_when_asked_for() -> None:
    body = {"reasoning_effort": "high"}
    assert compile_thinking(body, Setting("off", "header"), Target("vllm", None), "chat") == [
        "thinking off: no knob known for unknown family on vllm"
    ]
    assert (
        compile_thinking(body, Setting("high", "reasoning_effort"), Target("vllm", None), "chat")
        == []
    )
    assert body == {"reasoning_effort": "high"}


@settings(max_examples=400, deadline=None)
@given(body=BODIES, endpoint=ENDPOINTS, server=st.sampled_from(["vllm", "ollama", "anthropic", "llamacpp", None]),
       family=st.sampled_from(["qwen3", "gpt_oss", "granite", None]), thinks=st.sampled_from([True, False, None]))  # fmt: skip
def test_any_body_compiles_without_raising_and_unread_bodies_stay(
    body, endpoint, server, family, thinks
) -> None:
    target = Target(server, family, thinks)
    setting = client_setting(body, endpoint)
    before = copy.deepcopy(body)
    if setting is None:
        # no knob the client sent says anything: nothing to compile, the body stays
        assert choose(None, None, body, endpoint) is None
        compile_thinking(body, Setting("on", "rule"), target, endpoint)
        return
    changes = compile_thinking(body, setting, target, endpoint)
    if not changes:
        assert body == before
