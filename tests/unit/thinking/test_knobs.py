"""Each knob kind: what it reads, removes and writes, per endpoint; and never raising."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.thinking.knobs import KNOB_NAMES
from cot_proxy.thinking.knobs import KNOBS
from cot_proxy.thinking.levels import LEVELS
from cot_proxy.thinking.levels import Shape

BOOLEAN = Shape(thinks=True)
GPT_OSS = Shape(("low", "medium", "high"), can_off=False, thinks=True)
ANTHROPIC = Shape(("low", "medium", "high", "max"))


def test_the_knob_names_are_the_issues() -> None:
    assert set(KNOB_NAMES) == {
        "enable_thinking",
        "thinking",
        "reasoning",  # Command A Reasoning's template switch
        "reasoning_effort",
        "think",
        "anthropic",
        "no_think_suffix",
        "none",
    }


# ---- chat_template_kwargs.enable_thinking / .thinking -----------------------------------------


@pytest.mark.parametrize("name", ["enable_thinking", "thinking"])
def test_template_flag(name: str) -> None:
    knob = KNOBS[name]
    body: dict[str, Any] = {"chat_template_kwargs": {"keep": 1}}
    assert knob.write(body, "off", BOOLEAN, "chat") == f"chat_template_kwargs.{name}=false"
    assert body == {"chat_template_kwargs": {"keep": 1, name: False}}
    assert knob.read(body, "chat") == "off"
    assert knob.write(body, "high", BOOLEAN, "chat") == f"chat_template_kwargs.{name}=true"
    assert knob.read(body, "chat") == "on"
    assert knob.remove(body, "chat")
    assert body == {"chat_template_kwargs": {"keep": 1}}
    only: dict[str, Any] = {"chat_template_kwargs": {name: True}}
    assert knob.remove(only, "chat") and only == {}  # an empty kwargs object goes too
    assert not knob.remove(only, "chat")


def test_template_flag_leaves_a_kwargs_of_another_type() -> None:
    body = {"chat_template_kwargs": "odd"}
    assert KNOBS["enable_thinking"].write(body, "off", BOOLEAN, "chat") is None
    assert (
        KNOBS["enable_thinking"].read({"chat_template_kwargs": {"enable_thinking": 1}}, None)
        is None
    )
    assert body == {"chat_template_kwargs": "odd"}


# ---- reasoning_effort / reasoning.effort ------------------------------------------------------


def test_effort_reads_ollamas_order() -> None:
    knob = KNOBS["reasoning_effort"]
    assert knob.read({"reasoning_effort": "xhigh"}, "chat") == "max"
    # reasoning.effort first (ollama openai/openai.go FromChatRequest)
    assert knob.read({"reasoning": {"effort": "low"}, "reasoning_effort": "high"}, "chat") == "low"
    assert knob.read({"reasoning": {"enabled": False}}, "chat") == "off"  # OpenRouter
    assert knob.read({"reasoning": {"summary": "auto"}}, "responses") is None
    assert knob.read({"reasoning_effort": "turbo"}, "chat") is None


def test_effort_writes_per_endpoint() -> None:
    knob = KNOBS["reasoning_effort"]
    body: dict[str, Any] = {}
    assert knob.write(body, "off", BOOLEAN, "chat") == "reasoning_effort=none"
    assert body == {"reasoning_effort": "none"}
    responses: dict[str, Any] = {"reasoning": {"summary": "auto"}}
    assert knob.write(responses, "max", GPT_OSS, "responses") == "reasoning.effort=high"
    assert responses == {"reasoning": {"summary": "auto", "effort": "high"}}
    # thinking on at the model's default effort: no field
    assert knob.write({}, "on", GPT_OSS, "chat") is None
    assert knob.write({}, "high", BOOLEAN, "chat") is None
    # gpt-oss cannot stop thinking: the least it can
    assert knob.write(body, "off", GPT_OSS, "chat") == "reasoning_effort=low"


def test_effort_removal_keeps_the_rest_of_reasoning() -> None:
    knob = KNOBS["reasoning_effort"]
    body = {"reasoning_effort": "low", "reasoning": {"effort": "low", "summary": "auto"}}
    assert knob.remove(body, "responses")
    assert body == {"reasoning": {"summary": "auto"}}
    bare = {"reasoning": {"effort": "low"}}
    assert knob.remove(bare, "chat") and bare == {}


# ---- Ollama think -----------------------------------------------------------------------------


def test_think_reads_booleans_and_levels() -> None:
    knob = KNOBS["think"]
    assert knob.read({"think": False}, "ollama_chat") == "off"
    assert knob.read({"think": True}, "ollama_chat") == "on"
    assert knob.read({"think": "high"}, "ollama_generate") == "high"
    assert knob.read({"think": "loud"}, "ollama_chat") is None


def test_think_booleans_only_for_boolean_models() -> None:
    knob = KNOBS["think"]
    body: dict[str, Any] = {}
    assert knob.write(body, "high", BOOLEAN, "ollama_chat") == "think=true"
    assert body == {"think": True}
    assert knob.write(body, "max", GPT_OSS, "ollama_chat") == "think=high"
    assert knob.write(body, "off", BOOLEAN, "ollama_chat") == "think=false"
    assert body == {"think": False}


@pytest.mark.parametrize("thinks", [None, False])
def test_think_true_only_for_a_model_known_to_think(thinks: bool | None) -> None:
    # Ollama answers 400 "does not support thinking" to a truthy think for any other
    knob = KNOBS["think"]
    body: dict[str, Any] = {}
    assert knob.write(body, "on", Shape(thinks=thinks), "ollama_chat") is None
    assert knob.write(body, "low", Shape(thinks=thinks), "ollama_chat") is None
    assert body == {}
    assert knob.write(body, "off", Shape(thinks=thinks), "ollama_chat") == "think=false"


# ---- Anthropic thinking + output_config.effort ------------------------------------------------


def test_anthropic_reads_claude_codes_requests() -> None:
    knob = KNOBS["anthropic"]
    assert knob.read({"thinking": {"type": "adaptive"}}, "messages") == "on"
    both = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}
    assert knob.read(both, "messages") == "max"
    # subagents: an effort beside disabled thinking
    off = {"thinking": {"type": "disabled"}, "output_config": {"effort": "low"}}
    assert knob.read(off, "messages") == "off"
    assert knob.read({"thinking": {"type": "enabled", "budget_tokens": 2048}}, None) == "on"
    assert knob.read({"thinking": "yes"}, "messages") is None


def test_anthropic_writes() -> None:
    knob = KNOBS["anthropic"]
    body: dict[str, Any] = {"output_config": {"effort": "high", "format": {"type": "json"}}}
    assert knob.write(body, "off", ANTHROPIC, "messages") == "thinking.type=disabled"
    assert body == {"thinking": {"type": "disabled"}, "output_config": {"format": {"type": "json"}}}
    assert knob.write(body, "max", ANTHROPIC, "messages") == (
        "thinking.type=adaptive, output_config.effort=max"
    )
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"]["effort"] == "max"
    assert knob.write(body, "on", ANTHROPIC, "messages") == "thinking.type=adaptive"
    assert body == {"thinking": {"type": "adaptive"}, "output_config": {"format": {"type": "json"}}}


def test_anthropic_keeps_the_clients_enabled_thinking_and_budget() -> None:
    knob = KNOBS["anthropic"]
    body: dict[str, Any] = {"thinking": {"type": "enabled", "budget_tokens": 4096}}
    assert knob.write(body, "high", ANTHROPIC, "messages") == (
        "thinking.type=enabled, output_config.effort=high"
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}


def test_anthropic_on_a_boolean_model_says_no_effort() -> None:
    body: dict[str, Any] = {"output_config": {"effort": "max"}}
    assert KNOBS["anthropic"].write(body, "max", BOOLEAN, "messages") == "thinking.type=adaptive"
    assert body == {"thinking": {"type": "adaptive"}}


# ---- /no_think suffix, none ------------------------------------------------------------------


def test_no_think_suffix_only_for_off() -> None:
    knob = KNOBS["no_think_suffix"]
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    assert knob.write(body, "on", BOOLEAN, "chat") is None
    assert knob.write(body, "off", BOOLEAN, "chat") == "/no_think appended"
    assert body == {"messages": [{"role": "user", "content": "hi /no_think"}]}
    assert knob.write(body, "off", BOOLEAN, "chat") is None  # already there
    responses: dict[str, Any] = {"input": "hi"}
    assert knob.write(responses, "off", BOOLEAN, "responses") == "/no_think appended"
    assert responses == {"input": "hi /no_think"}
    assert knob.read(body, "chat") is None and not knob.remove(body, "chat")


def test_none_does_nothing() -> None:
    body = {"think": True}
    knob = KNOBS["none"]
    assert knob.read(body, "ollama_chat") is None
    assert not knob.remove(body, "ollama_chat")
    assert knob.write(body, "on", BOOLEAN, "ollama_chat") is None
    assert body == {"think": True}


# ---- any body ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["chat_template_kwargs", "reasoning_effort", "reasoning", "think", "thinking",
     "output_config", "messages", "input", "prompt", "enable_thinking", "effort", "type"]
)  # fmt: skip
BODIES = st.dictionaries(FIELDS, JSON, max_size=5)
ENDPOINTS = st.sampled_from(
    ["chat", "responses", "messages", "ollama_chat", "ollama_generate", None]
)
SHAPES = st.sampled_from([BOOLEAN, GPT_OSS, ANTHROPIC, Shape(), Shape(can_off=False)])


@settings(max_examples=400, deadline=None)
@given(body=BODIES, endpoint=ENDPOINTS, level=st.sampled_from(LEVELS), shape=SHAPES)
def test_no_body_shape_makes_a_knob_raise(body, endpoint, level, shape) -> None:
    for knob in KNOBS.values():
        copy_ = copy.deepcopy(body)
        knob.read(copy_, endpoint)
        knob.remove(copy_, endpoint)
        knob.write(copy.deepcopy(body), level, shape, endpoint)


@settings(max_examples=300, deadline=None)
@given(body=BODIES, endpoint=ENDPOINTS)
def test_a_knob_that_reads_nothing_removes_nothing_it_does_not_own(body, endpoint) -> None:
    # what no knob reads stays: removal touches only the fields of a knob that said something
    before = copy.deepcopy(body)
    for knob in KNOBS.values():
        if knob.read(body, endpoint) is None:
            trial = copy.deepcopy(body)
            knob.remove(trial, endpoint)
            for key in set(before) - {"chat_template_kwargs", "reasoning", "reasoning_effort",
                                      "think", "thinking", "output_config"}:  # fmt: skip
                assert trial.get(key) == before[key]
