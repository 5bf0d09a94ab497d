"""The (server, family) table: each row, the body it compiles to, and its source."""

from __future__ import annotations

from typing import Any

import pytest

from cot_proxy.detect.servers import SERVER_NAMES
from cot_proxy.think_families import FAMILY_NAMES
from cot_proxy.thinking.compile import Setting
from cot_proxy.thinking.compile import Target
from cot_proxy.thinking.compile import compile_thinking
from cot_proxy.thinking.knobs import KNOBS
from cot_proxy.thinking.table import ANY
from cot_proxy.thinking.table import COMPILED
from cot_proxy.thinking.table import FAMILY_SHAPES
from cot_proxy.thinking.table import ROWS
from cot_proxy.thinking.table import knob_family
from cot_proxy.thinking.table import row_for

FAMILIES = {*FAMILY_NAMES, *FAMILY_SHAPES, "deepseek_v3_1"}


def test_every_row_names_a_known_server_family_knob_and_source() -> None:
    for row in ROWS:
        assert row.server == ANY or row.server in SERVER_NAMES
        assert ANY in row.families or set(row.families) <= FAMILIES, row
        assert row.knob in KNOBS
        assert len(row.source) > 20, row
        assert row.endpoints is None or row.endpoints <= COMPILED


def test_knob_families_from_names() -> None:
    assert knob_family("openai/gpt-oss-20b") == "gpt_oss"
    assert knob_family("gpt-oss:120b") == "gpt_oss"
    assert knob_family("deepseek-ai/DeepSeek-V3.1") == "deepseek_v3_1"
    assert knob_family("qwen3:8b", None) is None


MESSAGES = [{"role": "user", "content": "hi"}]


def compiled(
    server: str | None, family: str | None, level: str, endpoint: str, thinks: bool | None = True
) -> dict[str, Any]:
    if endpoint.startswith("ollama") or endpoint in ("chat", "messages"):
        body: dict[str, Any] = {"model": "m", "messages": list(MESSAGES)}
    else:
        body = {"model": "m", "input": "hi"}
    compile_thinking(body, Setting(level, "rule"), Target(server, family, thinks), endpoint)  # type: ignore[arg-type]
    body.pop("model")
    body.pop("messages", None)
    body.pop("input", None)
    return body


# One case per row (and per endpoint where a row's server speaks several dialects): the
# exact fields the upstream gets.
@pytest.mark.parametrize(
    ("server", "family", "level", "endpoint", "fields"),
    [
        # Ollama native: think, booleans for most, levels for gpt-oss
        ("ollama", "qwen3", "off", "ollama_chat", {"think": False}),
        ("ollama", "qwen3", "high", "ollama_chat", {"think": True}),
        ("ollama", "gpt_oss", "max", "ollama_generate", {"think": "high"}),
        ("ollama", "gpt_oss", "off", "ollama_chat", {"think": "low"}),
        # Ollama /v1/messages: Anthropic's thinking; adaptive leaves a model at its default
        ("ollama", "qwen3", "off", "messages", {"thinking": {"type": "disabled"}}),
        ("ollama", "qwen3", "on", "messages", {"thinking": {"type": "adaptive"}}),
        ("ollama", "gpt_oss", "low", "messages",
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
        # Ollama /v1: reasoning_effort, reasoning.effort on Responses
        ("ollama", "qwen3", "off", "chat", {"reasoning_effort": "none"}),
        ("ollama", "qwen3", "on", "chat", {}),
        ("ollama", "gpt_oss", "medium", "responses", {"reasoning": {"effort": "medium"}}),
        # Anthropic
        ("anthropic", None, "max", "messages",
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
        ("anthropic", None, "off", "messages", {"thinking": {"type": "disabled"}}),
        # llama.cpp: enable_thinking for the templates that read it, reasoning_effort else
        ("llamacpp", "gemma4", "on", "chat", {"chat_template_kwargs": {"enable_thinking": True}}),
        ("llamacpp", "qwen3_5", "off", "responses",
         {"chat_template_kwargs": {"enable_thinking": False}}),
        ("llamacpp", "mistral", "off", "chat", {"chat_template_kwargs": {"enable_thinking": False}}),
        ("llamacpp", None, "max", "chat", {"chat_template_kwargs": {"enable_thinking": True}}),
        ("llamacpp", "gpt_oss", "off", "chat", {"reasoning_effort": "low"}),
        # LM Studio: Qwen3's soft switch; reasoning_effort for others
        ("lmstudio", "gpt_oss", "high", "chat", {"reasoning_effort": "high"}),
        # vLLM / SGLang / others: by family
        ("vllm", "qwen3", "off", "chat", {"chat_template_kwargs": {"enable_thinking": False}}),
        ("vllm", "qwen3", "off", "messages", {"chat_template_kwargs": {"enable_thinking": False}}),
        # vLLM's Responses API: reasoning.effort is the switch (no chat_template_kwargs there)
        ("vllm", "gemma4", "off", "responses", {"reasoning": {"effort": "none"}}),
        ("vllm", "gemma4", "on", "responses", {"reasoning": {"effort": "medium"}}),
        ("vllm", "qwen3_5", "max", "responses", {"reasoning": {"effort": "high"}}),
        ("sglang", "glm", "low", "chat", {"chat_template_kwargs": {"enable_thinking": True}}),
        ("vllm", "granite", "on", "chat", {"chat_template_kwargs": {"thinking": True}}),
        ("sglang", "deepseek_v3_1", "off", "chat", {"chat_template_kwargs": {"thinking": False}}),
        ("vllm", "gpt_oss", "max", "chat", {"reasoning_effort": "high"}),
        ("vllm", "gpt_oss", "low", "responses", {"reasoning": {"effort": "low"}}),
        ("vllm", "deepseek_r1", "off", "chat", {}),
        (None, "minimax", "on", "chat", {}),
        # Kimi K2.5, Command A Reasoning, Mistral's effort-switched models
        ("vllm", "kimi_k2", "off", "chat", {"chat_template_kwargs": {"thinking": False}}),
        ("sglang", "command_r", "off", "chat", {"chat_template_kwargs": {"reasoning": False}}),
        (None, "command_r", "high", "chat", {"chat_template_kwargs": {"reasoning": True}}),
        ("vllm", "mistral", "off", "chat", {"reasoning_effort": "none"}),
        ("vllm", "mistral", "on", "chat", {"reasoning_effort": "high"}),
        ("vllm", "mistral", "low", "responses", {"reasoning": {"effort": "high"}}),
    ],
)  # fmt: skip
def test_each_row(server, family, level, endpoint, fields) -> None:
    assert compiled(server, family, level, endpoint) == fields


def test_lmstudio_qwen3_gets_the_soft_switch() -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    compile_thinking(body, Setting("off", "rule"), Target("lmstudio", "qwen3"), "chat")
    assert body == {"messages": [{"role": "user", "content": "hi /no_think"}]}


def test_a_server_own_rows_come_before_the_rows_of_any_server() -> None:
    assert row_for("ollama", "qwen3", "chat").knob == "reasoning_effort"
    assert row_for("vllm", "qwen3", "chat").knob == "enable_thinking"
    assert row_for(None, "qwen3", "chat").knob == "enable_thinking"


def test_no_row_for_an_unknown_model() -> None:
    assert row_for("vllm", None, "chat") is None
    assert row_for("vllm", "hunyuan", "chat") is None  # no source for its switch yet
    assert row_for("vllm", "seed", "chat") is None  # Seed-OSS: a budget, not a switch
    assert row_for("openai", None, "responses") is None


def test_completions_are_not_compiled() -> None:
    # the legacy prompt is sent as written: no template reads a switch there
    body = {"prompt": "hi", "reasoning_effort": "high"}
    assert (
        compile_thinking(body, Setting("off", "rule"), Target("vllm", "qwen3"), "completions") == []
    )
    assert body == {"prompt": "hi", "reasoning_effort": "high"}
